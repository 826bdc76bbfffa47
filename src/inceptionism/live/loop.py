"""The real-time loop: a grabber thread keeps only the newest source frame (a frame the dreamer
had no time for is dropped, never queued, so latency stays bounded), and the dreamer takes
whatever is newest, dreams it coherently with the last dream (``video.clip.FrameLoop``: flow
warp, mask, damping, scene cuts), and hands it to be shown and recorded.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inceptionism.command_options import LIVE_COHERENCE
from inceptionism.config import DreamConfig
from inceptionism.errors import Cancelled, DreamError
from inceptionism.io import video as vio
from inceptionism.live.sources import Captured, Source
from inceptionism.video.clip import CarriedFrames, DreamedFrame, FrameLoop, VideoSettings

#: The recipe live dreaming starts from where the user set nothing else: 256 px, one octave of
#: eight steps of 0.04 for a fresh frame, jitter 4, no gradient smoothing; later frames take
#: LiveSettings.frame_iterations (three), the carried dream does the rest. All steps at the
#: frame's own size, with little jitter, is what a held-out judge sees best for the same work
#: (1.73x and 1.87x on live.py's clips against 1.41x and 1.50x with two octaves of four steps).
#: Smoothing (lite0's default preset: 1 px) costs 13 ms of a 256 px frame and adds nothing a
#: judge sees at this size; its time buys a carried frame's third step (issue 21,
#: benchmarks/live_steady.py, docs/live.md).
LIVE_RECIPE: dict[str, Any] = {
    "max_side": 256,
    "octaves": 1,
    "iterations": 8,
    "step": 0.04,
    "jitter": 4,
    "smooth": 0.0,
}


@dataclass(frozen=True)
class LiveSettings:
    """How live frames are carried along: damping, steps of a carried frame, their size (a
    share of the recipe's step) and jitter, flow effort, and how long to run (None: until the
    source ends or the user stops).

    A carried frame's step is what flickers: each adds new detail the last dream did not have.
    A small share of the step with a third of the damping (0.97 against 0.9) holds the dream's
    strength with a fraction of the new detail a frame. Three steps of 0.18 of live's 0.04 make
    a stronger dream than two of a quarter for as little flicker (2.06x and 2.09x on the real
    footage and the pan against 1.97x and 1.93x, warping error 1.13x and 1.89x of the footage's
    own); each carried frame's own jitter lets the dream of a still camera deepen rather than
    settle (benchmarks/live_steady.py, issue 21)."""

    coherence: float = LIVE_COHERENCE
    frame_iterations: int = 3
    frame_step: float = 0.18
    own_jitter: bool = True
    flow_quality: str = "medium"
    duration: float | None = None

    def video(self) -> VideoSettings:
        """The same as ``deepdream video`` settings (checked by their schema)."""
        return VideoSettings(
            coherence=self.coherence,
            frame_iterations=self.frame_iterations,
            flow_quality=self.flow_quality,
        )


def frame_loop(
    config: DreamConfig,
    settings: LiveSettings,
    shape: tuple[int, int],
    *,
    device: str = "auto",
    precision: str = "auto",
    weights: str | Path | None = None,
    warm: bool = True,
) -> FrameLoop:
    """The coherent frame loop of ``video.clip`` for frames of ``shape`` (H, W), set up once
    and warmed up (a first dream pays for lazy set-up: it would be dropped frames live)."""
    if not 0 < settings.frame_step <= 1:
        raise DreamError(f"frame step {settings.frame_step}: need a share of the step in (0, 1]")
    loop = FrameLoop(
        config,
        settings.video(),
        shape,
        device=device,
        precision=precision,
        weights=weights,
        carried=CarriedFrames(config.step * settings.frame_step, settings.own_jitter),
    )
    grey = np.full((*shape, 3), 128, np.float32)
    sessions = {id(s): s for s in (loop.sessions.first, loop.sessions.later)} if warm else {}
    for session in sessions.values():
        session.dream(grey)
    return loop


class CoherentDreamer:
    """Push one frame, get its dream carried on from the last: ``FrameLoop.frames`` fed one
    frame at a time, so live frames are dreamed exactly as a clip's are."""

    def __init__(self, loop: FrameLoop, cancel: threading.Event | None = None) -> None:
        # The loop's input reads this one-frame slot, not the dreamer: no reference cycle, so a
        # dreamer let go ends its frame loop at once (and the loop's hold on the heap with it).
        self._slot: list[vio.Frame] = []
        self._dreams = loop.frames(_taken(self._slot), cancel=cancel)

    def dream(self, index: int, rgb: np.ndarray) -> DreamedFrame:
        """The dream of ``rgb``; raises :class:`Cancelled` once the cancel flag is set."""
        self._slot.append(vio.Frame(index, rgb, index))
        return next(self._dreams)


def _taken(slot: list[vio.Frame]) -> Iterator[vio.Frame]:
    """Each frame put in ``slot``, as the frame loop asks for it."""
    while slot:
        yield slot.pop()


class LatestFrame:
    """A one-frame slot between the grabber and the dreamer: a frame still there when the next
    arrives is dropped (counted), so the dreamer always gets the newest."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Captured | None = None
        self.dropped = 0
        self.ended = False
        self.error: BaseException | None = None

    def put(self, item: Captured) -> None:
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify()

    def end(self, error: BaseException | None = None) -> None:
        with self._cond:
            self.ended, self.error = True, error
            self._cond.notify()

    def take(self, stop: threading.Event) -> Captured | None:
        """The newest frame, waiting for one; None when the source ended or ``stop`` is set."""
        with self._cond:
            while self._item is None and not self.ended and not stop.is_set():
                self._cond.wait(0.05)
            item, self._item = self._item, None
            return None if stop.is_set() else item


def grab(source: Source, slot: LatestFrame, stop: threading.Event, duration: float | None) -> None:
    """The grabber thread: every source frame into ``slot`` as it comes (a file at its own
    rate, as a camera would give it), until the end, ``duration`` or ``stop``."""
    error: BaseException | None = None
    start = time.perf_counter()
    try:
        for index, (rgb, t) in enumerate(source.frames()):
            if stop.is_set() or (duration is not None and t >= duration):
                break
            wait = start + t - time.perf_counter() if source.paced else 0.0
            if wait > 0 and stop.wait(wait):
                break
            slot.put(Captured(index, rgb, t, time.perf_counter()))
    except Exception as e:  # handed to the dreamer's thread, which raises it
        error = e
    finally:
        slot.end(error)


@dataclass
class LiveStats:
    """How a live run went: frames dreamed, the wall time, each shown frame's latency from
    capture to display, the frames dropped because the dreamer was busy, and how many frames
    ran on each schedule of CPU threads (one count per octave; live frames choose theirs from
    the free CPUs and are not reproducible, see docs/live.md)."""

    dreamed: int = 0
    seconds: float = 0.0
    dropped: int = 0
    latencies: list[float] = field(default_factory=list)
    last_t: float = 0.0  # source time of the last frame dreamed
    threads: Counter[tuple[int, ...]] = field(default_factory=Counter)

    @property
    def fps(self) -> float:
        return self.dreamed / self.seconds if self.seconds > 0 else 0.0

    def latency(self, q: float) -> float:
        """The ``q`` quantile of the latency in seconds (0 when nothing was shown)."""
        return float(np.quantile(self.latencies, q)) if self.latencies else 0.0

    def line(self) -> str:
        """The one line printed at the end."""
        return (
            f"live: {self.dreamed} frames dreamed in {self.seconds:.1f} s ({self.fps:.1f} fps), "
            f"latency median {self.latency(0.5) * 1000:.0f} ms, p95 "
            f"{self.latency(0.95) * 1000:.0f} ms, {self.dropped} frames dropped{self._threads()}"
        )

    def _threads(self) -> str:
        """``, threads 1,2 x40 1,1 x3``: each schedule's frames, most used first."""
        runs = [f"{','.join(map(str, k))} x{n}" for k, n in self.threads.most_common() if k]
        return f", threads {' '.join(runs)}" if runs else ""


#: Called with each dream and the frame it came from: show it (False: the viewer closed the
#: window, stop) and record it.
Show = Callable[[np.ndarray], bool]
Keep = Callable[[np.ndarray, Captured], None]


def run_live(
    source: Source,
    loop: FrameLoop,
    settings: LiveSettings,
    stop: threading.Event,
    show: Show | None = None,
    keep: Keep | None = None,
) -> LiveStats:
    """Dream ``source`` live until it ends, ``settings.duration`` passes or ``stop`` is set
    (Ctrl-C: within one step). A source that fails mid-run raises its :class:`DreamError`."""
    slot, stats = LatestFrame(), LiveStats()
    grabber = threading.Thread(
        target=grab, args=(source, slot, stop, settings.duration), name="live-grabber"
    )
    dreamer = CoherentDreamer(loop, stop)
    start = time.perf_counter()
    grabber.start()
    try:
        while (item := slot.take(stop)) is not None:
            try:
                dreamed = dreamer.dream(item.index, item.rgb)
            except Cancelled:
                break
            if show is not None and not show(dreamed.rgb):
                stop.set()
            stats.latencies.append(time.perf_counter() - item.wall)
            stats.dreamed, stats.last_t = stats.dreamed + 1, item.t
            stats.threads[dreamed.threads] += 1
            if keep is not None:
                keep(dreamed.rgb, item)
    finally:
        stop.set()
        source.close()  # a camera or stream read in progress returns
        grabber.join(timeout=10)
    stats.seconds, stats.dropped = time.perf_counter() - start, slot.dropped
    if slot.error is not None:
        if isinstance(slot.error, DreamError):
            raise slot.error
        raise DreamError(f"{source.name}: {slot.error}") from slot.error
    return stats
