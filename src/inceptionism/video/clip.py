"""Dreaming a clip frame by frame, each frame carrying the last one's dream along the motion.

Per frame t the picture dreamed is ``frame_t + A * mask * warp(dream_{t-1} - frame_{t-1})``:
the previous dream's *detail* (not its picture) follows the optical flow (bicubic), is dropped
where the flow cannot be trusted (``flow.Motion.mask``) or carries frame t-1 onto something
that does not look like frame t (``flow.colour_checked``), and damped by ``A`` (``coherence``),
and then ``frame_iterations`` steps per octave renew it. Damping and fewer steps balance: the dream
neither fades nor builds up frame after frame (the "brighter every frame" bug of flow-only
tools), and nothing ghosts (the plain blend of tools without flow). A scene cut, where the
flow explains little of the picture, starts afresh with the full steps.

Dreamed frames go to a work folder beside the output as numbered PNGs, written atomically,
with a state file holding the settings and a fingerprint of the input. Running again continues
after the last finished frame and carries on from that frame's dream as read from disk, so a
resumed video is identical to an uninterrupted one on the same CPU thread counts (each frame's
are recorded, ``thread_record``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

import inceptionism.runtime as runtime
from inceptionism.config import DreamConfig, make_config
from inceptionism.errors import DreamError
from inceptionism.io import video as vio
from inceptionism.options import (
    DEFAULT_COHERENCE,
    RECIPE,
    VIDEO_OPTION,
    VIDEO_OPTIONS,
    as_fields,
    check_keywords,
)
from inceptionism.session import Dreamer
from inceptionism.video import flow as vflow
from inceptionism.video.outputs import check_output as check_output  # where callers find it
from inceptionism.video.outputs import check_output_and_work, remove_work, save_frame, start_work
from inceptionism.video.outputs import frame_path as _frame_path
from inceptionism.video.outputs import load_frame as _load_png
from inceptionism.video.outputs import work_folder as work_folder
from inceptionism.video.thread_record import ThreadRecord

LEVEL_GAIN = 2.0  # how hard the carry rises as the dream falls below the shot's first frame
RENEW_BELOW = 0.9  # a frame whose flow explains less than this gets RENEW_STEPS more per octave
# 3: the fast-moving head (benchmarks/video_real.py head) then keeps 0.82x / 0.86x the strength
# of independent frames on two / one CPU threads (2: 0.79x; 1, before the colour check: the
# close-up behind a see-through screen held 0.74 of its shot's first frame), with the warping
# error still 0.38x (issue 20).
RENEW_STEPS = 3
SCENE_CUT = 0.5  # a frame whose flow explains less than this share of the picture starts afresh
STATE_VERSION = 1
MODES = ("ours", "blend", "warp")  # the last two: other tools' ways, for benchmarks/video.py

# progress(done, total) within a frame's dream
StepProgress = Callable[[int, int], None]

#: The video options about the output rather than the dream (not ``VideoSettings`` fields).
OUTPUT_OPTIONS = ("crf", "keep_frames")


def default_frame_iterations(config: DreamConfig, coherence: float) -> int:
    """Steps per octave after the first frame: enough to renew what damping takes away.

    Measured (benchmarks/video.py): at coherence 0.9 a sixth of the first frame's steps keeps
    the dream's strength level from the first frame to the last; less damping needs fewer.
    """
    if coherence <= 0:
        return config.iterations
    return max(1, min(config.iterations, round(config.iterations * (1 - coherence) * 5 / 3)))


@dataclass(frozen=True)
class CarriedFrames:
    """How frames that carry a dream on are stepped, where live dreaming tunes it (a clip's
    defaults: the recipe's step, and the recipe's seed for every frame).

    ``step``: their step (None: the recipe's); smaller changes a frame less (steadier).
    ``own_jitter``: each draws its jitter from the seed plus its frame index: with the same
    rolls every frame the carried dream settles into one pattern and stops deepening (issue 21).
    """

    step: float | None = None
    own_jitter: bool = False


@dataclass
class DreamedFrame:
    """One frame of the dreamed clip, as the iterator hands it out."""

    index: int
    pts: int  # presentation time in the clip's time base
    rgb: np.ndarray  # (H, W, 3) uint8: the dream, exactly as saved
    input: np.ndarray  # (H, W, 3) uint8: the input frame
    fresh: bool  # started from the frame alone (first frame, scene cut, coherence 0)
    resumed: bool  # read back from the work folder, not dreamed in this run
    reliable: float  # share of the picture the flow carried over (1 for a fresh frame)
    seconds: float  # time spent on this frame (0 when resumed)
    flow_seconds: float  # of which optical flow, mask and warp
    threads: tuple[int, ...] = ()  # CPU threads of each octave (empty: resumed, or off the CPU)


@dataclass
@as_fields(o for o in VIDEO_OPTIONS if o.name not in OUTPUT_OPTIONS)
class VideoSettings:
    """How a clip is dreamed beyond the dream recipe itself: the video options of the schema
    (``frame_iterations`` None: :func:`default_frame_iterations`; ``start`` and ``duration``
    also take seconds as numbers), and two knobs of ``benchmarks/video.py``."""

    mode: str = "ours"
    # "image" (measured best): the frame plus the carried dream is the photo, so the octaves
    # re-inject the carried fine detail too; "init": the frame is the photo and the carried
    # dream only where the ascent starts (its fine detail is lost to the octave pyramid).
    carry: str = "image"
    # Also drop the carry where frame t-1, carried by the flow, does not look like frame t
    # (mean RGB levels; None: the flow's own checks only, as before issue 20's ghosts).
    colour_tolerance: float | None = vflow.COLOUR_TOLERANCE

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> VideoSettings:
        """The settings among ``values`` (e.g. a command line's, by ``VIDEO_OPTIONS`` names);
        the rest as default."""
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})

    def check(self) -> None:
        """Each declared setting by its option's check (start and duration: when read)."""
        for f in fields(self):
            if f.name in VIDEO_OPTION and f.name not in ("start", "duration"):
                VIDEO_OPTION[f.name].check(getattr(self, f.name))
        if self.colour_tolerance is not None and not self.colour_tolerance > 0:
            raise DreamError(f"invalid colour tolerance {self.colour_tolerance!r} (need > 0)")
        if self.carry not in ("image", "init"):
            raise DreamError(f"unknown carry {self.carry!r} (choose image or init)")
        if self.mode not in MODES:
            raise DreamError(f"unknown mode {self.mode!r} (choose {', '.join(MODES)})")


def recipe(config: DreamConfig | None, options: dict[str, Any]) -> DreamConfig:
    """``config``, or the ``preset`` (default ``"default"``) with keyword overrides, as
    ``inceptionism.dream`` takes them (``octaves=3``, ``layers={"block8": 1}``, ...)."""
    if config is not None:
        if options:
            raise DreamError(f"give either a config or options, not both ({', '.join(options)})")
        return config
    check_keywords(options, RECIPE)
    preset = options.pop("preset", "default")
    return make_config(preset, **options)


# --------------------------------------------------------------------------------------------
# the dream sessions


class _Sessions:
    """The first frame's dreamer (full steps), the later frames' (``frame_iterations``) and
    the renewing one (``renew_iterations``, for frames whose flow drops much of the picture).

    All use the tile the first resolves for ``shape``, so every frame is cut into the same
    windows.
    """

    def __init__(
        self,
        config: DreamConfig,
        frame_iterations: int,
        shape: tuple[int, int],
        *,
        device: str,
        precision: str,
        weights: str | Path | None,
        renew_iterations: int | None = None,
        carried_step: float | None = None,
    ) -> None:
        self.first = Dreamer(
            config.model, config, device=device, precision=precision, weights=weights
        )
        fixed = self.first.config_for(shape)
        self.first.total_steps(shape)  # a frame too small for the layers fails here, not later
        # a carried frame's own step (live's); None: the recipe's, and the first's session
        carried = fixed if carried_step is None else fixed.replace(step=carried_step)
        made = {fixed.iterations: self.first} if carried_step is None else {}
        for steps in {frame_iterations, renew_iterations or frame_iterations} - set(made):
            made[steps] = Dreamer(
                config.model,
                carried.replace(iterations=steps),
                device=device,
                precision=precision,
                weights=weights,
            )
        self.later = made[frame_iterations]
        self.renew = made[renew_iterations or frame_iterations]
        self.config = fixed


def _dream_frame(
    dreamer: Any,
    frame: np.ndarray,
    init: np.ndarray | None,
    *,
    seed: int,
    cancel: threading.Event | None,
    progress: StepProgress | None,
    as_float: bool = False,
    threads: Sequence[int] | None = None,
) -> tuple[np.ndarray, tuple[int, ...]]:
    """The one call into the dream session: the dream as uint8 (or float32 0..255), on the
    recorded counts ``threads`` (None: chosen now), with the CPU threads each octave ran on
    (``thread_record``)."""
    last = None
    for last in dreamer.steps(frame, init=init, seed=seed, cancel=cancel, threads=threads):
        if progress is not None and last.total:
            progress(last.step, last.total)
    assert last is not None and last.result is not None
    if as_float:
        return np.asarray(last.result, np.float32), last.threads
    return np.clip(np.rint(last.result), 0, 255).astype(np.uint8), last.threads


# --------------------------------------------------------------------------------------------
# the frame loop


def _settings_record(
    clip: vio.Clip, config: DreamConfig, video: VideoSettings, frame_iterations: int
) -> dict:
    return {
        "version": STATE_VERSION,
        "input": clip.fingerprint(),
        "size": [clip.width, clip.height],
        "config": json.loads(json.dumps(config.to_dict(), default=str)),
        "coherence": video.coherence,
        "frame_iterations": frame_iterations,
        "flow_quality": video.flow_quality,
        "start": clip.start,
        "end": None if clip.end == float("inf") else clip.end,
        "fps_out": str(video.fps_out) if video.fps_out else None,
        "mode": video.mode,
        "carry": video.carry,
        "colour_tolerance": video.colour_tolerance,
    }


def resolved_frame_iterations(config: DreamConfig, video: VideoSettings) -> int:
    """Steps per octave after the first frame, as ``video`` asks or by default."""
    if video.mode != "ours":
        return config.iterations  # other tools dream every frame in full
    if video.frame_iterations is not None:
        return video.frame_iterations
    return default_frame_iterations(config, video.coherence)


class FrameLoop:
    """The coherent frame loop, on any run of input frames: a whole clip's, or one chunk of it
    that a Ray driver shipped to a worker (``jobs/cluster_video.py``), so both dream alike.

    ``carried``: how the frames that carry a dream on are stepped (live dreaming's tuning)."""

    def __init__(
        self,
        config: DreamConfig,
        video: VideoSettings,
        shape: tuple[int, int],
        *,
        device: str = "auto",
        precision: str = "auto",
        weights: str | Path | None = None,
        carried: CarriedFrames = CarriedFrames(),
    ) -> None:
        video.check()
        self.video, self.carried = video, carried
        self.frame_iterations = resolved_frame_iterations(config, video)
        renew = self.frame_iterations
        if video.frame_iterations is None and video.mode == "ours":  # the default: adaptive
            renew = min(config.iterations, self.frame_iterations + RENEW_STEPS)
        self.sessions = _Sessions(
            config,
            self.frame_iterations,
            shape,
            device=device,
            precision=precision,
            weights=weights,
            renew_iterations=renew,
            carried_step=carried.step,
        )

    def frames(
        self,
        inputs: Iterable[vio.Frame],
        work: Path | None = None,
        *,
        cancel: threading.Event | None = None,
        progress: StepProgress | None = None,
    ) -> Iterator[DreamedFrame]:
        """Dream ``inputs`` in order, the first afresh; with ``work``, finished frames are saved
        there and reused.

        The heap keeps the memory a frame's dream freed for the next frame's (one
        ``keep_freed_memory`` over all frames, not one per frame): otherwise every frame hands
        its buffers back and faults them in again, a quarter of a live frame's three steps at
        256 px (73 against 56 ms, issue 21)."""
        with runtime.keep_freed_memory():
            yield from self._frames(inputs, work, cancel, progress)

    def _frames(
        self,
        inputs: Iterable[vio.Frame],
        work: Path | None,
        cancel: threading.Event | None,
        progress: StepProgress | None,
    ) -> Iterator[DreamedFrame]:
        """:meth:`frames`, inside its one ``keep_freed_memory``."""
        prev_in: np.ndarray | None = None
        prev_dream: np.ndarray | None = None
        level = _Level()
        resuming = work is not None
        record = ThreadRecord.read(work) if work is not None else ThreadRecord()
        for f in inputs:
            done = None
            if resuming:
                done = _load_png(_frame_path(work, f.index), f.rgb.shape)  # type: ignore[arg-type]
                resuming = done is not None  # the first missing frame: the rest is dreamed again
            t0 = time.perf_counter()
            init, reliable, flow_s = self._start(prev_in, prev_dream, f.rgb, level)
            if done is not None:  # the flow above only follows the level, as the first run did
                level.follow(f.rgb, done, fresh=init is None)
                yield DreamedFrame(f.index, f.pts, done, f.rgb, False, True, 1.0, 0.0, 0.0)
                prev_in, prev_dream = f.rgb, done
                continue
            replay = None if runtime.user_threads() else record.schedule_for(f.index)
            dream, used = self._dream(f.rgb, init, reliable, cancel, progress, replay, f.index)
            level.follow(f.rgb, dream, fresh=init is None)
            if work is not None:
                record.add(f.index, used)
                record.save(work)  # before the frame: a frame on disk always has its counts
                save_frame(_frame_path(work, f.index), dream)
            seconds = time.perf_counter() - t0
            yield DreamedFrame(
                f.index, f.pts, dream, f.rgb, init is None, False, reliable, seconds, flow_s, used
            )
            prev_in, prev_dream = f.rgb, dream

    def _dream(
        self,
        frame: np.ndarray,
        init: np.ndarray | None,
        reliable: float,
        cancel: threading.Event | None,
        progress: StepProgress | None,
        threads: Sequence[int] | None,
        index: int = 0,
    ) -> tuple[np.ndarray, tuple[int, ...]]:
        """One frame's dream: afresh with the full steps, or from the carried dream with the
        later frames' steps, more where the flow dropped much of the picture (issue 20:
        there the few steps cannot renew what is dropped, and the dream fades); on the recorded
        counts ``threads`` (None: chosen now), with the counts it ran on."""
        video, seed = self.video, self.sessions.config.seed
        if init is not None and self.carried.own_jitter:
            seed = (seed + index) % 2**63
        later = self.sessions.renew if reliable < RENEW_BELOW else self.sessions.later
        if video.mode != "ours":  # other tools dream the mixed picture itself, in full
            dreamer, picture, start = self.sessions.first, frame if init is None else init, None
        elif init is None:
            dreamer, picture, start = self.sessions.first, frame, None
        elif video.carry == "init":
            dreamer, picture, start = later, frame, init
        else:
            dreamer, picture, start = later, init, None
        return _dream_frame(
            dreamer, picture, start, seed=seed, cancel=cancel, progress=progress, threads=threads
        )

    def _start(
        self,
        prev_in: np.ndarray | None,
        prev_dream: np.ndarray | None,
        cur: np.ndarray,
        level: _Level,
    ) -> tuple[np.ndarray | None, float, float]:
        """(init, reliable share, seconds) for the next frame; init None: start afresh."""
        video = self.video
        if prev_in is None or prev_dream is None:
            return None, 1.0, 0.0
        if video.mode == "blend":
            mixed = 0.5 * cur.astype(np.float32) + 0.5 * prev_dream.astype(np.float32)
            return mixed, 1.0, 0.0
        if video.coherence == 0 and video.mode == "ours":
            return None, 1.0, 0.0
        t0 = time.perf_counter()
        m = vflow.motion(prev_in, cur, video.flow_quality)
        detail = prev_dream.astype(np.float32) - prev_in.astype(np.float32)
        if video.mode == "warp":
            init = cur.astype(np.float32) + m.warp(detail)
            return init, m.reliable, time.perf_counter() - t0
        if m.reliable < SCENE_CUT:  # the flow's own say: see-through screens fail the colours
            return None, m.reliable, time.perf_counter() - t0
        if video.colour_tolerance is not None:
            m = vflow.colour_checked(m, prev_in, cur, video.colour_tolerance)
        carry = level.carry(video.coherence)
        init = cur.astype(np.float32) + m.warp(detail) * (carry * m.mask)[..., None]
        return init, m.reliable, time.perf_counter() - t0


@dataclass
class _Level:
    """The dream's strength (mean ``|dream - frame|``) to hold through a shot: its first frame's.

    On real footage a fixed damping ``A`` fades the dream (issue 20), so the carry is ``A``
    while the last dream is as strong as the shot's first frame and rises towards 1 as it falls
    below. It follows frames read back on resume too: a resumed clip is an uninterrupted one.
    """

    reference: float = 0.0
    last: float = 0.0

    def follow(self, frame: np.ndarray, dream: np.ndarray, *, fresh: bool) -> None:
        self.last = float(np.abs(dream.astype(np.float32) - frame.astype(np.float32)).mean())
        if fresh:
            self.reference = self.last

    def carry(self, coherence: float) -> float:
        """The share of the last dream's detail to carry: ``coherence``, lifted to hold the
        level."""
        if self.last <= 0 or self.last >= self.reference:
            return coherence
        return min(1.0, coherence * (self.reference / self.last) ** LEVEL_GAIN)


class ClipDreamer:
    """Everything for dreaming one clip, checked and set up before the first frame."""

    def __init__(
        self,
        source: str | os.PathLike,
        config: DreamConfig | None = None,
        video: VideoSettings | None = None,
        *,
        device: str = "auto",
        precision: str = "auto",
        weights: str | Path | None = None,
        even: bool = False,
    ) -> None:
        self.config = config or make_config()
        self.video = video or VideoSettings()
        self.video.check()
        vio.require_av()
        vflow._cv2()
        self.clip = vio.open_clip(
            source,
            start=self.video.start,
            duration=self.video.duration,
            fps_out=self.video.fps_out,
            max_side=self.config.max_side,
            even=even,
        )
        self.loop = FrameLoop(
            self.config,
            self.video,
            (self.clip.height, self.clip.width),
            device=device,
            precision=precision,
            weights=weights,
        )
        self.frame_iterations = self.loop.frame_iterations
        self.sessions = self.loop.sessions
        self.state = _settings_record(
            self.clip, self.sessions.config, self.video, self.frame_iterations
        )

    def frames(
        self,
        work: Path | None = None,
        *,
        cancel: threading.Event | None = None,
        progress: StepProgress | None = None,
    ) -> Iterator[DreamedFrame]:
        """Dream every frame in order; with ``work``, finished frames are saved and reused."""
        return self.loop.frames(self.clip.frames(), work, cancel=cancel, progress=progress)


# --------------------------------------------------------------------------------------------
# the whole job: input -> output file


def dream_video(
    source: str | os.PathLike,
    output: str | os.PathLike,
    config: DreamConfig | None = None,
    *,
    coherence: float = DEFAULT_COHERENCE,
    frame_iterations: int | None = None,
    flow_quality: str = "medium",
    start: float | str | None = None,
    duration: float | str | None = None,
    fps_out: float | None = None,
    crf: int | None = None,
    keep_frames: bool = False,
    overwrite: bool = False,
    device: str = "auto",
    precision: str = "auto",
    weights: str | Path | None = None,
    notify: Callable[[str], None] | None = None,
    on_start: Callable[[ClipDreamer], None] | None = None,
    on_frame: Callable[[DreamedFrame, ClipDreamer], None] | None = None,
    progress: StepProgress | None = None,
    cancel: threading.Event | None = None,
    mode: str = "ours",
    reads: Iterable[str | os.PathLike | None] = (),
    **options: Any,
) -> Path:
    """Dream a clip into ``output`` (.mp4, .webm, .gif, .webp or a folder); returns its path.

    Resumable: an interrupted call leaves the work folder (``work_folder(output)``); the same
    call again continues where it stopped. The output appears only when complete. ``config``,
    or dream options as keywords (``octaves=3``, ``preset="seed"``), as ``inceptionism.dream``.
    ``reads``: other files the caller read for this run (settings files): never written over."""
    video = VideoSettings.from_values(locals())  # the keywords that are its fields
    config = recipe(config, options)
    VIDEO_OPTION["crf"].check(crf)
    notify = notify or (lambda _m: None)
    out, work = check_output_and_work(output, source, overwrite, config, weights, reads)
    even = vio.needs_even(vio.output_kind(out))
    run = {"device": device, "precision": precision, "weights": weights}
    job = ClipDreamer(source, config, video, **run, even=even)
    for note in job.clip.notes:
        notify(note)
    if on_start is not None:
        on_start(job)
    clip = job.clip
    start_work(work, job.state, overwrite, notify, (clip.width, clip.height), clip.count)
    ThreadRecord.read(work)  # a bad record is refused now, before the writer opens
    writer = vio.VideoWriter.for_clip(out, clip, crf, notify, overwrite)
    with writer:
        for frame in job.frames(work, cancel=cancel, progress=progress):
            writer.write(frame.rgb, frame.pts)
            if on_frame is not None:
                on_frame(frame, job)
        if writer.count == 0:
            raise DreamError(f"{source} has no frames in the chosen time range")
        writer.close()
    if not keep_frames:
        remove_work(work)
    return out


def video_frames(
    source: str | os.PathLike,
    config: DreamConfig | None = None,
    *,
    coherence: float = DEFAULT_COHERENCE,
    frame_iterations: int | None = None,
    flow_quality: str = "medium",
    start: float | str | None = None,
    duration: float | str | None = None,
    fps_out: float | None = None,
    device: str = "auto",
    precision: str = "auto",
    weights: str | Path | None = None,
    cancel: threading.Event | None = None,
    progress: StepProgress | None = None,
    **options: Any,
) -> Iterator[DreamedFrame]:
    """Dreamed frames one by one, in memory (for notebooks and the web UI); nothing saved.

    Options as :func:`dream_video`."""
    video = VideoSettings.from_values(locals())  # the keywords that are its fields
    config = recipe(config, options)
    job = ClipDreamer(source, config, video, device=device, precision=precision, weights=weights)
    yield from job.frames(None, cancel=cancel, progress=progress)
