"""The progress lines of the page: octave, step, loss and time left of a dream, frame and time
left of a clip, and a preview grown to the picture's size."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
from PIL import Image

#: Least time between two previews sent to the page (each is an image to encode and send).
PREVIEW_INTERVAL_S = 0.35
#: Steps between two previews the session renders (the page gets the latest, at most every
#: PREVIEW_INTERVAL_S, and always the end of each octave).
PREVIEW_EVERY = 3


class Progress:
    """Octave k of N, step, loss and time left, from the events of a dream.

    Later octaves are bigger, so a step there costs more: the work is counted in pixels (each
    step costs its octave's area), and the time left is the work left at the speed measured
    since the first step (the model's set-up before it is not a step's cost). Each octave's
    steps are counted from its own first step: ``max_loss`` may end an octave early.
    """

    def __init__(self, sizes: Sequence[tuple[int, int]], iterations: int) -> None:
        self.areas = [h * w for h, w in sizes]  # the octaves the dream visits, smallest first
        self.iterations = max(iterations, 1)
        self.start = time.monotonic()
        self.octave = 0
        self.octave_first = 1  # the step number of the octave's first step
        self.first: tuple[float, float] | None = None  # (time, work) at the first step
        self.done = 0.0  # pixels of work done
        self.now = self.start

    def tick(self, octave: int, step: int) -> None:
        """Step ``step`` (over all octaves) of ``octave`` is done: called for every step."""
        if octave != self.octave:
            self.octave, self.octave_first = octave, step
        before = self.iterations * sum(self.areas[: octave - 1])
        k = min(len(self.areas), octave) - 1
        self.done = before + (step - self.octave_first + 1) * self.areas[k]
        self.now = time.monotonic()
        if self.first is None:
            self.first = (self.now, self.done)

    def seconds_left(self) -> float:
        """The time left at the speed since the first step (nan until there is a speed)."""
        if self.first is None or self.done <= self.first[1] or self.now <= self.first[0]:
            return math.nan
        speed = (self.done - self.first[1]) / (self.now - self.first[0])
        return max(self.iterations * sum(self.areas) - self.done, 0.0) / speed

    def line(self, octave: int, octaves: int, step: int, total: int, loss: float) -> str:
        elapsed = time.monotonic() - self.start
        left = self.seconds_left()
        eta = f"{left:.0f} s left" if math.isfinite(left) else "…"
        return (
            f"octave {octave}/{octaves} · step {step}/{total} · loss {loss:.3f} · "
            f"{elapsed:.1f} s · {eta}"
        )


def enlarged(preview: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """An octave's preview at the picture's size, so the dream grows in place on the page."""
    if preview.shape[:2] == tuple(shape):
        return preview

    pil = Image.fromarray(preview).resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
    return np.asarray(pil)


class ClipProgress:
    """Frame i of N and the time left. Later frames take ``frame_iterations`` steps per octave,
    the first (and a scene cut) the full ``iterations``, so the time left is measured on the
    later frames once there are some, and estimated from the first until then."""

    def __init__(self, count: int | None, iterations: int, frame_iterations: int) -> None:
        self.count = count
        self.ratio = max(frame_iterations, 1) / max(iterations, 1)
        self.start = time.monotonic()
        self.first: float | None = None
        self.later: list[float] = []
        self.done = 0

    def frame(self, seconds: float) -> None:
        if self.first is None:
            self.first = seconds
        else:
            self.later.append(seconds)
        self.done += 1

    def line(self, step: int | None = None, total: int | None = None) -> str:
        """Where the dream is (the frame being dreamed, its step) and the time left."""
        elapsed = time.monotonic() - self.start
        if self.count and self.done >= self.count:
            return f"{self.done}/{self.count} frames · {elapsed:.1f} s"
        where = f"frame {self.done + 1}" + (f"/{self.count}" if self.count else "")
        if step is not None and total:
            where += f" · step {step}/{total}"
        eta = "…"
        if self.count and self.first is not None:
            per = sum(self.later) / len(self.later) if self.later else self.first * self.ratio
            eta = f"{(self.count - self.done) * per:.0f} s left"
        elif self.count and step:  # the first frame: its speed so far, the rest at the ratio
            first = elapsed * (total or step) / step
            eta = f"{first - elapsed + (self.count - 1) * first * self.ratio:.0f} s left"
        return f"{where} · {elapsed:.1f} s · {eta}"
