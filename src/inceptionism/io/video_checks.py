"""Checks on an untrusted video file that FFmpeg itself does not make: a file cut short that
still plays, a tiny file that decodes to enormous frames, a frame rate no camera records at,
and an output whose frames would not decode.

Each reads only bytes (or stream headers) of the file it is given; nothing in a file is ever
taken as a path to open.
"""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path
from typing import Any

from inceptionism.errors import DreamError
from inceptionism.io.images import MAX_PIXELS

#: Input frame rates outside these are refused (``fps_out`` resamples such a clip). 960 fps is
#: the fastest consumer slow motion (phones, compact cameras) and is let in; above 1000 a rate is
#: a broken or hostile header, and its time base is so fine that an encoder's reordered frames
#: get one decode timestamp (a 3-frame clip at 100000 fps gave an MP4 with 0 decodable frames).
#: Below one frame in 100 s a "video" is a slideshow its header got wrong, and its frame count
#: from the duration is off by orders of magnitude.
MAX_RATE = Fraction(1000)
MIN_RATE = Fraction(1, 100)
#: Top-level boxes read at most (a real file has a handful; a fragmented one two a fragment).
_MAX_BOXES = 1_000_000


def check_whole(path: Path, format_name: str) -> None:
    """Refuse a Matroska or MP4 file cut short: FFmpeg plays it to the cut without a word."""
    cut = 0
    if "matroska" in format_name:
        cut = matroska_missing_bytes(path)
    elif "mp4" in format_name or "mov" in format_name:
        cut = mp4_missing_bytes(path)
    if cut:
        raise DreamError(f"{path} is truncated: it ends {cut} bytes before its declared end")


_EBML_HEADER, _SEGMENT = 0x1A45DFA3, 0x18538067


def _vint(data: bytes, at: int, marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at ``at``: (value, length); ``marker`` keeps the length
    bits (element IDs keep them, sizes do not). Value -1: "unknown size" (all ones)."""
    first = data[at]
    length = 9 - first.bit_length()
    if not 1 <= length <= 8 or at + length > len(data):
        raise ValueError("not EBML")
    value = int.from_bytes(data[at : at + length], "big")
    if marker:
        return value, length
    value &= (1 << (7 * length)) - 1
    return (-1 if value == (1 << (7 * length)) - 1 else value), length


def matroska_missing_bytes(path: Path) -> int:
    """How many bytes a Matroska/WebM file lacks of the size its Segment declares (0: whole,
    or a size it cannot tell, as a live recording's "unknown" one). FFmpeg decodes a file cut
    short (a partial download) up to the cut without an error; the size in its header, which
    the muxer writes once the file is complete, tells."""
    with open(path, "rb") as f:
        head = f.read(4096)
    try:
        at = 0
        ident, n = _vint(head, at, True)
        if ident != _EBML_HEADER:
            return 0
        size, m = _vint(head, at + n, False)
        at += n + m + size
        ident, n = _vint(head, at, True)
        if ident != _SEGMENT:
            return 0
        size, m = _vint(head, at + n, False)
    except (ValueError, IndexError):
        return 0
    if size < 0:
        return 0
    return max(0, at + n + m + size - path.stat().st_size)


def mp4_missing_bytes(path: Path) -> int:
    """How many bytes an MP4/MOV file lacks of what its top-level boxes declare (0: whole, or
    a size it cannot tell). A file cut short (a partial download of a "fast start" MP4, whose
    index comes first) plays up to the cut without an error: the size of its ``mdat`` box, at
    its head, tells."""
    size = path.stat().st_size
    at = 0
    with open(path, "rb") as f:
        for _ in range(_MAX_BOXES):
            if at >= size:
                return at - size
            f.seek(at)
            head = f.read(16)
            if len(head) < 8:
                return at + 8 - size
            box = struct.unpack(">I", head[:4])[0]
            if box == 1:  # a 64-bit size follows the type
                if len(head) < 16:
                    return at + 16 - size
                box = struct.unpack(">Q", head[8:16])[0]
            elif box == 0:  # "to the end of the file": nothing to compare
                return 0
            if box < 8:
                return 0  # not boxes as we know them: the decoder will judge
            at += box
    return 0


def check_declared_size(path: Path, width: int, height: int) -> None:
    """Refuse frames over the image pixel cap from the stream's header, before a frame is
    decoded: a 413 KB H.264 file can decode to 12000x12000 frames (1.9 GB a dream)."""
    if width * height > MAX_PIXELS:
        raise DreamError(
            f"{path} has {width}x{height} frames ({width * height / 1e6:.0f} megapixels), "
            f"over the {MAX_PIXELS // 1_000_000} megapixel limit (possible decompression bomb)",
            hint="shrink the video before dreaming",
        )


def decoder_options() -> dict[str, str]:
    """FFmpeg decoder options that make it refuse frames over the pixel cap itself (a stream
    can change size midway, after the header was checked)."""
    return {"max_pixels": str(MAX_PIXELS)}


def check_rate(path: Path, rate: Fraction) -> None:
    """Refuse a declared frame rate outside ``MIN_RATE``..``MAX_RATE`` (see there why)."""
    if not MIN_RATE <= rate <= MAX_RATE:
        raise DreamError(
            f"{path} declares {float(rate):g} frames a second, outside the "
            f"{float(MIN_RATE):g} to {MAX_RATE} a video can have",
            hint="resample it with {fps_out:RATE}",
        )


def decodable_frames(av: Any, path: Path) -> int:
    """Frames a player gets from the video file at ``path`` (0 if it does not open)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return 0
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            return sum(1 for _ in container.decode(stream))
    except av.error.FFmpegError:
        return 0
