"""One clip (``deepdream video IN -o OUT --ray``) dreamed in chunks on a Ray cluster.

The clip is cut into chunks of K frames (``ClipRun.chunk_frames``). A chunk's worker starts W
frames early (``warm_up_frames``): its first frame is dreamed afresh, as a clip's first frame is,
and by the chunk's own first frame the dream has been carried along the motion for W frames.
The worker runs the local frame loop (:class:`inceptionism.video.clip.FrameLoop`) on the frames
it was sent, so chunk 0 is exactly the local clip's start. Two chunks dream the frames before a
seam from different histories, so their dreams differ there: the last X of those frames
(``crossfade_frames``) are a linear blend, the earlier chunk's weight falling as the later
one's rises, and the warm-up frames before them are dropped.

The driver decodes the clip as it goes (a long clip is never held whole), ships each chunk's
frames as one array (no shared file system needed), and writes the returned frames in order
with the local writer, which copies the audio once and renames the file into place only when
complete. At most a few chunks per worker wait in memory. A chunk whose worker died is done
again on another (the scheduler of ``jobs/cluster.py``); a bad setting, a damaged input or a
chunk that keeps failing stops the run with one line and no output.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from inceptionism.command_options import CHUNK_BOUNDS, DEFAULT_CROSSFADE, DEFAULT_WARM_UP
from inceptionism.config import DreamConfig
from inceptionism.errors import DreamError, OptionError, Spelling, python_spelling
from inceptionism.io import video as vio
from inceptionism.io.files import RunInputs
from inceptionism.io.video import Frame
from inceptionism.jobs import cluster
from inceptionism.jobs.batch import describe, progress_bar
from inceptionism.jobs.ray_runtime import call
from inceptionism.video import flow as vflow
from inceptionism.video.clip import FrameLoop, VideoSettings, check_output

# DEFAULT_WARM_UP, DEFAULT_CROSSFADE, CHUNK_BOUNDS: declared with the options. CHUNK_BOUNDS: a
# short chunk spends much of its time warming up; a long one is slow to redo and to balance,
# and waits whole in the driver's memory: 120 frames of 1080p are 750 MB, and as much dreamed.
#: Chunks decoded ahead per worker (their frames and dreams wait in the driver's memory).
WINDOW_PER_WORKER = 2


@dataclass(frozen=True)
class ClipRun:
    """A clip to dream on Ray as its front end asked for it; ``chunk_frames`` None: the clip
    shared evenly by the workers."""

    input: str
    output: str
    overwrite: bool
    quiet: bool
    reads: RunInputs  # every file the run reads besides the input: never written over
    video: VideoSettings
    crf: int | None = None
    chunk_frames: int | None = None
    warm_up_frames: int = DEFAULT_WARM_UP
    crossfade_frames: int = DEFAULT_CROSSFADE
    spell: Spelling = python_spelling

    def seams(self, count: int | None = None, workers: int = 1) -> Seams:
        """How this clip is cut for ``workers`` (``count`` None: the options checked alone)."""
        chunk, warm_up, crossfade = self.chunk_frames, self.warm_up_frames, self.crossfade_frames
        return Seams.choose(chunk, warm_up, crossfade, count, workers)


@dataclass(frozen=True)
class Seams:
    """How the clip is cut: ``chunk`` frames a chunk, ``warm_up`` dreamed before each and
    dropped, the last ``crossfade`` of which are blended with the chunk before."""

    chunk: int
    warm_up: int
    crossfade: int

    @classmethod
    def choose(
        cls, chunk: int | None, warm_up: int, crossfade: int, count: int | None, workers: int
    ) -> Seams:
        if warm_up < 0:
            raise OptionError(f"{{warm_up_frames}} must be 0 or more, got {warm_up}")
        if chunk is not None and chunk < 1:
            raise OptionError(f"{{chunk_frames}} must be at least 1, got {chunk}")
        if chunk is None:
            low, high = CHUNK_BOUNDS
            chunk = min(high, max(low, math.ceil(count / workers))) if count else high
        if not 0 <= crossfade <= min(warm_up, chunk):
            raise OptionError(
                f"{{crossfade_frames}} must be from 0 to {{warm_up_frames}} ({warm_up}) and "
                f"{{chunk_frames}} ({chunk}), got {crossfade}"
            )
        return cls(chunk, warm_up, crossfade)


@dataclass(frozen=True)
class Chunk:
    """One chunk as the driver knows it: its place, its warm-up and its frames' timestamps."""

    index: int
    first: int  # clip index of the first frame sent (the warm-up's first)
    warm_up: int  # frames sent before the chunk's own
    pts: tuple[int, ...]  # of the chunk's own frames

    @property
    def name(self) -> str:
        """For fault injection (``cluster.FAULTS_ENV``): ``chunk-K``."""
        return f"chunk-{self.index}"


def crossfade(before: np.ndarray, after: np.ndarray, weight: float) -> np.ndarray:
    """``after`` at ``weight``, ``before`` at the rest (uint8)."""
    mixed = (1 - weight) * before.astype(np.float32) + weight * after.astype(np.float32)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


# -- the worker ---------------------------------------------------------------------------------


class ChunkWorker:
    """One Ray actor: the local frame loop set up once, then one chunk of frames per call."""

    def __init__(self, spec: cluster.WorkerSpec, video: Any, shape: tuple[int, int]) -> None:
        self.error: str | None = None
        self.node = ""

        def build(spec: cluster.WorkerSpec, folder: Path) -> FrameLoop:
            cfg, weights = cluster.local_files(spec, folder)
            return FrameLoop(
                cfg, video, shape, device=spec.device, precision=spec.precision, weights=weights
            )

        try:
            self.loop = cluster.set_up(spec, build)
        except DreamError as e:
            self.error = describe(e, spec.spell)
        self.spell = spec.spell

    def ready(self) -> str | None:
        """None once set up; else why not (a bad setting: the same on every worker)."""
        return self.error

    def dream(self, chunk: Chunk, frames: np.ndarray) -> cluster.Outcome:
        """The dreams of ``frames`` (the chunk's warm-up, then its own), in order."""
        if self.error is not None:
            return cluster.Outcome("bad", self.error, node=self.node)
        try:
            cluster.fault(chunk.name)
            inputs = (Frame(chunk.first + i, np.array(rgb), 0) for i, rgb in enumerate(frames))
            dreams = np.stack([d.rgb for d in self.loop.frames(inputs)])
            return cluster.Outcome("done", frames=dreams, node=self.node)
        except Exception as e:
            return cluster.failed(e, self.node, self.spell)


# -- the driver ---------------------------------------------------------------------------------


class _Cutter:
    """Cuts the decoded clip into chunks as they are wanted, keeping the last W frames for the
    next chunk's warm-up (the clip is read once, front to back)."""

    def __init__(self, frames: Any, seams: Seams) -> None:
        self.frames, self.seams = iter(frames), seams
        self.recent: deque[np.ndarray] = deque(maxlen=seams.warm_up or 1)
        self.made = 0
        self.exhausted = False

    def next(self) -> tuple[Chunk, np.ndarray] | None:
        if self.exhausted:
            return None
        own = list(islice(self.frames, self.seams.chunk))
        if not own:
            self.exhausted = True
            return None
        warm = list(self.recent) if self.seams.warm_up else []
        chunk = Chunk(self.made, own[0].index - len(warm), len(warm), tuple(f.pts for f in own))
        self.recent.extend(f.rgb for f in own)
        self.made += 1
        return chunk, np.stack([*warm, *(f.rgb for f in own)])


class _Stitcher:
    """Writes the chunks' frames in clip order, whatever order they come back in, blending the
    last ``crossfade`` frames before each seam."""

    def __init__(self, writer: Any, crossfade: int, bar: Any) -> None:
        self.writer, self.crossfade, self.bar = writer, crossfade, bar
        self.written = 0  # frames written since the bar last moved
        self.next = 0  # the chunk to write next
        self.waiting: dict[int, tuple[Chunk, np.ndarray]] = {}
        self.tail: list[tuple[np.ndarray, int]] = []  # the last chunk's unwritten end, with pts

    def add(self, chunk: Chunk, dreams: np.ndarray) -> None:
        self.waiting[chunk.index] = (chunk, dreams)
        while self.next in self.waiting:
            chunk, dreams = self.waiting.pop(self.next)
            own = dreams[chunk.warm_up :]
            lead = dreams[chunk.warm_up - len(self.tail) : chunk.warm_up]
            for i, ((before, pts), after) in enumerate(zip(self.tail, lead, strict=True)):
                self._write(crossfade(before, after, (i + 1) / (len(self.tail) + 1)), pts)
            keep = len(own) - min(self.crossfade, len(own))
            for rgb, pts in zip(own[:keep], chunk.pts[:keep], strict=True):
                self._write(rgb, pts)
            self.tail = list(zip(own[keep:], chunk.pts[keep:], strict=True))
            self.next += 1
        self._show()

    def finish(self) -> None:
        """The last chunk's end: no seam after it."""
        for rgb, pts in self.tail:
            self._write(rgb, pts)
        self.tail = []
        self._show()

    def _write(self, rgb: np.ndarray, pts: int) -> None:
        self.writer.write(rgb, pts)
        self.written += 1

    def _show(self) -> None:
        """The bar moves by a chunk at a time: its first move after a long wait is then a
        chunk's frames over that wait, not one frame's (an hour's ETA for a minute's clip)."""
        self.bar.update(self.written)
        self.written = 0


class _ClipDriver(cluster.Scheduler):
    """Sends chunks as workers free up, at most a window ahead of the stitcher."""

    def __init__(
        self, ray: Any, actors: list[Any], cutter: _Cutter, stitcher: _Stitcher, window: int
    ) -> None:
        super().__init__(ray, actors, [])
        self.cutter, self.stitcher, self.window = cutter, stitcher, window

    def _started(self) -> None:
        self.stitcher.bar.unpause()  # rate and ETA from here: Ray's start-up is no frame's time

    def _refill(self) -> None:
        if self.todo or self.cutter.made - self.stitcher.next >= self.window:
            return
        made = self.cutter.next()
        if made is not None:
            chunk, frames = made
            first = chunk.first + chunk.warm_up
            label = f"frames {first + 1}-{first + len(chunk.pts)}"
            self.todo.append(cluster.Job((chunk, call(self.ray.put, frames)), label))

    def _submit(self, actor: Any, job: cluster.Job) -> Any:
        chunk, frames = job.task
        return actor.dream.remote(chunk, frames)  # a top-level ref: the worker gets the array

    def _done(self, job: cluster.Job, outcome: cluster.Outcome) -> None:
        chunk, _ = job.task
        job.task = None  # its frames may go
        self.stitcher.add(chunk, outcome.frames)

    def _fail(self, job: cluster.Job, message: str) -> None:
        raise DreamError(message)  # a clip is whole or nothing


def run(
    request: ClipRun,
    ray_options: cluster.RayOptions,
    cfg: DreamConfig,
    notify: Callable[[str], None],
) -> Path:
    """The clip dreamed on Ray: the output, written once complete. Everything that can be
    checked here is, before Ray starts: the output, the settings, the input."""
    kind = vio.output_kind(request.output)
    out = check_output(request.output, request.input, request.overwrite, request.reads)
    request.video.check()
    request.seams()  # the options, checked before Ray starts
    cluster.import_ray()
    vio.require_av()
    vflow._cv2()
    video = request.video
    clip = vio.open_clip(
        request.input,
        start=video.start,
        duration=video.duration,
        fps_out=video.fps_out,
        max_side=cfg.max_side,
        even=vio.needs_even(kind),
    )
    for note in clip.notes:
        notify(note)
    with cluster.connected(ray_options.address) as ray:
        pool, spec = cluster.workers_for(ray, ray_options, cfg, request.spell)
        cluster.note_one_machine(ray, pool, request.quiet)
        seams = request.seams(clip.count, pool.count)
        shape = (clip.height, clip.width)
        actors = cluster.start_actors(ray, pool, ChunkWorker, spec, video, shape)
        writer = vio.VideoWriter.for_clip(out, clip, request.crf, notify)
        _dream_chunks(ray, actors, clip, seams, writer, request)
    return out


def _dream_chunks(
    ray: Any, actors: list[Any], clip: Any, seams: Seams, writer: Any, request: ClipRun
) -> None:
    """The chunks sent, gathered and written in order; the output complete, or none."""
    bar = progress_bar(clip.count, request.quiet, "frame", "frames", steady=True)
    with writer, bar:
        stitcher = _Stitcher(writer, seams.crossfade, bar)
        window = WINDOW_PER_WORKER * len(actors)
        driver = _ClipDriver(ray, actors, _Cutter(clip.frames(), seams), stitcher, window)
        driver.spell = request.spell
        driver.run()
        stitcher.finish()
        if writer.count == 0:
            raise DreamError(f"{request.input} has no frames in the chosen time range")
        writer.close()
