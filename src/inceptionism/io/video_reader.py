"""Reading a video or a folder of frames with PyAV: upright uint8 RGB frames, each with its
presentation timestamp in the stream's own time base, checked before the first frame is read.

PyAV and OpenCV are the ``inceptionism[video]`` extra: :func:`require_av` imports PyAV when
first used, so this module (``parse_time``, the suffixes) loads without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from inceptionism.errors import DreamError
from inceptionism.extras import require_extra
from inceptionism.io import video_checks
from inceptionism.io.images import load_image

INPUT_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
FOLDER_RATE = Fraction(25)  # frame rate of a folder of frames unless --fps-out says otherwise
_STILL_FORMATS = re.compile(r"^(image2|.*_pipe)$")
Notify = Callable[[str], None]


def require_av() -> Any:
    """PyAV, or a one-line error that says how to install it."""
    av = require_extra("av", "video", "video")
    # No log callback at all: PyAV's own one takes the GIL from FFmpeg's decoder threads, and
    # one that logs while the main thread, GIL held, waits for it to end (avcodec_free_context
    # closing a clip) deadlocks the process for good, SIGTERM included. ``None`` puts PyAV's
    # no-op callback back (PANIC did not: ERROR lines still went through Python).
    av.logging.set_level(None)
    return av


def natural_key(name: str) -> tuple:
    """``frame-2`` before ``frame-10``: runs of digits compare as numbers, not as text."""
    return tuple(int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name))


def parse_time(text: str | float | None) -> float | None:
    """Seconds from ``12.5``, ``1:02.5`` or ``1:00:02``; None stays None."""
    if text is None or isinstance(text, (int, float)):
        return None if text is None else float(text)
    try:
        parts = [float(p) for p in text.strip().split(":")]
    except ValueError:
        raise DreamError(f"not a time: {text!r} (use seconds, MM:SS or HH:MM:SS)") from None
    if not parts or len(parts) > 3 or any(p < 0 or p != p for p in parts):
        raise DreamError(f"not a time: {text!r} (use seconds, MM:SS or HH:MM:SS)")
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return seconds


@dataclass
class Frame:
    """One decoded frame: upright RGB and when it is shown (``pts`` in ``Clip.time_base``)."""

    index: int
    rgb: np.ndarray  # (H, W, 3) uint8
    pts: int


@dataclass
class Clip:
    """An input video (or folder of frames) as it will be dreamed, before any frame is read."""

    source: Path
    width: int  # of the frames yielded: upright, scaled to max_side, made even if asked
    height: int
    rate: Fraction  # average frame rate (of the output grid when fps_out is given)
    time_base: Fraction
    rotation: int  # display rotation of the source, degrees counter-clockwise
    count: int | None  # frames expected (None: unknown); for progress bars only
    audio: str | None  # codec of the first audio stream, if any
    start: float = 0.0
    end: float = float("inf")
    folder: bool = False
    notes: list[str] = field(default_factory=list)
    _crop: tuple[int, int] = (0, 0)
    _scale: tuple[int, int] | None = None
    _files: list[Path] = field(default_factory=list)
    _fps_out: Fraction | None = None
    _files_size: tuple[int, int] = (0, 0)

    def frames(self) -> Iterator[Frame]:
        """Decode every frame in [start, end), the decoder's final flush included."""
        raw = self._folder_frames() if self.folder else self._video_frames()
        if self._fps_out is not None:
            raw = _resample(raw, self.time_base, self._fps_out, self.start)
        for i, (rgb, pts) in enumerate(raw):
            yield Frame(i, self._shape(rgb), pts)

    def fingerprint(self) -> str:
        """Identifies the input for resuming: sizes, dates and the first and last MiB."""
        h = hashlib.sha256()
        files = self._files if self.folder else [self.source]
        for f in files:
            st = f.stat()
            h.update(f"{f.name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        if not self.folder:
            with open(self.source, "rb") as fh:
                h.update(fh.read(1 << 20))
                fh.seek(max(0, self.source.stat().st_size - (1 << 20)))
                h.update(fh.read(1 << 20))
        return h.hexdigest()[:32]

    # ----------------------------------------------------------------------------------------

    def _shape(self, rgb: np.ndarray) -> np.ndarray:
        if self._scale is not None:
            cv2 = require_extra("cv2", "video", "video")
            rgb = cv2.resize(rgb, self._scale, interpolation=cv2.INTER_AREA)
        cw, ch = self._crop
        if cw or ch:
            rgb = rgb[: rgb.shape[0] - ch, : rgb.shape[1] - cw]
        return np.ascontiguousarray(rgb)

    def _video_frames(self) -> Iterator[tuple[np.ndarray, int]]:
        av = require_av()
        with _open_container(self.source) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            stream.codec_context.options = video_checks.decoder_options()
            tb = self.time_base
            if self.start > 0:
                with contextlib.suppress(av.error.FFmpegError):
                    container.seek(int(self.start / tb), stream=stream, backward=True)
            last = None
            try:
                for frame in container.decode(stream):
                    pts = frame.pts
                    if pts is None:  # some AVIs: count on from the last timestamp
                        pts = 0 if last is None else last + max(1, round(1 / (self.rate * tb)))
                    if last is not None and pts <= last:
                        pts = last + 1  # keep the timestamps strictly increasing
                    t = float(pts * tb)
                    if t < self.start - 1e-6 and self.start > 0:
                        continue
                    if t >= self.end - 1e-6:
                        break
                    last = pts
                    rgb = frame.to_ndarray(format="rgb24")
                    k = round(self.rotation / 90) % 4
                    yield (np.rot90(rgb, k) if k else rgb), pts
            except av.error.FFmpegError as e:
                raise DreamError(
                    f"{self.source} is truncated or damaged after {t_or_zero(last, tb):.2f} s "
                    f"({av_reason(e)})"
                ) from None

    def _folder_frames(self) -> Iterator[tuple[np.ndarray, int]]:
        for i, f in enumerate(self._files):
            img = load_image(f)
            if img.size != self._files_size:
                raise DreamError(
                    f"frame {f.name} is {img.size[0]}x{img.size[1]}, the first frame "
                    f"{self._files_size[0]}x{self._files_size[1]}: all frames need one size"
                )
            yield np.clip(img.rgb + 0.5, 0, 255).astype(np.uint8), i


def t_or_zero(pts: int | None, tb: Fraction) -> float:
    return 0.0 if pts is None else float(pts * tb)


def _resample(
    frames: Iterator[tuple[np.ndarray, int]], tb: Fraction, rate: Fraction, start: float
) -> Iterator[tuple[np.ndarray, int]]:
    """Frames on a constant grid of ``rate``: the frame shown at each tick (drop or repeat)."""
    step = 1 / (rate * tb)  # output ticks in time-base units
    t0 = None
    k = 0
    shown: tuple[np.ndarray, int] | None = None
    for rgb, pts in frames:
        if t0 is None:
            t0 = pts
        while shown is not None and t0 + k * step < pts:
            yield shown[0], round(t0 + k * step)
            k += 1
        shown = (rgb, pts)
    if shown is not None:  # the last frame is shown at least once
        while t0 + k * step <= shown[1]:
            yield shown[0], round(t0 + k * step)
            k += 1
        if k == 0:
            yield shown[0], round(t0)


@contextlib.contextmanager
def _open_container(path: Path) -> Iterator[Any]:
    av = require_av()
    try:
        container = av.open(
            str(path), metadata_errors="ignore", options=video_checks.decoder_options()
        )
    except av.error.FFmpegError as e:
        raise DreamError(f"{path} is not a video that can be read ({av_reason(e)})") from None
    try:
        yield container
    finally:
        container.close()


def av_reason(e: BaseException) -> str:
    text = getattr(e, "strerror", None) or str(e)
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", str(text))
    text = re.sub(r":\s*'[^']*'$", "", text)  # the file name, already in our message
    return " ".join(text.split()) or type(e).__name__


def open_clip(
    source: str | os.PathLike,
    *,
    start: float | str | None = None,
    duration: float | str | None = None,
    fps_out: float | Fraction | None = None,
    max_side: int | None = None,
    even: bool = False,
) -> Clip:
    """Check an input video or frame folder and describe it; frames are read by ``frames()``.

    ``even``: make width and height even (yuv420p outputs need it) by cropping one pixel off
    the right or bottom edge, said in ``notes``.
    """
    path = Path(source)
    start_s = parse_time(start) or 0.0
    dur = parse_time(duration)
    if dur is not None and dur <= 0:
        raise DreamError(f"duration {duration!r}: need a time > 0")
    if fps_out is not None:
        fps_out = Fraction(fps_out).limit_denominator(100000)
        if fps_out <= 0:
            raise DreamError(f"fps-out {fps_out}: need a rate > 0")
    end = start_s + dur if dur is not None else float("inf")
    if path.is_dir():
        clip = _open_folder(path, start_s, end, fps_out)
    elif not path.exists():
        raise DreamError(f"input {path} does not exist")
    else:
        clip = _probe_video(path, start_s, end, fps_out)
    clip._fps_out = fps_out if not clip.folder else None
    w, h = clip.width, clip.height
    if max_side is not None and max(w, h) > max_side:
        s = max_side / max(w, h)
        w, h = max(1, round(w * s)), max(1, round(h * s))
        clip._scale = (w, h)
    if even and (w % 2 or h % 2):
        clip._crop = (w % 2, h % 2)
        what = " and ".join(
            f"{n} {v}" for n, v, odd in (("width", w, w % 2), ("height", h, h % 2)) if odd
        )
        clip.notes.append(f"odd {what}: cropped one pixel to {w - w % 2}x{h - h % 2} for yuv420p")
        w, h = w - w % 2, h - h % 2
    clip.width, clip.height = w, h
    return clip


def _open_folder(path: Path, start: float, end: float, fps_out: Fraction | None) -> Clip:
    files = sorted(
        (f for f in path.iterdir() if f.suffix.lower() in FRAME_SUFFIXES and f.is_file()),
        key=lambda f: natural_key(f.name),
    )
    rate = fps_out or FOLDER_RATE
    first = int(start * rate + 1e-9)
    last = len(files) if end == float("inf") else int(end * rate - 1e-9) + 1
    files = files[first:last]
    if not files:
        raise DreamError(f"folder {path} has no frames (PNG, JPEG, WebP, BMP or TIFF files)")
    size = load_image(files[0]).size
    clip = Clip(
        source=path,
        width=size[0],
        height=size[1],
        rate=rate,
        time_base=1 / rate,
        rotation=0,
        count=len(files),
        audio=None,
        folder=True,
        _files=files,
    )
    clip._files_size = size
    return clip


def _checked_timing(path: Path, vs: Any, fps_out: Fraction | None) -> tuple[Fraction, Fraction]:
    """The stream's time base and frame rate, once its rate and declared frame size (the
    decoder is told to hold to that cap too) are known to be sane."""
    if vs.time_base is None:
        raise DreamError(f"{path} has a video stream without timestamps")
    rate = vs.average_rate or vs.guessed_rate or vs.base_rate
    rate = Fraction(rate) if rate else Fraction(25)
    if fps_out is None:
        video_checks.check_rate(path, rate)
    video_checks.check_declared_size(path, vs.codec_context.width, vs.codec_context.height)
    vs.codec_context.options = video_checks.decoder_options()
    return Fraction(vs.time_base), rate


def _probe_video(path: Path, start: float, end: float, fps_out: Fraction | None) -> Clip:
    av = require_av()
    with _open_container(path) as c:
        if _STILL_FORMATS.match(c.format.name or ""):
            if (c.format.name or "").startswith("webp"):  # FFmpeg reads no animated WebP
                raise DreamError(
                    f"{path} is a WebP image: as a video input, give its frames as a folder "
                    "or convert it to .mp4 or .gif"
                )
            raise DreamError(f"{path} is a still image, not a video (try deepdream dream or zoom)")
        if not c.streams.video:
            raise DreamError(f"{path} has no video stream")
        video_checks.check_whole(path, c.format.name or "")
        vs = c.streams.video[0]
        tb, rate = _checked_timing(path, vs, fps_out)
        try:
            first = next(c.decode(vs), None)
        except av.error.FFmpegError as e:
            raise DreamError(f"{path} is truncated or damaged ({av_reason(e)})") from None
        if first is None:
            raise DreamError(f"{path} has no frames")
        rotation = round(first.rotation or 0) % 360
        w, h = first.width, first.height
        if rotation in (90, 270):
            w, h = h, w
        audio = c.streams.audio[0].codec_context.name if c.streams.audio else None
        count = vs.frames or None
        seconds = (
            float(vs.duration * tb)
            if vs.duration
            else (float(c.duration) / 1e6 if c.duration else None)
        )
    if seconds is not None:
        span = min(end, seconds) - start
        if span <= 0:
            raise DreamError(
                f"{path} is {seconds:.2f} s long: nothing after the start at {start:g} s",
                hint="start earlier with {start:SECONDS}",
            )
        if start > 0 or end < float("inf") or fps_out or not count:
            count = max(1, round(span * float(fps_out or rate)))
    elif fps_out:
        count = None
    return Clip(
        source=path,
        width=w,
        height=h,
        rate=fps_out or rate,
        time_base=tb,
        rotation=rotation,
        count=count,
        audio=audio,
        start=start,
        end=end,
    )


# --------------------------------------------------------------------------------------------
# writing
