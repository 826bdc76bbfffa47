"""A plain, unoptimised PyTorch transcription of the reference Keras notebook: the one copy that
the tests check the engine against and the benchmarks time it against.

Deliberately naive: the full forward pass on the network as given (to the logits, batch norms
as separate ops, default memory layout), the loss read back with ``.item()`` every step, no
early stop of the forward pass. Extended only by what the benchmarked settings use: jitter,
drawn from the same seeded generator as the engine (off by default), so the two give the same
dream (up to float rounding) and only the time differs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

Features = Callable[[torch.Tensor], dict[str, torch.Tensor]]


def resize_img(img: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(img, size=size, mode="bilinear", align_corners=False)


def features(net: nn.Module, paths: Mapping[str, str]) -> Features:
    """A function returning the outputs of the named modules, after a full forward pass."""
    mods = dict(net.named_modules())

    def run(x: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        hs = [
            mods[p].register_forward_hook(lambda m, i, o, n=n: out.__setitem__(n, o))
            for n, p in paths.items()
        ]
        try:
            net(x)
        finally:
            for h in hs:
                h.remove()
        return out

    return run


def loss_and_grads(
    feats: Features, settings: Mapping[str, float], x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference loss (border-cut sum of squares over layer size) and its raw gradient."""
    x = x.clone().requires_grad_(True)
    acts = feats(x)
    loss = torch.zeros((), dtype=x.dtype, device=x.device)
    for name, coeff in settings.items():
        a = acts[name]
        loss = loss + coeff * torch.sum(torch.square(a[:, :, 2:-2, 2:-2])) / a.numel()
    grads = torch.autograd.grad(loss, x)[0]
    return loss, grads


def deep_dream(
    feats: Features,
    settings: Mapping[str, float],
    img: torch.Tensor,
    *,
    step: float = 0.01,
    num_octave: int = 10,
    octave_scale: float = 1.2,
    iterations: int = 10,
    max_loss: float | None = 10.0,
    jitter: int = 0,
    seed: int = 0,
    steps: Counter | None = None,
) -> torch.Tensor:
    """``img``: the preprocessed image (1, 3, H, W); returns the preprocessed dream.

    ``max_loss`` None: no early stop. ``steps`` (if given) counts the gradient steps taken per
    octave shape.
    """
    rng = torch.Generator().manual_seed(seed)
    original_shape = img.shape[2:]
    successive_shapes = [tuple(original_shape)]
    for i in range(1, num_octave):
        successive_shapes.append(tuple(int(dim / (octave_scale**i)) for dim in original_shape))
    successive_shapes = successive_shapes[::-1]
    original_img = img.clone()
    shrunk_original_img = resize_img(img, successive_shapes[0])
    for shape in successive_shapes:
        img = resize_img(img, shape)
        for _ in range(iterations):
            shift = [0, 0]
            if jitter:
                shift = torch.randint(-jitter, jitter + 1, (2,), generator=rng).tolist()
            loss, grads = loss_and_grads(feats, settings, torch.roll(img, shift, dims=(2, 3)))
            grads = torch.roll(grads, (-shift[0], -shift[1]), dims=(2, 3))
            grads = grads / torch.clamp(torch.mean(torch.abs(grads)), min=1e-7)
            if steps is not None:
                steps[shape] += 1
            if loss.item() > (float("inf") if max_loss is None else max_loss):
                break
            img = img + step * grads
        upscaled_shrunk_original_img = resize_img(shrunk_original_img, shape)
        same_size_original = resize_img(original_img, shape)
        img = img + (same_size_original - upscaled_shrunk_original_img)
        shrunk_original_img = resize_img(original_img, shape)
    return img.detach()
