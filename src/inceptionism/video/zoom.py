"""The endless zoom: dream, move the camera a little, dream again, and so on.

The camera moves in rates per second (zoom factor, degrees, pixels), so the look of a zoom does
not change with the frame rate. Each move is one sub-pixel affine resampling of the last dream
(kept in float between frames, so rounding never accumulates), and frames go to the encoder as
they are made: memory stays flat however long the zoom.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from inceptionism.command_options import DEFAULT_FPS, DEFAULT_ZOOM, ZOOM_OPTION
from inceptionism.config import DreamConfig
from inceptionism.errors import DreamError, quote
from inceptionism.io import load_image
from inceptionism.io import video as vio
from inceptionism.video import flow as vflow
from inceptionism.video.clip import VIDEO_OPTION, StepProgress, _dream_frame, _Sessions, recipe
from inceptionism.video.outputs import check_output, run_inputs

#: The ranges of the camera's options (declared in the schema): beyond them a zoom is no longer
#: a video (a frame an hour, a move that leaves the picture in one frame) and the encoders'
#: rational rates overflow.
FPS_RANGE = (ZOOM_OPTION["fps"].minimum, ZOOM_OPTION["fps"].maximum)
FRAMES_MAX = int(ZOOM_OPTION["frames"].maximum)
ZOOM_RANGE = (ZOOM_OPTION["zoom"].minimum, ZOOM_OPTION["zoom"].maximum)
ROTATE_MAX = ZOOM_OPTION["rotate"].maximum  # degrees per second
TRANSLATE_MAX = ZOOM_OPTION["translate"].maximum  # pixels per second


LUMA = np.float32([0.299, 0.587, 0.114])
RAIL_MARGIN = 8.0  # levels from black or white that count as "near the rails"
RAIL_SHARE = 0.4  # of the first dream's share near the rails (full steps: later ones clip less)


@dataclass(frozen=True)
class ColourAnchor:
    """The first dream's brightness, contrast and colourfulness, which later frames may not
    exceed.

    A zoom dreams its own last dream again and again: each pass pushes colours a little further,
    so over a hundred frames the picture creeps to neon and clips (issue 20: saturation 1.24x
    frame 8's after 96 frames, clipped pixels doubled). Before each dream the frame's luma is
    pulled back to the first dream's mean and its contrast and chroma shrunk to the first
    dream's where they have grown; never raised, so a zoom that has not crept is untouched and
    the dream itself (detail, not colour) is kept. Pixels near black or white are held to
    RAIL_SHARE of the first dream's share (its full steps clip more than the later frames'):
    left alone they gather, and each pass clips them (1.47x frame 8's clipped share, now 1.03x).
    """

    luma_mean: float
    luma_std: float
    chroma_rms: float
    near_rails: float = 1.0  # share of pixels with a channel within RAIL_MARGIN of 0 or 255

    @classmethod
    def of(cls, rgb: np.ndarray) -> ColourAnchor:
        luma = rgb @ LUMA
        chroma = rgb - luma[..., None]
        rails = float((_rail_need(rgb, float(luma.mean())) < 1.0).mean())
        return cls(float(luma.mean()), float(luma.std()), float(np.sqrt((chroma**2).mean())), rails)

    def hold(self, rgb: np.ndarray) -> np.ndarray:
        """``rgb`` (float32 0..255) with its brightness, contrast and chroma back within the
        anchor's, and no more of it near black or white than RAIL_SHARE of the anchor's."""
        now = ColourAnchor.of(rgb)
        luma = rgb @ LUMA
        chroma = rgb - luma[..., None]
        contrast = min(1.0, self.luma_std / max(now.luma_std, 1e-6))
        colour = min(1.0, self.chroma_rms / max(now.chroma_rms, 1e-6))
        luma = self.luma_mean + (luma - now.luma_mean) * contrast
        out = luma[..., None] + chroma * colour
        need = _rail_need(out, self.luma_mean).ravel()
        allowed = min(need.size - 1, int(RAIL_SHARE * self.near_rails * need.size))
        shrink = float(np.partition(need, allowed)[allowed])
        if shrink < 1.0:  # more pixels near the rails than allowed: shrink about the mean
            out = self.luma_mean + (out - self.luma_mean) * shrink
        return np.clip(out, 0, 255, out=out).astype(np.float32)


def _rail_need(rgb: np.ndarray, centre: float) -> np.ndarray:
    """Per pixel, the shrink about ``centre`` that brings all its channels at least
    RAIL_MARGIN from 0 and 255 (1 where none is nearer): the dream's next pass pushes pixels
    that sit near a rail over it, and a long zoom gathers them (clipped highlights)."""
    lo, hi = RAIL_MARGIN - centre, 255 - RAIL_MARGIN - centre
    off = rgb - centre
    with np.errstate(divide="ignore", invalid="ignore"):
        need = np.where(off > hi, hi / off, np.where(off < lo, lo / off, 1.0))
    return np.clip(need.min(-1), 0.0, 1.0)


def default_zoom_iterations(config: DreamConfig) -> int:
    """Steps per octave after the first frame: the last dream is kept whole, so few are needed."""
    return max(1, round(config.iterations / 3))


def camera(
    size: tuple[int, int],
    fps: float,
    zoom: float = DEFAULT_ZOOM,
    rotate: float = 0.0,
    translate: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """The 2x3 affine move between two frames: zoom about the centre, rotate, then shift.

    ``zoom`` > 1 moves in; ``rotate`` in degrees per second, counter-clockwise; ``translate``
    in pixels per second, (x, y) — all rates, divided over ``fps`` frames.
    """
    cv2 = vflow._cv2()  # one line naming the [video] extra if missing

    w, h = size
    scale = zoom ** (1 / fps)
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), rotate / fps, scale)
    m[0, 2] += translate[0] / fps
    m[1, 2] += translate[1] / fps
    return m


def check_motion(
    frames: int,
    fps: float,
    zoom: float,
    rotate: float,
    translate: tuple[float, float] = (0.0, 0.0),
) -> None:
    """The camera's numbers, each in its range (one-line errors, before anything runs)."""
    if isinstance(frames, bool) or not isinstance(frames, int) or not 1 <= frames <= FRAMES_MAX:
        raise DreamError(f"frames {quote(frames)}: need a whole number from 1 to {FRAMES_MAX}")
    if not _within(fps, *FPS_RANGE):
        raise DreamError(f"fps {quote(fps)}: need a rate from {FPS_RANGE[0]:g} to {FPS_RANGE[1]:g}")
    if not _within(zoom, *ZOOM_RANGE):
        raise DreamError(
            f"zoom {quote(zoom)}: need a factor per second from {ZOOM_RANGE[0]:g} to "
            f"{ZOOM_RANGE[1]:g} (1: no zoom)"
        )
    if not _within(rotate, -ROTATE_MAX, ROTATE_MAX):
        raise DreamError(f"rotate {quote(rotate)}: need degrees per second within ±{ROTATE_MAX:g}")
    if len(translate) != 2 or not all(_within(t, -TRANSLATE_MAX, TRANSLATE_MAX) for t in translate):
        raise DreamError(
            f"translate {quote(translate)}: need X,Y pixels per second within ±{TRANSLATE_MAX:g}"
        )


def _within(value: object, low: float, high: float) -> bool:
    """A real number (not a bool) in [low, high]; NaN and infinities are not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and low <= value <= high


def zoom_frames(
    image: str | os.PathLike | np.ndarray,
    config: DreamConfig | None = None,
    *,
    frames: int,
    fps: float = DEFAULT_FPS,
    zoom: float = DEFAULT_ZOOM,
    rotate: float = 0.0,
    translate: tuple[float, float] = (0.0, 0.0),
    frame_iterations: int | None = None,
    even: bool = False,
    device: str = "auto",
    precision: str = "auto",
    weights: str | Path | None = None,
    cancel: threading.Event | None = None,
    progress: StepProgress | None = None,
    notify: Callable[[str], None] | None = None,
    **options: Any,
) -> Iterator[np.ndarray]:
    """The zoom's frames as uint8 RGB arrays, one at a time (options as ``dream_zoom``)."""
    cv2 = vflow._cv2()  # one line naming the [video] extra if missing

    config = recipe(config, options)
    check_motion(frames, fps, zoom, rotate, translate)
    vflow._cv2()
    rgb = load_image(image, max_side=config.max_side).rgb
    h, w = rgb.shape[:2]
    if even and (w % 2 or h % 2):
        rgb = rgb[: h - h % 2, : w - w % 2]
        if notify is not None:
            notify(f"odd size {w}x{h}: cropped one pixel to {w - w % 2}x{h - h % 2} for yuv420p")
    fi = default_zoom_iterations(config) if frame_iterations is None else frame_iterations
    if fi < 0:
        raise DreamError(f"frame iterations {fi!r}: need a number >= 0")
    h, w = rgb.shape[:2]
    sessions = _Sessions(config, fi, (h, w), device=device, precision=precision, weights=weights)
    seed = sessions.config.seed
    move = camera((w, h), fps, zoom, rotate, translate)
    current = np.ascontiguousarray(rgb, np.float32)
    anchor: ColourAnchor | None = None
    for i in range(frames):
        dreamer = sessions.first if i == 0 else sessions.later
        dreamed, _ = _dream_frame(
            dreamer, current, None, seed=seed + i, cancel=cancel, progress=progress, as_float=True
        )
        yield np.clip(np.rint(dreamed), 0, 255).astype(np.uint8)
        current = cv2.warpAffine(
            dreamed, move, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101
        )
        np.clip(current, 0, 255, out=current)
        if config.preset != "seed":  # the reference's zoom stays as it was
            anchor = anchor or ColourAnchor.of(np.clip(dreamed, 0, 255))
            current = anchor.hold(current)


def dream_zoom(
    image: str | os.PathLike,
    output: str | os.PathLike,
    config: DreamConfig | None = None,
    *,
    frames: int,
    fps: float = DEFAULT_FPS,
    zoom: float = DEFAULT_ZOOM,
    rotate: float = 0.0,
    translate: tuple[float, float] = (0.0, 0.0),
    frame_iterations: int | None = None,
    crf: int | None = None,
    overwrite: bool = False,
    device: str = "auto",
    precision: str = "auto",
    weights: str | Path | None = None,
    notify: Callable[[str], None] | None = None,
    on_frame: Callable[[int, np.ndarray], None] | None = None,
    progress: StepProgress | None = None,
    cancel: threading.Event | None = None,
    reads: Iterable[str | os.PathLike | None] = (),
    **options: Any,
) -> Path:
    """Write an endless zoom into ``output`` (.mp4, .webm, .gif, .webp or a folder).

    ``config``, or dream options as keywords (``octaves=3``), as ``inceptionism.dream``.
    ``reads``: other files the caller read for this run (settings files): never written over."""
    config = recipe(config, options)
    VIDEO_OPTION["crf"].check(crf)
    check_motion(frames, fps, zoom, rotate, translate)
    out = check_output(output, image, overwrite, run_inputs(image, config, weights, reads))
    kind = vio.output_kind(out)
    stream = zoom_frames(
        image,
        config,
        frames=frames,
        fps=fps,
        zoom=zoom,
        rotate=rotate,
        translate=translate,
        frame_iterations=frame_iterations,
        even=vio.needs_even(kind),
        device=device,
        precision=precision,
        weights=weights,
        cancel=cancel,
        progress=progress,
        notify=notify,
    )
    rate = Fraction(fps).limit_denominator(100000)
    _write(out, stream, rate, crf, notify, overwrite, on_frame)
    return out


def _write(
    out: Path,
    stream: Iterator[np.ndarray],
    rate: Fraction,
    crf: int | None,
    notify: Callable[[str], None] | None,
    overwrite: bool,
    on_frame: Callable[[int, np.ndarray], None] | None,
) -> None:
    """Encode the frames as they come: the writer opens once the first frame says the size."""
    first = next(stream)
    h, w = first.shape[:2]
    writer = vio.VideoWriter(
        out, width=w, height=h, rate=rate, crf=crf, notify=notify, overwrite=overwrite
    )
    with writer:
        for i, frame in enumerate(_chain(first, stream)):
            writer.write(frame, i)
            if on_frame is not None:
                on_frame(i, frame)
        writer.close()


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest
