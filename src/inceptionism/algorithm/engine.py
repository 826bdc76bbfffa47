"""The octave loop and the gradient-ascent step, top to bottom like the reference notebook.

Images are (1, 3, H, W) tensors in the model's input space: the step size and the detail
re-injection happen there, exactly as in the reference. Jitter (a random roll) wraps the
gradient computation and leaves the loop itself untouched; the quality controls (smoothing,
colour preservation, clipping) are one hook object from ``transforms``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F

from inceptionism.algorithm.objectives import Objective, from_config
from inceptionism.algorithm.shaping import NO_SHAPING, Shaping
from inceptionism.algorithm.shaping import from_config as shaping_from_config
from inceptionism.algorithm.tiling import tiled
from inceptionism.config import DreamConfig
from inceptionism.errors import DreamError
from inceptionism.models.base import DreamModel

# progress(steps_done_in_total, loss) is called after each step; loss is a 0-dim tensor.
Progress = Callable[[int, torch.Tensor], None]
# warn(message) receives the one-line warnings of a dream (see max_loss_warning).
Warn = Callable[[str], None]

EPSILON = 1e-7  # Keras' K.epsilon(): floor of the gradient normaliser


def octave_shapes(shape: tuple[int, int], octaves: int, scale: float) -> list[tuple[int, int]]:
    """The reference's pyramid ``int(dim / scale**i)``, smallest first."""
    shapes = [tuple(int(d / scale**i) for d in shape) for i in range(octaves)]
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
    """Google's jitter: evaluate ``fn`` on the image rolled by ``shift``, roll the gradient back."""
    if shift == (0, 0):
        return fn(x)
    loss, grad = fn(torch.roll(x, shift, dims=(-2, -1)))
    return loss, torch.roll(grad, (-shift[0], -shift[1]), dims=(-2, -1))


def gradient_ascent(
    x: torch.Tensor,
    step_grad: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    config: DreamConfig,
    rng: torch.Generator,
    on_step: Callable[[torch.Tensor], None] | None = None,
    shaping: Shaping = NO_SHAPING,
    on_stop: Callable[[int, float], None] | None = None,
) -> torch.Tensor:
    """``iterations`` normalised steps; stop early once the loss passes ``max_loss``.

    ``shaping`` may reshape each gradient before it is normalised, and the image after each step.
    ``on_stop(steps_taken, loss)`` hears when ``max_loss`` ended the octave.
    """
    check_loss = config.max_loss != float("inf")
    j = config.jitter
    for taken in range(config.iterations):
        shift = (0, 0)
        if j:
            shift = tuple(torch.randint(-j, j + 1, (2,), generator=rng).tolist())
        loss, grad = rolled(step_grad, x, shift)  # type: ignore[arg-type]
        if check_loss and loss.item() > config.max_loss:
            if on_stop is not None:
                on_stop(taken, loss.item())
            break
        x = shaping.image(x + config.step * normalize(shaping.gradient(grad)), x)
        if on_step is not None:
            on_step(loss)
    return x


def dream_tensor(
    model: DreamModel,
    pixels: torch.Tensor,
    config: DreamConfig,
    objective: Objective | None = None,
    progress: Progress | None = None,
    warn: Warn | None = None,
) -> torch.Tensor:
    """Dream on ``pixels`` ((1, 3, H, W), RGB 0..255, on the model's device); same layout out.

    ``warn`` gets the dream's warnings (default: ``warnings.warn``), e.g. when ``max_loss`` ended
    octaves before their first step, so a dream that changed little is never silent.
    """
    model = model.fast()  # batch norms folded, fast layout (a model already set up: itself)
    objective = objective or from_config(config, model)
    shaping = shaping_from_config(config, model.preprocess)
    img = model.preprocess(pixels)
    original = img
    shapes = usable_shapes(
        octave_shapes(tuple(img.shape[-2:]), config.octaves, config.octave_scale),
        model.min_side(objective.layers, objective.min_size),
    )
    rng = torch.Generator().manual_seed(config.seed)
    done = 0

    def on_step(loss: torch.Tensor) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, loss)

    def step_grad(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return loss_and_gradient(model, objective, x)

    unstarted: list[tuple[int, float]] = []  # (octave, loss) of octaves max_loss ended at once

    def on_stop(octave: int, taken: int, loss: float) -> None:
        if taken == 0:
            unstarted.append((octave, loss))

    step_grad = tiled(step_grad, model, objective, config, shapes[-1])  # big images: by tiles
    shrunk_original = resize(original, shapes[0])
    for octave, shape in enumerate(shapes, 1):
        img = resize(img, shape)
        img = gradient_ascent(
            img, step_grad, config, rng, on_step, shaping, functools.partial(on_stop, octave)
        )
        same_size_original = resize(original, shape)
        img = img + (same_size_original - resize(shrunk_original, shape))  # lost detail
        shrunk_original = same_size_original
    if unstarted and config.iterations:
        message = max_loss_warning(unstarted, len(shapes), config.max_loss)
        if warn is None:
            warnings.warn(message, DreamWarning, stacklevel=2)
        else:
            warn(message)
    return model.preprocess.invert(img).clamp(0, 255)


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


def total_steps(
    model: DreamModel, shape: tuple[int, int], config: DreamConfig, objective: Objective
) -> int:
    """Upper bound of steps (max_loss may end octaves early), for a progress bar."""
    shapes = usable_shapes(
        octave_shapes(shape, config.octaves, config.octave_scale),
        model.min_side(objective.layers, objective.min_size),
    )
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
        raise DreamError(f"unknown device {name!r} (choose cpu, cuda, mps or auto)")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DreamError("device cuda asked for, but no CUDA GPU is available")
    if name == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise DreamError("device mps asked for, but Apple's MPS is not available")
    return torch.device(name)
