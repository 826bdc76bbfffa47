"""What a live dream reads: a camera (OpenCV), a video file played at its own rate (a stand-in
for a camera), or a stream URL that FFmpeg reads (rtsp, http, ...).

Trust: the SOURCE argument is the user's (command line); what comes out of a file or a stream
is not: a file goes through ``io.video.open_clip``'s checks, a stream's decoder gets the same
size caps, and every frame is shrunk to ``max_side`` before anything else sees it.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from inceptionism.errors import DreamError
from inceptionism.extras import require_extra
from inceptionism.io import video as vio
from inceptionism.io import video_checks

#: URL schemes handed to FFmpeg; any other ``scheme://`` is refused (no file:, no concat:).
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt")
STREAM_TIMEOUT_US = 5_000_000  # a stream that says nothing for 5 s is a bad source
CAMERA_RATE = Fraction(30)  # when the camera does not say
#: What FFmpeg may open for a stream, the stream's own references included (an HLS playlist
#: naming file: segments): network protocols only, never a local path.
STREAM_PROTOCOLS = "http,https,tls,tcp,udp,rtp,rtsp,rtsps,rtmp,rtmps,rtmpt,srt,crypto,httpproxy"


@dataclass(frozen=True)
class Captured:
    """One source frame as the grabber took it: ``t`` seconds of source time since the first
    frame, ``wall`` the ``time.perf_counter()`` when it was taken (for the latency)."""

    index: int
    rgb: np.ndarray  # (H, W, 3) uint8, at most max_side, even sides
    t: float
    wall: float


def fit(rgb: np.ndarray, max_side: int | None) -> np.ndarray:
    """``rgb`` shrunk to ``max_side`` on its long side and cropped to even sides (H.264)."""
    h, w = rgb.shape[:2]
    if max_side is not None and max(h, w) > max_side:
        cv2 = require_extra("cv2", "video", "live dreaming")
        s = max_side / max(h, w)
        size = (max(2, round(w * s)), max(2, round(h * s)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        h, w = rgb.shape[:2]
    return np.ascontiguousarray(rgb[: h - h % 2, : w - w % 2])


class Source:
    """A live source: its name, frame size and rate, the file whose sound a recording copies
    (None: no sound), and ``frames()``: (pixels, source seconds) as fast as they come."""

    name: str = ""
    width: int = 0
    height: int = 0
    rate: Fraction = CAMERA_RATE
    audio_from: Path | None = None
    paced: bool = False  # a file: the grabber plays it at its own rate

    def frames(self) -> Iterator[tuple[np.ndarray, float]]:
        raise NotImplementedError

    def close(self) -> None:
        """Let go of the device or connection."""


class FileSource(Source):
    """A video file, checked as ``deepdream video`` checks its input, played in real time."""

    paced = True

    def __init__(self, path: Path, max_side: int | None) -> None:
        self.clip = vio.open_clip(path, max_side=max_side, even=True)
        self.name = str(path)
        self.width, self.height, self.rate = self.clip.width, self.clip.height, self.clip.rate
        self.audio_from = path if self.clip.audio else None

    def frames(self) -> Iterator[tuple[np.ndarray, float]]:
        tb, start = self.clip.time_base, self.clip.start
        for f in self.clip.frames():
            yield f.rgb, float(f.pts * tb) - start


class StreamSource(Source):
    """A stream URL read by FFmpeg; its frames are timed by their own timestamps."""

    def __init__(self, url: str, max_side: int | None) -> None:
        av = vio.require_av()
        self.name, self.max_side = url, max_side
        options = {
            **video_checks.decoder_options(),
            "rw_timeout": str(STREAM_TIMEOUT_US),
            "protocol_whitelist": STREAM_PROTOCOLS,
        }
        if url.startswith("rtsp"):
            options["timeout"] = str(STREAM_TIMEOUT_US)
        try:
            self.container = av.open(url, options=options, timeout=STREAM_TIMEOUT_US / 1e6)
            if not self.container.streams.video:
                raise DreamError(f"stream {url} has no video")
            self.stream = self.container.streams.video[0]
            self.stream.codec_context.options = video_checks.decoder_options()
            self._decoded = self.container.decode(self.stream)
            first = next(self._decoded, None)
        except av.error.FFmpegError as e:
            self.close()
            raise DreamError(f"stream {url} cannot be read ({vio.av_reason(e)})") from None
        if first is None:
            self.close()
            raise DreamError(f"stream {url} has no frames")
        self._first = first
        rgb = fit(first.to_ndarray(format="rgb24"), max_side)
        self.height, self.width = rgb.shape[:2]
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.rate = Fraction(rate) if rate else CAMERA_RATE

    def frames(self) -> Iterator[tuple[np.ndarray, float]]:
        av = vio.require_av()
        t0 = None
        frame = self._first
        try:
            while frame is not None:
                t = frame.time if frame.time is not None else time.perf_counter()
                t0 = t if t0 is None else t0
                yield fit(frame.to_ndarray(format="rgb24"), self.max_side), t - t0
                frame = next(self._decoded, None)
        except av.error.FFmpegError as e:
            raise DreamError(f"stream {self.name} broke off ({vio.av_reason(e)})") from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.container.close()


class CameraSource(Source):
    """A camera by its index, through OpenCV."""

    def __init__(self, index: int, max_side: int | None) -> None:
        cv2 = require_extra("cv2", "video", "live dreaming")
        self.name, self.max_side = f"camera {index}", max_side
        self.capture: Any = cv2.VideoCapture(index)
        ok, first = self.capture.read() if self.capture.isOpened() else (False, None)
        if not ok or first is None:
            self.close()
            raise DreamError(f"camera {index} cannot be opened (none there, or it is in use)")
        self._first = first
        self.height, self.width = fit(first[..., ::-1], max_side).shape[:2]
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.rate = Fraction(fps).limit_denominator(1000) if 0 < fps <= 1000 else CAMERA_RATE

    def frames(self) -> Iterator[tuple[np.ndarray, float]]:
        t0 = time.perf_counter()
        bgr = self._first
        while bgr is not None:
            yield fit(bgr[..., ::-1], self.max_side), time.perf_counter() - t0
            ok, bgr = self.capture.read()
            if not ok:
                return

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.capture.release()


def open_source(spec: str | int, max_side: int | None) -> Source:
    """The source ``spec`` names: a camera index, a stream URL, or a video file; a bad one gets
    a :class:`DreamError` before anything is written."""
    text = str(spec).strip()
    if re.fullmatch(r"\d{1,3}", text):
        return CameraSource(int(text), max_side)
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", text)
    if scheme:
        if scheme.group(1).lower() not in STREAM_SCHEMES:
            raise DreamError(
                f"source {text}: {scheme.group(1)}:// is not a stream this reads "
                f"(use {', '.join(STREAM_SCHEMES)})"
            )
        return StreamSource(text, max_side)
    path = Path(text)
    if path.is_dir():
        raise DreamError(f"source {path} is a folder: give a camera index, a video or a URL")
    return FileSource(path, max_side)
