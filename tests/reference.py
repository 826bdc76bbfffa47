"""A plain, unoptimised PyTorch transcription of the reference Keras notebook.

Kept deliberately naive (full forward pass, no early stop, no jitter, loss checked every step)
so that the engine can be checked against it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def resize_img(img: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(img, size=size, mode="bilinear", align_corners=False)


class Features:
    """Collects the outputs of the named modules during a full forward pass."""

    def __init__(self, net: nn.Module, layer_paths: dict[str, str]) -> None:
        self.net = net
        self.paths = layer_paths

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        mods = dict(self.net.named_modules())
        hs = [
            mods[p].register_forward_hook(lambda m, i, o, n=n: out.__setitem__(n, o))
            for n, p in self.paths.items()
        ]
        try:
            self.net(x)
        finally:
            for h in hs:
                h.remove()
        return out


def eval_loss_and_grads(features: Features, settings: dict[str, float], x: torch.Tensor):
    x = x.clone().requires_grad_(True)
    acts = features(x)
    loss = torch.zeros((), dtype=x.dtype)
    for name, coeff in settings.items():
        activation = acts[name]
        scaling = float(np.prod(activation.shape))
        loss = loss + coeff * torch.sum(torch.square(activation[:, :, 2:-2, 2:-2])) / scaling
    grads = torch.autograd.grad(loss, x)[0]
    grads = grads / torch.clamp(torch.mean(torch.abs(grads)), min=1e-7)
    return loss.item(), grads


def gradient_ascent(features, settings, x, iterations, step, max_loss=None):
    for _ in range(iterations):
        loss_value, grad_values = eval_loss_and_grads(features, settings, x)
        if max_loss is not None and loss_value > max_loss:
            break
        x = x + step * grad_values
    return x


def deep_dream(
    features,
    settings,
    img,
    *,
    step=0.01,
    num_octave=10,
    octave_scale=1.2,
    iterations=10,
    max_loss=10.0,
):
    """``img`` is the preprocessed image (1, 3, H, W); returns the preprocessed dream."""
    original_shape = img.shape[2:]
    successive_shapes = [tuple(original_shape)]
    for i in range(1, num_octave):
        shape = tuple(int(dim / (octave_scale**i)) for dim in original_shape)
        successive_shapes.append(shape)
    successive_shapes = successive_shapes[::-1]
    original_img = img.clone()
    shrunk_original_img = resize_img(img, successive_shapes[0])
    for shape in successive_shapes:
        img = resize_img(img, shape)
        img = gradient_ascent(features, settings, img, iterations, step, max_loss)
        upscaled_shrunk_original_img = resize_img(shrunk_original_img, shape)
        same_size_original = resize_img(original_img, shape)
        lost_detail = same_size_original - upscaled_shrunk_original_img
        img = img + lost_detail
        shrunk_original_img = resize_img(original_img, shape)
    return img.detach()
