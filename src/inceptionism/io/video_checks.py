"""Checks on an untrusted video file that FFmpeg itself does not make: a file cut short that
still plays, a tiny file that decodes to enormous frames, a frame rate no camera records at,
and an output whose frames would not decode.

Each reads only bytes (or stream headers) of the file it is given; nothing in a file is ever
taken as a path to open.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

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
#: An index (``moov``) larger than this is left to the decoder (a 2-hour film's is ~10 MiB).
_MAX_MOOV = 64 << 20
#: Boxes read inside one box of the index at most (a real ``moov`` holds a few dozen).
_MAX_CHILDREN = 10_000
#: Offsets and sizes past this are nonsense (and would overflow 64-bit sums).
_MAX_OFFSET = 1 << 60


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
    its head, tells; for an ``mdat`` that runs "to the end of the file" (size 0), the end of
    the frame data the sample tables in ``moov`` declare."""
    size = path.stat().st_size
    at = 0
    moov: tuple[int, int] | None = None
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
            if box == 0:  # "to the end of the file": the index (moov, before it) tells where
                return _sample_data_missing(f, moov, size)
            if box < 8:
                return 0  # not boxes as we know them: the decoder will judge
            if head[4:8] == b"moov":
                moov = (at, box)
            at += box
    return 0


def _sample_data_missing(f: BinaryIO, moov: tuple[int, int] | None, file_size: int) -> int:
    """How many bytes the file lacks of the end of the frame data its ``moov`` declares (0:
    none, no index, or one that makes no sense: left to the decoder). For an ``mdat`` that
    runs "to the end of the file", whose size cannot tell a cut."""
    if moov is None or moov[1] > _MAX_MOOV:
        return 0
    f.seek(moov[0])
    try:
        end = declared_data_end(f.read(moov[1]))
    except (ValueError, IndexError, OverflowError, struct.error):
        return 0
    return max(0, end - file_size)


def _children(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """The boxes in ``data[start:end]``: (type, body start, body end). ValueError on sizes
    that do not fit their parent, or too many boxes."""
    at = start
    for _ in range(_MAX_CHILDREN):
        if at == end:
            return
        if at + 8 > end:
            raise ValueError("box head past its parent")
        size, kind = struct.unpack_from(">I4s", data, at)
        head = 8
        if size == 1:
            if at + 16 > end:
                raise ValueError("box head past its parent")
            size, head = struct.unpack_from(">Q", data, at + 8)[0], 16
        elif size == 0:
            size = end - at
        if size < head or at + size > end:
            raise ValueError("box size does not fit")
        yield kind, at + head, at + size
        at += size
    raise ValueError("too many boxes")


def _child(data: bytes, span: tuple[int, int], kind: bytes) -> tuple[int, int] | None:
    """The body span of the first box of type ``kind`` in ``span``, if any."""
    for found, start, end in _children(data, *span):
        if found == kind:
            return start, end
    return None


def declared_data_end(moov: bytes) -> int:
    """The end of the frame data the sample tables of an MP4 ``moov`` box (with its head)
    declare: the largest chunk offset plus the sizes of its samples, over all tracks. Bytes
    only; ValueError on tables that make no sense."""
    end = 0
    for kind, start, stop in _children(moov, 0, len(moov)):
        if kind != b"moov":
            raise ValueError("not a moov box")
        for track, t_start, t_stop in _children(moov, start, stop):
            if track != b"trak":
                continue
            span: tuple[int, int] | None = (t_start, t_stop)
            for kind in (b"mdia", b"minf", b"stbl"):
                span = _child(moov, span, kind) if span else None
            if span:
                end = max(end, _track_data_end(moov, span))
    return end


def _table(
    data: bytes, span: tuple[int, int] | None, skip: int, dtype: str, width: int
) -> np.ndarray:
    """The entries of a full box's table (after its version and flags, ``skip`` bytes and a
    32-bit count): ``width`` items of ``dtype`` each, as an int64 array (count x width)."""
    if span is None:
        raise ValueError("sample table missing")
    start = span[0] + 4 + skip
    if start + 4 > span[1]:
        raise ValueError("table head past its box")
    count = struct.unpack_from(">I", data, start)[0]
    items = np.dtype(dtype)
    if start + 4 + count * width * items.itemsize > span[1]:
        raise ValueError("table count past its box")
    table = np.frombuffer(data, dtype=items, count=count * width, offset=start + 4)
    if table.size and int(table.max()) >= _MAX_OFFSET:
        raise ValueError("offset or size past any file")
    return table.astype(np.int64).reshape(count, width)


def _track_data_end(data: bytes, stbl: tuple[int, int]) -> int:
    """The end of one track's frame data, from its ``stco``/``co64``, ``stsc`` and ``stsz``."""
    boxes = {kind: (start, end) for kind, start, end in _children(data, *stbl)}
    if b"co64" in boxes:
        offsets = _table(data, boxes[b"co64"], 0, ">u8", 1)[:, 0]
    else:
        offsets = _table(data, boxes.get(b"stco"), 0, ">u4", 1)[:, 0]
    if not offsets.size:
        return 0  # no samples here (a fragmented file's moov): nothing declared
    runs = _table(data, boxes.get(b"stsc"), 0, ">u4", 3)
    first, per_chunk = runs[:, 0], runs[:, 1]
    if not first.size or first[0] != 1 or np.any(np.diff(first) <= 0) or first[-1] > offsets.size:
        raise ValueError("sample-to-chunk table makes no sense")
    samples = np.repeat(per_chunk, np.diff(np.append(first, offsets.size + 1)))
    after = np.cumsum(samples)  # the index of the sample after each chunk's last
    stsz = boxes.get(b"stsz")
    if stsz is None or stsz[0] + 12 > stsz[1]:
        raise ValueError("sample size table missing")
    fixed, count = struct.unpack_from(">II", data, stsz[0] + 4)
    if int(after[-1]) > count or int(after[-1]) * fixed >= _MAX_OFFSET:
        raise ValueError("chunks hold more samples than the track has")
    if fixed:
        chunk_bytes = samples * fixed
    else:
        sizes = _table(data, stsz, 4, ">u4", 1)[:, 0]
        total = np.concatenate(([0], np.cumsum(sizes)))
        chunk_bytes = total[after] - total[after - samples]
    return int((offsets + chunk_bytes).max())


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
