"""Writing a video, a GIF or WebP, or a folder of PNG frames with PyAV: the input's own
timestamps put back unchanged (so 30000/1001 and variable rates survive), the pixels rotated
back with the same display rotation set, the sound carried over (:mod:`.video_audio`). Every
output goes to a temporary file beside it, checked to decode and renamed into place at the end,
so an error or Ctrl-C leaves no partial file.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from inceptionism.errors import DreamError
from inceptionism.io import video_checks
from inceptionism.io.files import (
    OUTPUT_TEMP_SUFFIX,
    publish,
    publish_folder,
    remove_stale_temp_folders,
    remove_stale_temps,
    temp_prefix,
)
from inceptionism.io.video_audio import AudioTrack
from inceptionism.io.video_reader import Clip, Notify, require_av
from inceptionism.runtime import x264_options

OUTPUT_KINDS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mp4", ".webm": "webm", ".gif": "gif"}
OUTPUT_KINDS[".webp"] = "webp"
DEFAULT_CRF = {"mp4": 17, "webm": 24}  # x264 17 / VP9 24: visually lossless, sane sizes
#: The frames a folder output holds: the only files ``--overwrite`` may replace there.
OUTPUT_FRAME = re.compile(r"frame_\d{6,}\.png")


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
        self._audio: AudioTrack | None = None
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
        parent, suffix = self.path.parent, OUTPUT_TEMP_SUFFIX
        prefix = temp_prefix(self.path.name, suffix, parent)
        remove_stale_temps(parent, prefix, suffix)
        remove_stale_temp_folders(parent, prefix, suffix, OUTPUT_FRAME.fullmatch)
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
                **x264_options(),  # the same frames, the same file
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
                self._audio = AudioTrack(self._out, audio_from, self.kind, start, end, self.notify)

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
                publish_folder(self._tmp, self.path, OUTPUT_FRAME.fullmatch, self.overwrite)
            else:
                self._mux(self._vs.encode(None))
                if self._audio is not None:
                    self._audio.finish()
                self._out.close()
                self._check_decodes()
                with contextlib.suppress(OSError):
                    os.chmod(self._tmp, 0o666 & ~_umask())
                publish(self._tmp, self.path, self.overwrite)
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
    q = Image.fromarray(rgb).quantize(256, dither=Image.Dither.FLOYDSTEINBERG)
    pal = np.zeros((256, 4), np.uint8)
    colours = np.asarray(q.getpalette()[: 256 * 3], np.uint8).reshape(-1, 3)
    pal[: len(colours), :3] = colours
    pal[:, 3] = 255
    return np.asarray(q, np.uint8), pal
