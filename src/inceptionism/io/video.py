"""Video in and out with PyAV: frames with their timestamps, rotation and sound kept.

Reading gives upright uint8 RGB frames (the display rotation applied, so the network sees the
picture the right way up) with each frame's presentation timestamp in the stream's own time
base; writing puts the timestamps back unchanged, so 30000/1001 and variable rates survive,
rotates the pixels back and sets the same display rotation, and copies the audio packets
without re-encoding where the container can hold them. Every output is written to a temporary
file beside it and renamed into place at the end, so an error or Ctrl-C leaves no partial file.

PyAV and OpenCV are the ``inceptionism[video]`` extra: they are imported when first used.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from inceptionism import runtime
from inceptionism.errors import DreamError
from inceptionism.extras import require_extra
from inceptionism.io import files, video_checks

INPUT_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
OUTPUT_KINDS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mp4", ".webm": "webm", ".gif": "gif"}
OUTPUT_KINDS[".webp"] = "webp"
DEFAULT_CRF = {"mp4": 17, "webm": 24}  # x264 17 / VP9 24: visually lossless, sane sizes
FOLDER_RATE = Fraction(25)  # frame rate of a folder of frames unless --fps-out says otherwise
# Audio codecs each container takes as they are (others are re-encoded: AAC / Opus).
_AUDIO_COPY = {
    "mp4": {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"},
    "webm": {"opus", "vorbis"},
}
_AUDIO_ENCODER = {"mp4": "aac", "webm": "libopus"}
#: The frames a folder output holds: the only files ``--overwrite`` may replace there.
OUTPUT_FRAME = re.compile(r"frame_\d{6,}\.png")
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
            from inceptionism.extras import require_extra

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
                    f"({_av_reason(e)})"
                ) from None

    def _folder_frames(self) -> Iterator[tuple[np.ndarray, int]]:
        from inceptionism.io.images import load_image

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
        raise DreamError(f"{path} is not a video that can be read ({_av_reason(e)})") from None
    try:
        yield container
    finally:
        container.close()


def _av_reason(e: BaseException) -> str:
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
    from inceptionism.io.images import load_image

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


matroska_missing_bytes = video_checks.matroska_missing_bytes  # its old home


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
            raise DreamError(f"{path} is truncated or damaged ({_av_reason(e)})") from None
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


def output_kind(path: str | os.PathLike) -> str:
    """``mp4``, ``webm``, ``gif``, ``webp`` from the extension; no extension: a frame folder."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in OUTPUT_KINDS:
        return OUTPUT_KINDS[suffix]
    if not suffix or p.is_dir():
        return "folder"
    raise DreamError(
        f"cannot write video {p.name!r}: use .mp4, .webm, .gif, .webp or a folder for PNG frames"
    )


def needs_even(kind: str) -> bool:
    return kind in ("mp4", "webm")


class VideoWriter:
    """Streams frames into a temporary file beside ``path``; ``close()`` renames it into place.

    Timestamps are the input's own (``time_base`` units), so the output has the same rate and
    timing. ``audio_from``: the input whose first audio stream is copied (or re-encoded where
    the container cannot hold its codec) for the seconds [start, end).
    """

    @classmethod
    def for_clip(
        cls,
        path: str | os.PathLike,
        clip: Clip,
        crf: int | None,
        notify: Notify | None,
        overwrite: bool = True,
    ) -> VideoWriter:
        """A writer for the dream of ``clip``: its size, rate, timing, rotation and sound."""
        return cls(
            path,
            width=clip.width,
            height=clip.height,
            rate=clip.rate,
            time_base=clip.time_base,
            rotation=clip.rotation,
            crf=crf,
            audio_from=clip.source if clip.audio and not clip.folder else None,
            start=clip.start,
            end=clip.end,
            notify=notify,
            overwrite=overwrite,
        )

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        width: int,
        height: int,
        rate: Fraction,
        time_base: Fraction | None = None,
        rotation: int = 0,
        crf: int | None = None,
        audio_from: Path | None = None,
        start: float = 0.0,
        end: float = float("inf"),
        notify: Notify | None = None,
        overwrite: bool = True,
    ) -> None:
        self.path = Path(path)
        self.overwrite = overwrite
        self.kind = output_kind(self.path)
        self.width, self.height = width, height
        self.rate = Fraction(rate)
        self.time_base = Fraction(time_base) if time_base else 1 / self.rate
        self.rotation = rotation % 360
        self.notify = notify or (lambda _msg: None)
        self.count = 0
        self._last_pts: int | None = None
        # --start: the output starts at 0, video and sound alike.
        self._offset = round(start / self.time_base) if start > 0 else 0
        self._audio: _Audio | None = None
        self._done = False
        parent = self.path.parent
        if not parent.is_dir():
            raise DreamError(f"output folder {parent} does not exist")
        prefix, suffix = self._sweep()
        if self.kind == "folder":
            self._tmp = Path(tempfile.mkdtemp(dir=parent, prefix=prefix, suffix=suffix))
            if audio_from is not None:
                self.notify("a folder of frames cannot hold sound: the audio is dropped")
            return
        fd, name = tempfile.mkstemp(dir=parent, prefix=prefix, suffix=suffix)
        os.close(fd)
        self._tmp = Path(name)
        try:
            self._open(crf, audio_from, start, end)
        except BaseException:
            self.abort()
            raise

    def _sweep(self) -> tuple[str, str]:
        """The temporary name's prefix and suffix, after removing what a killed run left."""
        parent, suffix = self.path.parent, files.OUTPUT_TEMP_SUFFIX
        prefix = files.temp_prefix(self.path.name, suffix, parent)
        files.remove_stale_temps(parent, prefix, suffix)
        files.remove_stale_temp_folders(parent, prefix, suffix, OUTPUT_FRAME.fullmatch)
        return prefix, suffix

    def _open(self, crf: int | None, audio_from: Path | None, start: float, end: float) -> None:
        av = require_av()
        fmt = {"mp4": "mp4", "webm": "webm", "gif": "gif", "webp": "webp"}[self.kind]
        if self.path.suffix.lower() == ".mov":
            fmt = "mov"
        options = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
        if self.kind == "webp":
            options["loop"] = "0"
        self._out = av.open(str(self._tmp), "w", format=fmt, options=options)
        codec = {"mp4": "libx264", "webm": "libvpx-vp9", "gif": "gif", "webp": "libwebp_anim"}
        vs = self._out.add_stream(codec[self.kind], rate=self.rate)
        vs.width, vs.height = self._stored_size()
        vs.pix_fmt = {"mp4": "yuv420p", "webm": "yuv420p", "gif": "pal8", "webp": "yuv420p"}[
            self.kind
        ]
        vs.time_base = self.time_base
        vs.codec_context.time_base = self.time_base
        if self.kind == "mp4":
            vs.options = {
                "crf": str(DEFAULT_CRF["mp4"] if crf is None else crf),
                "preset": "medium",
                **runtime.x264_options(),  # the same frames, the same file
            }
        elif self.kind == "webm":
            q = DEFAULT_CRF["webm"] if crf is None else crf
            vs.options = {"crf": str(q), "b": "0", "row-mt": "1", "cpu-used": "4"}
        elif self.kind == "webp":
            vs.options = {"quality": "85"}
        if self.rotation and self.kind in ("mp4", "webm"):
            vs.set_display_rotation(self.rotation)
        self._vs = vs
        if audio_from is not None:
            if self.kind in ("gif", "webp"):
                self.notify(f"a .{self.kind} file cannot hold sound: the audio is dropped")
            else:
                self._audio = _Audio(self._out, audio_from, self.kind, start, end, self.notify)

    def _stored_size(self) -> tuple[int, int]:
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height

    def write(self, rgb: np.ndarray, pts: int | None = None) -> None:
        """Add one upright frame (uint8 or float 0..255) shown at ``pts`` (time-base units)."""
        if rgb.dtype != np.uint8:
            rgb = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
        if rgb.shape[:2] != (self.height, self.width):
            raise DreamError(
                f"frame is {rgb.shape[1]}x{rgb.shape[0]}, the video {self.width}x{self.height}"
            )
        if pts is not None:
            pts -= self._offset
        if pts is None:
            pts = (
                self.count
                if self._last_pts is None
                else self._last_pts + round(1 / (self.rate * self.time_base))
            )
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts = pts
        self.count += 1
        if self.kind == "folder":
            from PIL import Image

            Image.fromarray(rgb).save(self._tmp / f"frame_{self.count:06d}.png", compress_level=4)
            return
        av = require_av()
        k = round(self.rotation / 90) % 4
        stored = np.ascontiguousarray(np.rot90(rgb, -k)) if k else rgb
        if self.kind == "gif":
            frame = av.VideoFrame.from_ndarray(_palette(stored), format="pal8")
        else:
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
        frame.pts = pts
        frame.time_base = self.time_base
        self._mux(self._vs.encode(frame))

    def end_sound(self, t: float) -> None:
        """Copy the input's sound only up to ``t`` seconds of the output (a live recording
        stopped before its source ended)."""
        if self._audio is not None:
            self._audio.end = min(self._audio.end, self._audio.start + t)

    def _mux(self, packets: list) -> None:
        for p in packets:
            if self._audio is not None and p.dts is not None:
                self._audio.mux_until(float(p.dts * p.time_base))
            self._out.mux(p)

    def close(self) -> Path:
        """Finish the file and move it into place (replacing an existing one)."""
        if self.count == 0:
            self.abort()
            raise DreamError("no frames to write")
        try:
            if self.kind == "folder":
                with contextlib.suppress(OSError):
                    os.chmod(self._tmp, 0o777 & ~_umask())  # not mkdtemp's 0700
                files.publish_folder(self._tmp, self.path, OUTPUT_FRAME.fullmatch, self.overwrite)
            else:
                self._mux(self._vs.encode(None))
                if self._audio is not None:
                    self._audio.finish()
                self._out.close()
                self._check_decodes()
                with contextlib.suppress(OSError):
                    os.chmod(self._tmp, 0o666 & ~_umask())
                files.publish(self._tmp, self.path, self.overwrite)
        except BaseException:
            self.abort()
            raise
        self._done = True
        return self.path

    def _check_decodes(self) -> None:
        """A muxer can write a file no player decodes (reordered frames that all got one
        decode timestamp): better no output than one that looks done and is not. FFmpeg
        reads no animated WebP, so that one goes unchecked."""
        if self.kind == "webp":
            return
        decoded = video_checks.decodable_frames(require_av(), self._tmp)
        if decoded < self.count:
            raise DreamError(
                f"{self.path}: only {decoded} of the {self.count} frames written would decode; "
                "nothing was written"
            )

    def abort(self) -> None:
        """Drop the temporary file: nothing partial is ever left at ``path``."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(Exception):
            if self._audio is not None:
                self._audio.close()
        with contextlib.suppress(Exception):
            if hasattr(self, "_out"):
                self._out.close()
        with contextlib.suppress(OSError):
            if self._tmp.is_dir():
                shutil.rmtree(self._tmp)
            else:
                self._tmp.unlink()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is not None:
            self.abort()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _palette(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A GIF frame: its own 256-colour palette (median cut), as PyAV's pal8 wants it."""
    from PIL import Image

    q = Image.fromarray(rgb).quantize(256, dither=Image.Dither.FLOYDSTEINBERG)
    pal = np.zeros((256, 4), np.uint8)
    colours = np.asarray(q.getpalette()[: 256 * 3], np.uint8).reshape(-1, 3)
    pal[: len(colours), :3] = colours
    pal[:, 3] = 255
    return np.asarray(q, np.uint8), pal


class _Audio:
    """The input's first audio stream into the output, interleaved with the video by time."""

    def __init__(
        self, out: Any, source: Path, kind: str, start: float, end: float, notify: Notify
    ) -> None:
        av = require_av()
        self.out, self.start, self.end = out, start, end
        self.src = av.open(str(source), metadata_errors="ignore")
        self.ins = self.src.streams.audio[0]
        codec = self.ins.codec_context.name
        self.copy = codec in _AUDIO_COPY[kind]
        if self.copy:
            self.outs = out.add_stream_from_template(self.ins)
        else:
            self.outs = out.add_stream(_AUDIO_ENCODER[kind], rate=48000 if kind == "webm" else None)
            if kind == "mp4":
                self.outs.rate = self.ins.codec_context.sample_rate or 48000
            self.outs.layout = "stereo" if (self.ins.codec_context.channels or 2) > 1 else "mono"
            notify(f"the audio ({codec}) cannot go into .{kind} as it is: re-encoded")
        if start > 0:
            with contextlib.suppress(av.error.FFmpegError):
                self.src.seek(int(start / self.ins.time_base), stream=self.ins, backward=True)
        self.packets = self.src.demux(self.ins)
        self.pending: list = []
        self.finished = False

    def _next(self) -> tuple[float, list] | None:
        """(time, packets ready to mux) of the next input packet in range, None at the end."""
        for p in self.packets:
            if p.dts is None or p.pts is None:
                continue
            t = float(p.pts * p.time_base)
            end_t = t + float((p.duration or 0) * p.time_base)
            if self.start > 0 and end_t <= self.start:
                continue
            if t >= self.end:
                return None
            if self.copy:
                shift = round(self.start / p.time_base)
                p.pts -= shift
                p.dts -= shift
                p.stream = self.outs
                return t - self.start, [p]
            out = []
            for f in p.decode():
                f.pts = None
                out.extend(self.outs.encode(f))
            return t - self.start, out
        return None

    def mux_until(self, t: float) -> None:
        while not self.finished:
            got = self._next()
            if got is None:
                self.finished = True
                break
            at, packets = got
            for p in packets:
                self.out.mux(p)
            if at > t:
                break

    def finish(self) -> None:
        self.mux_until(float("inf"))
        if not self.copy:
            for p in self.outs.encode(None):
                self.out.mux(p)
        self.close()

    def close(self) -> None:
        self.src.close()
