"""The octave loop and the gradient-ascent step, top to bottom like the reference notebook.

Images are (1, 3, H, W) tensors in the model's input space: the step size and the detail
re-injection happen there, exactly as in the reference. Jitter (a random roll) wraps the
gradient computation and leaves the loop itself untouched; the quality controls (smoothing,
colour preservation, clipping) are one hook object from ``transforms``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

import inceptionism.runtime as runtime
from inceptionism.algorithm.objectives import Objective, objective_for
from inceptionism.algorithm.plan import DreamPlan, make_plan
from inceptionism.algorithm.shaping import NO_SHAPING, Shaping, shaping_for
from inceptionism.algorithm.tiling import StepGrad, tiled
from inceptionism.config import MAX_OCTAVES, DreamConfig
from inceptionism.errors import DreamError
from inceptionism.models.base import DreamModel
from inceptionism.models.devices import pick_device as pick_device  # its old home

# progress(steps_done_in_total, loss) is called after each step; loss is a 0-dim tensor.
Progress = Callable[[int, torch.Tensor], None]
# warn(message) receives the one-line warnings of a dream (see max_loss_warning).
Warn = Callable[[str], None]

EPSILON = 1e-7  # Keras' K.epsilon(): floor of the gradient normaliser


def octave_side(side: int, scale: float, i: int) -> int:
    """The reference's ``int(side / scale**i)``; 0 where ``scale**i`` overflows a float."""
    try:
        return int(side / scale**i)
    except OverflowError:
        return 0


def octave_count(shape: tuple[int, int], octaves: int, scale: float, min_side: int = 1) -> int:
    """How many of the first ``octaves`` pyramid levels keep ``min_side`` px on the short side.

    Computed, not counted: levels shrink monotonically, so the answer is the largest ``i`` with
    ``short / scale**i >= min_side``, estimated with logarithms and corrected by a step or two
    for float rounding. A billion octaves of 1.00000001 answer at once.
    """
    short, min_side = min(shape), max(1, min_side)
    if short < min_side:
        return 0
    last = int(math.log(short / min_side) / math.log(scale)) if scale > 1 else octaves
    last = max(0, min(last, octaves - 1))
    while last + 1 < octaves and octave_side(short, scale, last + 1) >= min_side:
        last += 1
    while last > 0 and octave_side(short, scale, last) < min_side:
        last -= 1
    return last + 1


def octave_shapes(
    shape: tuple[int, int], octaves: int, scale: float, min_side: int = 1
) -> list[tuple[int, int]]:
    """The reference's pyramid ``int(dim / scale**i)``, smallest first, without the levels whose
    short side is under ``min_side`` (never fewer than the full size)."""
    count = max(1, octave_count(shape, octaves, scale, min_side))
    if count > MAX_OCTAVES:
        raise DreamError(f"{count} octaves: at most {MAX_OCTAVES} are allowed")
    shapes = [tuple(octave_side(d, scale, i) for d in shape) for i in range(count)]
    return [(h, w) for h, w in reversed(shapes)]


def usable_shapes(shapes: list[tuple[int, int]], min_side: int) -> list[tuple[int, int]]:
    """Drop octaves too small for the network; refuse only when even the full size is."""
    ok = [s for s in shapes if min(s) >= min_side]
    if not ok:
        h, w = shapes[-1]
        raise DreamError(
            f"image {w}x{h} is too small for these layers: "
            f"they need at least {min_side} px on the short side"
        )
    return ok


def pyramid(shape: tuple[int, int], config: DreamConfig, min_side: int) -> list[tuple[int, int]]:
    """The octave shapes the dream runs, smallest first (too small ones skipped)."""
    return usable_shapes(
        octave_shapes(shape, config.octaves, config.octave_scale, min_side), min_side
    )


def resize(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Bilinear with half-pixel centres, no antialias: comparable across implementations."""
    if tuple(x.shape[-2:]) == tuple(shape):
        return x
    return F.interpolate(x, size=shape, mode="bilinear", align_corners=False)


def loss_and_gradient(
    model: DreamModel, objective: Objective, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Objective at ``x`` and its gradient w.r.t. the image (never w.r.t. the weights)."""
    x = x.detach().requires_grad_(True)
    loss = objective(model.activations(x, objective.layers))
    (grad,) = torch.autograd.grad(loss, x)
    return loss.detach(), grad


def normalize(grad: torch.Tensor) -> torch.Tensor:
    """Scale the gradient to unit mean magnitude, so the step size means the same everywhere."""
    return grad / grad.abs().mean().clamp_min(EPSILON)


def rolled(
    fn: StepGrad,
    x: torch.Tensor,
    shift: tuple[int, int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Google's jitter: evaluate ``fn`` on the image rolled by ``shift``, roll the gradient back.

    A step function with a ``rolled(x, shift)`` method (the tiled one) does this itself without
    two full-size copies; the result is the same.
    """
    if shift == (0, 0):
        return fn(x)
    roll_aware = getattr(fn, "rolled", None)
    if roll_aware is not None:
        return roll_aware(x, shift)
    loss, grad = fn(torch.roll(x, shift, dims=(-2, -1)))
    return loss, torch.roll(grad, (-shift[0], -shift[1]), dims=(-2, -1))


def jitter_shift(rng: torch.Generator, jitter: int) -> tuple[int, int]:
    """The random roll of one step (Google's jitter), drawn from the dream's generator."""
    if not jitter:
        return (0, 0)
    return tuple(torch.randint(-jitter, jitter + 1, (2,), generator=rng).tolist())  # type: ignore[return-value]


def ascent_steps(
    x: torch.Tensor,
    step_grad: StepGrad,
    config: DreamConfig,
    rng: torch.Generator,
    shaping: Shaping = NO_SHAPING,
    on_stop: Callable[[int, float], None] | None = None,
    *,
    overwrite: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One octave's ``iterations`` normalised steps from ``x``; yields ``(loss, image)`` after
    each. Stops early, before stepping, once the loss passes ``max_loss``.

    ``shaping`` may reshape each gradient before it is normalised, and the image after each step
    (knowing the image before it). ``on_stop(steps_taken, loss)`` hears when ``max_loss`` ended
    the octave. ``overwrite`` updates ``x`` itself rather than a copy (the octave loop owns its
    image: on a big photo every full-size copy counts); the image yielded is then that same
    tensor, changed by the next step. The arithmetic is the same either way.
    """
    check_loss = config.max_loss != float("inf")
    if not overwrite:
        x = x.clone()
    for taken in range(config.iterations):
        loss, grad = rolled(step_grad, x, jitter_shift(rng, config.jitter))
        if check_loss and loss.item() > config.max_loss:
            if on_stop is not None:
                on_stop(taken, loss.item())
            return
        delta = normalize(shaping.gradient(grad))
        del grad
        before = x.clone() if shaping.needs_before else None  # the clip knee compares
        x.add_(delta.mul_(config.step))  # = x + step * delta, in place
        del delta
        shaped = shaping.image(x, before)
        del before
        if shaped is not x:
            x.copy_(shaped)
            del shaped
        yield loss, x


def gradient_ascent(
    x: torch.Tensor,
    step_grad: StepGrad,
    config: DreamConfig,
    rng: torch.Generator,
    on_step: Callable[[torch.Tensor], None] | None = None,
    shaping: Shaping = NO_SHAPING,
    *,
    overwrite: bool = False,
) -> torch.Tensor:
    """:func:`ascent_steps` run to the end; ``on_step(loss)`` after each step."""
    if not overwrite:
        x = x.clone()
    for loss, _ in ascent_steps(x, step_grad, config, rng, shaping, overwrite=True):
        if on_step is not None:
            on_step(loss)
    return x


def step_gradient(plan: DreamPlan, config: DreamConfig, shape: tuple[int, int]) -> StepGrad:
    """The per-step loss and gradient, by tiles where ``config.tile`` asks for them (``shape``:
    the full size; the tile is chosen per octave, see tiling.py)."""
    model, objective = plan.model, plan.objective

    def step_grad(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return loss_and_gradient(model, objective, x)

    return tiled(step_grad, plan, config, shape)


def lost_detail(
    photo_at: Callable[[tuple[int, int]], torch.Tensor],
    shrunk: torch.Tensor,
    shape: tuple[int, int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """(detail of the photo at ``shape`` that its previous octave's size ``shrunk`` lost, the
    photo at ``shape``): what the reference adds back after each octave's ascent."""
    same_size = photo_at(shape)
    return same_size - resize(shrunk, shape), same_size


@dataclass(frozen=True)
class Step:
    """One gradient step of a dream: its octave (1-based) of ``octaves``, its number (1-based,
    over all octaves) of at most ``total``, its loss (a 0-dim tensor, read only when needed: on a
    GPU reading it waits for the GPU) and the image after it, in the model's input space (the
    loop's own tensor: changed by the next step)."""

    octave: int
    octaves: int
    step: int
    total: int
    loss: torch.Tensor
    image: torch.Tensor


def dream_steps(
    plan: DreamPlan,
    pixels: torch.Tensor,
    config: DreamConfig,
    shaping: Shaping = NO_SHAPING,
    init: torch.Tensor | None = None,
    warn: Warn | None = None,
    threads: runtime.OctaveThreads | None = None,
) -> Generator[Step, None, torch.Tensor]:
    """The octave loop, one :class:`Step` per gradient step; returns the dream (pixels 0..255).

    ``plan`` is the session's set-up (the model set up by ``fast``, the objective, the smallest
    side its layers need). ``pixels`` is the photo ((1, 3, H, W), RGB 0..255, on the plan's
    device): the base of every octave, from which the lost detail re-injected after
    each octave is computed, as in the reference. ``init`` (same layout and size), when given, is
    where the ascent starts instead of the photo, e.g. a video frame plus the previous frame's
    warped dream detail; the photo's detail is still what the octaves add back.

    Memory: besides ``pixels``, the loop holds the dream and its gradient at the octave's size
    (plus one window's graph, see tiling.py). The photo in the model's input space is not kept
    at full size: each octave's copy is computed from ``pixels`` when the lost detail is
    re-injected, with the same arithmetic as keeping it.

    ``warn`` gets the dream's one-line warnings (default: ``warnings.warn``, a
    :class:`DreamWarning`), e.g. when ``max_loss`` ended octaves before their first step, so a
    dream that changed little is never silent. ``threads`` picks each octave's CPU threads and
    records them (default: from the CPUs free now, see ``runtime.ThreadPolicy``).
    """
    with runtime.dream_threads(pixels.device, threads) as octave_threads:  # alone or beside others
        return (yield from _octaves(plan, pixels, config, shaping, init, warn, octave_threads))


def _octaves(
    plan: DreamPlan,
    pixels: torch.Tensor,
    config: DreamConfig,
    shaping: Shaping,
    init: torch.Tensor | None,
    warn: Warn | None,
    threads: runtime.OctaveThreads,
) -> Generator[Step, None, torch.Tensor]:
    """``dream_steps`` with each octave on the CPU threads ``threads`` picks."""
    model = plan.model
    full = (int(pixels.shape[-2]), int(pixels.shape[-1]))
    shapes = pyramid(full, config, plan.min_side)
    step_grad = step_gradient(plan, config, full)  # big images: by tiles
    rng = torch.Generator().manual_seed(config.seed)
    total = len(shapes) * config.iterations
    done = 0

    def photo_at(shape: tuple[int, int]) -> torch.Tensor:
        return resize(model.preprocess(pixels), shape)

    shrunk = photo_at(shapes[0])
    start = shrunk if init is None else resize(model.preprocess(init), shapes[0])
    img = start.clone()
    unstarted: list[tuple[int, float]] = []  # (octave, loss) of octaves max_loss ended at once
    for k, shape in enumerate(shapes, 1):
        img = resize(img, shape)

        def on_stop(taken: int, loss: float, octave: int = k) -> None:
            if taken == 0:
                unstarted.append((octave, loss))

        with threads.octave(k - 1, shape):  # small octaves, busy cores: fewer threads
            steps = ascent_steps(img, step_grad, config, rng, shaping, on_stop, overwrite=True)
            for loss, _ in steps:
                done += 1
                yield Step(k, len(shapes), done, total, loss, img)
                threads.hold()  # resumed, maybe on another thread
        detail, shrunk = lost_detail(photo_at, shrunk, shape)
        img.add_(detail)
        del detail
    del shrunk, start
    if unstarted and config.iterations:
        message = max_loss_warning(unstarted, len(shapes), config.max_loss)
        if warn is None:
            warnings.warn(message, DreamWarning, stacklevel=3)
        else:
            warn(message)
    out = model.preprocess.invert(img)
    del img
    return out.clamp_(0, 255)


class DreamWarning(UserWarning):
    """A dream that ran but did less than its settings suggest (e.g. max_loss stopped it)."""


def max_loss_warning(unstarted: list[tuple[int, float]], octaves: int, limit: float) -> str:
    """One line naming the loss, the limit and what to change.

    ``max_loss`` is an absolute number in the model's loss scale (the reference's 10 was set for
    InceptionV1); on a model whose loss starts above it, every octave ends before its first step
    and the output is the input, which must never pass unnoticed.
    """
    octave, loss = unstarted[0]
    if len(unstarted) == octaves:
        what = f"every octave ({octaves}) before its first step: the output is the input"
    else:
        what = f"{len(unstarted)} of {octaves} octaves before their first step"
    return (
        f"max_loss {limit:g} ended {what} (loss {loss:.3g} > {limit:g} at octave {octave}); "
        f"raise max_loss (--max-loss) above the loss, or set it to inf (off)"
    )


def dream_tensor(
    model: DreamModel,
    pixels: torch.Tensor,
    config: DreamConfig,
    objective: Objective | None = None,
    progress: Progress | None = None,
    warn: Warn | None = None,
) -> torch.Tensor:
    """Dream on ``pixels`` ((1, 3, H, W), RGB 0..255, on the model's device); same layout out.

    The whole dream in one call, for tests and benchmarks; :class:`inceptionism.Dreamer` is the
    session that front ends use (set-up once, previews, cancel). ``warn``: as ``dream_steps``.
    """
    model = model.fast()  # batch norms folded, fast layout (a model already set up: itself)
    plan = make_plan(model, objective or objective_for(config, model))
    shaping = shaping_for(config, model.preprocess)
    steps = dream_steps(plan, pixels, config, shaping, warn=warn)
    while True:
        try:
            s = next(steps)
        except StopIteration as end:
            return end.value
        if progress is not None:
            progress(s.step, s.loss)


def total_steps(plan: DreamPlan, shape: tuple[int, int], config: DreamConfig) -> int:
    """Upper bound of steps (max_loss may end octaves early), for a progress bar."""
    return len(pyramid(shape, config, plan.min_side)) * config.iterations
