"""Quality controls applied at each gradient step, kept out of the step loop.

``gradient_ascent`` calls ``shaping.gradient(grad)`` before normalising and ``shaping.image(x)``
after stepping; with every option off both return their input unchanged, so the reference
algorithm is untouched. Three controls:

* ``smooth``: blur the gradient with a cascade of Gaussians (sigma/2, sigma, 2 sigma, averaged,
  as popular PyTorch deepdream code does). The raw gradient of a CNN is dominated by
  pixel-scale noise; blurring it before normalising moves the step's energy into larger
  structures, so the dream grows smooth shapes instead of grain.
* ``preserve_colors``: project the gradient on the grey axis (an equal change of R, G and B in
  pixel space), so every step changes luminance only. Chroma (Cb, Cr) does not move by
  construction, and the network still optimises the picture it sees, so its patterns are fully
  formed in light and shade (transferring a colour dream's luminance afterwards loses what the
  network drew in colour).
* ``clip``: keep the image inside the range of real pixels (0..255 in every channel) after
  each step, so saturated areas cannot drift out of range and then clip harshly at save time.
  With ``preserve_colors`` a pixel is moved back along the grey axis instead of channel by
  channel, so clipping does not shift its colour either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from inceptionism.config import DreamConfig
from inceptionism.models.base import Preprocess


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of each channel; edges replicated (no dark border)."""
    if sigma <= 0:
        return x
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def smooth_cascade(grad: torch.Tensor, sigma: float) -> torch.Tensor:
    """Average of blurs at sigma/2, sigma and 2 sigma: keeps some fine detail, kills the grain."""
    return sum(gaussian_blur(grad, s * sigma) for s in (0.5, 1.0, 2.0)) / 3  # type: ignore[return-value]


def to_grey_axis(grad: torch.Tensor, preprocess: Preprocess) -> torch.Tensor:
    """The part of ``grad`` (in network-input space) that changes R, G and B pixels equally.

    An input change d_c is a pixel change d_c * scale_c; the best equal pixel change follows
    mean_c grad_c / scale_c and maps back to input changes of that over scale_c. The factor
    mean(scale)^2 keeps the size of the gradient (for a uniform scale this is just the mean
    over channels), so the normaliser's epsilon floor means what it meant.
    """
    _, s = preprocess._params(grad)
    t = (grad / s).mean(1, keepdim=True)
    return t * s.mean().square() / s


def pixel_bounds(preprocess: Preprocess, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (low, high) of the network input for pixels 0..255."""
    zero = torch.zeros(1, 3, 1, 1, dtype=like.dtype, device=like.device)
    a, b = preprocess(zero), preprocess(zero + 255)
    return torch.minimum(a, b), torch.maximum(a, b)


def clip_grey(x: torch.Tensor, preprocess: Preprocess) -> torch.Tensor:
    """Shift each pixel equally in R, G and B until no channel is outside 0..255 (where the
    pixel's spread allows it): clipping that keeps the pixel's chroma."""
    p = preprocess.invert(x)
    over = (p.amax(1, keepdim=True) - 255).clamp_min(0)
    under = (-p.amin(1, keepdim=True)).clamp_min(0)
    return preprocess(p - over + under)


def chroma(rgb: torch.Tensor) -> torch.Tensor:
    """Cb, Cr (ITU-R BT.601, as JPEG) of RGB pixels (..., 3, H, W): what preserve_colors keeps."""
    r, g, b = rgb.unbind(-3)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return torch.stack((0.564 * (b - y), 0.713 * (r - y)), dim=-3)


@dataclass(frozen=True)
class Shaping:
    """The per-step hooks of :func:`~inceptionism.engine.gradient_ascent` (all off by default)."""

    smooth: float = 0.0
    preserve_colors: bool = False
    clip: bool = False
    preprocess: Preprocess | None = None

    def gradient(self, grad: torch.Tensor) -> torch.Tensor:
        if self.preserve_colors and self.preprocess is not None:
            grad = to_grey_axis(grad, self.preprocess)
        if self.smooth > 0:
            grad = smooth_cascade(grad, self.smooth)
        return grad

    def image(self, x: torch.Tensor) -> torch.Tensor:
        if self.clip and self.preprocess is not None:
            if self.preserve_colors:
                x = clip_grey(x, self.preprocess)
            lo, hi = pixel_bounds(self.preprocess, x)
            x = torch.maximum(torch.minimum(x, hi), lo)
        return x


NO_SHAPING = Shaping()


def shaping_for(config: DreamConfig, preprocess: Preprocess) -> Shaping:
    """The per-step shaping a config asks for (all off: the reference's plain steps)."""
    return Shaping(config.smooth, config.preserve_colors, config.clip, preprocess)
