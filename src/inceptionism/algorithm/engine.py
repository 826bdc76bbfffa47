"""The octave loop and the gradient-ascent step, top to bottom like the reference notebook.

Images are (1, 3, H, W) tensors in the model's input space: the step size and the detail
re-injection happen there, exactly as in the reference. Jitter (a random roll) wraps the
gradient computation and leaves the loop itself untouched; the quality controls (smoothing,
colour preservation, clipping) are one hook object from ``transforms``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from inceptionism.algorithm.objectives import Objective, from_config
from inceptionism.algorithm.shaping import NO_SHAPING, Shaping
from inceptionism.algorithm.shaping import from_config as shaping_from_config
from inceptionism.algorithm.tiling import tiled
from inceptionism.config import MAX_OCTAVES, DreamConfig
from inceptionism.errors import DreamError, quote
from inceptionism.models.base import DreamModel

# progress(steps_done_in_total, loss) is called after each step; loss is a 0-dim tensor.
Progress = Callable[[int, torch.Tensor], None]

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
    fn: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
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


def gradient_ascent(
    x: torch.Tensor,
    step_grad: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    config: DreamConfig,
    rng: torch.Generator,
    on_step: Callable[[torch.Tensor], None] | None = None,
    shaping: Shaping = NO_SHAPING,
    *,
    overwrite: bool = False,
) -> torch.Tensor:
    """``iterations`` normalised steps; stop early once the loss passes ``max_loss``.

    ``shaping`` may reshape each gradient before it is normalised, and the image after each step.
    ``overwrite`` updates ``x`` itself rather than a copy (the octave loop owns its image: on a
    big photo every full-size copy counts). The arithmetic is the same either way.
    """
    check_loss = config.max_loss != float("inf")
    j = config.jitter
    if not overwrite:
        x = x.clone()
    for _ in range(config.iterations):
        shift = (0, 0)
        if j:
            shift = tuple(torch.randint(-j, j + 1, (2,), generator=rng).tolist())
        loss, grad = rolled(step_grad, x, shift)  # type: ignore[arg-type]
        if check_loss and loss.item() > config.max_loss:
            break
        delta = normalize(shaping.gradient(grad))
        del grad
        x.add_(delta.mul_(config.step))  # = x + step * delta, in place
        del delta
        shaped = shaping.image(x)
        if shaped is not x:
            x.copy_(shaped)
            del shaped
        if on_step is not None:
            on_step(loss)
    return x


def dream_tensor(
    model: DreamModel,
    pixels: torch.Tensor,
    config: DreamConfig,
    objective: Objective | None = None,
    progress: Progress | None = None,
) -> torch.Tensor:
    """Dream on ``pixels`` ((1, 3, H, W), RGB 0..255, on the model's device); same layout out.

    Memory: besides the caller's ``pixels``, the loop holds the dream and its gradient at the
    octave's size (plus one window's graph, see tiling.py). The original in the model's input
    space is not kept at full size: each octave's copy is computed from ``pixels`` when the
    lost detail is re-injected, with the same arithmetic as keeping it.
    """
    model = model.fast()  # batch norms folded, fast layout (a model already set up: itself)
    objective = objective or from_config(config, model)
    shaping = shaping_from_config(config, model.preprocess)
    full = (int(pixels.shape[-2]), int(pixels.shape[-1]))
    shapes = pyramid(full, config, model.min_side(objective.layers, objective.min_size))
    rng = torch.Generator().manual_seed(config.seed)
    done = 0

    def on_step(loss: torch.Tensor) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, loss)

    def step_grad(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return loss_and_gradient(model, objective, x)

    def original_at(shape: tuple[int, int]) -> torch.Tensor:
        return resize(model.preprocess(pixels), shape)

    step_grad = tiled(step_grad, model, objective, config, full)  # big images: by tiles
    shrunk_original = original_at(shapes[0])
    img = shrunk_original.clone()
    for shape in shapes:
        img = resize(img, shape)
        img = gradient_ascent(img, step_grad, config, rng, on_step, shaping, overwrite=True)
        same_size_original = original_at(shape)
        img.add_(same_size_original - resize(shrunk_original, shape))  # lost detail
        shrunk_original = same_size_original
    del shrunk_original, same_size_original
    out = model.preprocess.invert(img)
    del img
    return out.clamp_(0, 255)


def total_steps(
    model: DreamModel, shape: tuple[int, int], config: DreamConfig, objective: Objective
) -> int:
    """Upper bound of steps (max_loss may end octaves early), for a progress bar."""
    shapes = pyramid(shape, config, model.min_side(objective.layers, objective.min_size))
    return len(shapes) * config.iterations


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` takes CUDA, then Apple's MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name not in ("cpu", "cuda", "mps") and not name.startswith("cuda:"):
        raise DreamError(f"unknown device {quote(name)} (choose cpu, cuda, mps or auto)")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DreamError("device cuda asked for, but no CUDA GPU is available")
    if name == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise DreamError("device mps asked for, but Apple's MPS is not available")
    return torch.device(name)
