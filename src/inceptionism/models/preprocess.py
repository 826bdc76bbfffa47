"""How RGB pixels become a network's input: a per-channel affine map that inverts exactly."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Preprocess:
    """Per-channel affine map from RGB pixels (0..255) to the network input: (x - offset) / scale.

    Every published ImageNet model uses such a map ([-1, 1], (x - 127) / 128, mean/std), and an
    affine map inverts exactly, so the dream lives in the network's input space like the reference.
    """

    offset: tuple[float, float, float]
    scale: tuple[float, float, float]

    @classmethod
    def uniform(cls, offset: float, scale: float) -> Preprocess:
        return cls((offset,) * 3, (scale,) * 3)

    @classmethod
    def mean_std(cls, mean: Iterable[float], std: Iterable[float]) -> Preprocess:
        """From torchvision-style mean/std given for pixels in 0..1."""
        return cls(tuple(255.0 * m for m in mean), tuple(255.0 * s for s in std))  # type: ignore[arg-type]

    def _params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        o = torch.tensor(self.offset, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        s = torch.tensor(self.scale, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return o, s

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        o, s = self._params(pixels)
        return (pixels - o).div_(s)  # = (pixels - o) / s, without a second full-size temporary

    def invert(self, x: torch.Tensor) -> torch.Tensor:
        o, s = self._params(x)
        return (x * s).add_(o)  # = x * s + o, without a second full-size temporary


# The ImageNet preprocessing of torchvision's published weights (pixels in 0..1).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
