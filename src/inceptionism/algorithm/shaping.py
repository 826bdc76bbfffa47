"""Quality controls applied at each gradient step, kept out of the step loop.

``gradient_ascent`` calls ``shaping.gradient(grad)`` before normalising and ``shaping.image(x)``
after stepping; with every option off both return their input unchanged, so the reference
algorithm is untouched. Four controls:

* ``smooth``: blur the gradient with a cascade of Gaussians (sigma/2, sigma, 2 sigma, averaged,
  as popular PyTorch deepdream code does). The raw gradient of a CNN is dominated by
  pixel-scale noise; blurring it before normalising moves the step's energy into larger
  structures, so the dream grows smooth shapes instead of grain.
* ``lap_norm``: Laplacian-pyramid normalisation of the gradient, as in Google's original Deep
  Dream notebook (``lap_normalize``): split the gradient into LEVELS frequency bands (a
  Laplacian pyramid with the 5-tap binomial kernel), scale each band to unit RMS, and add them
  back. The raw gradient's energy sits almost all in the finest band, the pixel-scale grain;
  equalising the bands moves the step into coarser structures while keeping some fine detail
  (unlike ``smooth``, which removes it), so flat areas stay clean.
* ``preserve_colors``: project the gradient on the grey axis (an equal change of R, G and B in
  pixel space), so every step changes luminance only. Chroma (Cb, Cr) does not move by
  construction, and the network still optimises the picture it sees, so its patterns are fully
  formed in light and shade (transferring a colour dream's luminance afterwards loses what the
  network drew in colour).
* ``clip``: keep the image inside the range of real pixels (0..255 in every channel) after
  each step, so saturated areas cannot drift out of range and then clip harshly at save time.
  With ``preserve_colors`` a pixel is moved back along the grey axis instead of channel by
  channel, so clipping does not shift its colour either.
* ``clip_knee`` (with ``clip``): a step that pushes a channel into the last KNEE levels before 0
  or 255 is slowed down smoothly (a tanh knee), so pixels approach the bounds but stall short of
  them instead of piling up at 0 or 255: dark skies and bright backdrops don't blow out into
  flat saturated patches. Steps away from a bound, and pixels the step leaves alone, are
  untouched, so the photo's own highlights and shadows stay exactly as they were.
"""

from __future__ import annotations

import itertools
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
    c, h, w = x.shape[1], x.shape[-2], x.shape[-1]
    across = k.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    down = k.view(1, 1, -1, 1).repeat(c, 1, 1, 1)
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    if h * w <= LAP_STRIPS_ABOVE:
        return F.conv2d(F.conv2d(x, across, groups=c), down, groups=c)
    # Big gradients in strips of rows (each reads its 2 * radius rows of margin): the same sums
    # of the same numbers, bit for bit, without the depthwise convolutions' working buffers,
    # about ten times their input (3 GB at 4000x2668; tests/test_lap_strips.py).
    out = x.new_empty(*x.shape[:-2], h, w)
    for a, b in _strips(h, w):
        strip = F.conv2d(x[..., a : b + 2 * radius, :], across, groups=c)
        out[..., a:b, :] = F.conv2d(strip, down, groups=c)
    return out


def smooth_cascade(grad: torch.Tensor, sigma: float) -> torch.Tensor:
    """Average of blurs at sigma/2, sigma and 2 sigma: keeps some fine detail, kills the grain."""
    return sum(gaussian_blur(grad, s * sigma) for s in (0.5, 1.0, 2.0)) / 3  # type: ignore[return-value]


def _binomial_kernel(like: torch.Tensor) -> torch.Tensor:
    """The notebook's 5x5 kernel (outer product of 1 4 6 4 1, summing to 1), one per channel."""
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=like.dtype, device=like.device)
    k = torch.outer(k, k)
    k = k / k.sum()
    return k.expand(like.shape[1], 1, 5, 5).contiguous()


def lap_split(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(low, high): ``x`` blurred and halved, and what that loses at full size."""
    k = _binomial_kernel(x)
    c = x.shape[1]
    lo = F.conv2d(x, k, stride=2, padding=2, groups=c)
    pad = (1 - x.shape[-2] % 2, 1 - x.shape[-1] % 2)  # back to the exact size, odd or even
    lo2 = F.conv_transpose2d(lo, k * 4, stride=2, padding=2, output_padding=pad, groups=c)
    return lo, x - lo2


def lap_merge(levels: list[torch.Tensor]) -> torch.Tensor:
    """Inverse of the split: upsample from the coarsest level, adding each finer band."""
    x = levels[0]
    for hi in levels[1:]:
        k = _binomial_kernel(hi)
        pad = (1 - hi.shape[-2] % 2, 1 - hi.shape[-1] % 2)
        up = F.conv_transpose2d(
            x, k * 4, stride=2, padding=2, output_padding=pad, groups=hi.shape[1]
        )
        x = up + hi
    return x


LAP_STRIPS_ABOVE = 2_000_000
"""Gradients of more pixels than this run the pyramid's full-size convolutions in strips."""
STRIP_PIXELS = 1_000_000
"""About how many pixels (per channel) one strip of a striped convolution covers."""


def _strips(rows: int, width: int) -> list[tuple[int, int]]:
    """(first, end) rows of the strips that cover ``rows`` rows of ``width`` pixels."""
    step = max(8, STRIP_PIXELS // max(1, width))
    return list(itertools.pairwise([*range(0, rows, step), rows]))


def _halve_strip(x: torch.Tensor, k: torch.Tensor, r0: int, r1: int) -> torch.Tensor:
    """Rows ``r0:r1`` of ``conv2d(x, k, stride=2, padding=2)``: each output row reads the five
    input rows around twice its index, so a strip reads only those (zeros beyond the edges)."""
    h = x.shape[-2]
    a, b = 2 * r0 - 2, 2 * r1 + 1
    strip = F.pad(x[..., max(0, a) : min(h, b), :], (0, 0, max(0, -a), max(0, b - h)))
    return F.conv2d(strip, k, stride=2, padding=(0, 2), groups=x.shape[1])


def _double_strip(lo: torch.Tensor, k: torch.Tensor, r0: int, r1: int, width: int) -> torch.Tensor:
    """Rows ``r0:r1`` of the transposed convolution that doubles ``lo`` (as in :func:`lap_split`):
    output row o gathers input rows (o - 2)/2 .. (o + 2)/2, so a strip takes those alone."""
    i0, i1 = max(0, (r0 - 1) // 2), min(lo.shape[-2], (r1 + 1) // 2 + 1)
    up = F.conv_transpose2d(
        lo[..., i0:i1, :], k, stride=2, padding=(0, 2), output_padding=(0, 1 - width % 2),
        groups=lo.shape[1],
    )  # fmt: skip
    first = r0 - (2 * i0 - 2)  # up's row j is output row 2 * i0 - 2 + j
    return up[..., first : first + r1 - r0, :]


def lap_split_strips(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`lap_split` with its convolutions run strip by strip: the same numbers (each output
    pixel is the same sum of the same inputs), without the convolutions' full-size buffers."""
    k = _binomial_kernel(x)
    h, w = x.shape[-2:]
    lo = torch.cat([_halve_strip(x, k, a, b) for a, b in _strips((h + 1) // 2, w)], dim=-2)
    hi = torch.empty_like(x)
    for a, b in _strips(h, w):
        torch.sub(x[..., a:b, :], _double_strip(lo, k * 4, a, b, w), out=hi[..., a:b, :])
    return lo, hi


def lap_merge_strips(levels: list[torch.Tensor]) -> torch.Tensor:
    """:func:`lap_merge` with the finest level's upsampling run strip by strip (the coarser
    levels are a quarter of its size and less): the same numbers, written into one tensor."""
    x = lap_merge(levels[:-1])
    hi = levels[-1]
    k = _binomial_kernel(hi) * 4
    h, w = hi.shape[-2:]
    out = torch.empty_like(hi)
    for a, b in _strips(h, w):
        torch.add(_double_strip(x, k, a, b, w), hi[..., a:b, :], out=out[..., a:b, :])
    return out


def lap_normalize(grad: torch.Tensor, levels: int) -> torch.Tensor:
    """Each of ``levels`` Laplacian-pyramid bands scaled to unit RMS (the notebook's
    ``lap_normalize``); fewer bands where the image is too small to halve again.

    Above :data:`LAP_STRIPS_ABOVE` pixels the full-size band is split off and merged back in
    strips and scaled in place: the same numbers in a fifth of the memory (a 4000x2668 gradient,
    122 MB, took 1.2 GB more at the peak of the whole-image convolutions)."""
    h, w = grad.shape[-2:]
    if levels > 1 and min(h, w) >= 4 and h * w > LAP_STRIPS_ABOVE:
        lo, hi = lap_split_strips(grad)
        coarse = lap_normalize(lo, levels - 1)  # the smaller bands, normed, merged
        del lo
        return lap_merge_strips([coarse, hi.div_(hi.square().mean().sqrt().clamp_min(1e-10))])
    bands: list[torch.Tensor] = []
    x = grad
    for _ in range(levels - 1):
        if min(x.shape[-2:]) < 4:
            break
        x, hi = lap_split(x)
        bands.append(hi)
    bands.append(x)
    normed = [b / b.square().mean().sqrt().clamp_min(1e-10) for b in reversed(bands)]
    return lap_merge(normed)


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


def knee(p: torch.Tensor, width: float) -> torch.Tensor:
    """Pixel values compressed into (0, 255) by a tanh knee over the last ``width`` levels."""
    lo, hi = width, 255.0 - width
    top = hi + width * torch.tanh((p - hi) / width)
    bottom = lo - width * torch.tanh((lo - p) / width)
    return torch.where(p > hi, top, torch.where(p < lo, bottom, p))


def knee_step(
    before: torch.Tensor, after: torch.Tensor, preprocess: Preprocess, width: float, grey: bool
) -> torch.Tensor:
    """The step from ``before`` to ``after`` (network input), slowed where it pushes a channel
    towards a bound inside the knee: the result lies between ``before`` and ``knee(after)``.
    ``grey``: one factor per pixel (the smallest of its channels), so the step's colour is kept.
    """
    a, b = preprocess.invert(before), preprocess.invert(after)
    k = knee(b, width)
    limited = torch.maximum(torch.minimum(k, torch.maximum(a, b)), torch.minimum(a, b))
    if grey:
        d = b - a
        safe = torch.where(d.abs() > 1e-12, d, torch.ones_like(d))
        t = torch.where(d.abs() > 1e-12, (limited - a) / safe, torch.ones_like(d))
        limited = a + t.amin(1, keepdim=True) * d
    return preprocess(limited)


def knee_step_(
    before: torch.Tensor, after: torch.Tensor, preprocess: Preprocess, width: float
) -> torch.Tensor:
    """:func:`knee_step` without ``grey``, written into ``after``: the same numbers with a third
    of the full-size passes. The knee acts only on the few channels the step left within
    ``width`` of a bound; every other one is the step's own value through the same two affine
    maps, so the knee's arithmetic runs on those few alone (gathered, same ops, same bits)."""
    o, s = preprocess._params(after)
    b = preprocess.invert(after)
    near = (b > 255.0 - width).logical_or_(b < width)
    at = near.flatten().nonzero().squeeze(1)  # row-major indexes (take/put use them too)
    if len(at):  # gathered before ``after`` changes (``before`` may be the same tensor)
        channel = at // (b.shape[-2] * b.shape[-1]) % 3
        o_n, s_n = o.flatten()[channel], s.flatten()[channel]
        a_n, b_n = (before.take(at) * s_n).add_(o_n), b.take(at)
    torch.sub(b, o, out=after).div_(s)  # = preprocess(b), where the knee leaves b as it is
    if len(at):
        k = knee(b_n, width)
        limited = torch.maximum(torch.minimum(k, torch.maximum(a_n, b_n)), torch.minimum(a_n, b_n))
        after.put_(at, (limited - o_n).div_(s_n))
    return after


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
    lap_norm: int = 0
    clip_knee: float = 0.0

    def gradient(self, grad: torch.Tensor) -> torch.Tensor:
        if self.preserve_colors and self.preprocess is not None:
            grad = to_grey_axis(grad, self.preprocess)
        if self.smooth > 0:
            grad = smooth_cascade(grad, self.smooth)
        if self.lap_norm > 1:
            grad = lap_normalize(grad, self.lap_norm)
        return grad

    @property
    def needs_before(self) -> bool:
        """Whether :meth:`image` uses the image before the step (the clip knee does)."""
        return self.clip and self.preprocess is not None and self.clip_knee > 0

    def image(self, x: torch.Tensor, before: torch.Tensor | None = None) -> torch.Tensor:
        """The image after a step; ``before``: the image before it (for the knee). The result
        may be ``x`` itself, changed in place (the engine's own image: no full-size copy)."""
        after = x
        if self.clip and self.preprocess is not None:
            if self.clip_knee > 0 and before is not None:
                if self.preserve_colors:
                    x = knee_step(before, x, self.preprocess, self.clip_knee, grey=True)
                else:  # the step's own tensor, changed in place
                    x = knee_step_(before, x, self.preprocess, self.clip_knee)
            if self.preserve_colors:
                x = clip_grey(x, self.preprocess)
            lo, hi = pixel_bounds(self.preprocess, x)
            x = x.clamp_(lo, hi) if x is after else torch.clamp(x, lo, hi)  # lo <= hi: min, max
        return x


NO_SHAPING = Shaping()


def shaping_for(config: DreamConfig, preprocess: Preprocess) -> Shaping:
    """The per-step shaping a config asks for (all off: the reference's plain steps)."""
    return Shaping(
        config.smooth,
        config.preserve_colors,
        config.clip,
        preprocess,
        config.lap_norm,
        config.clip_knee,
    )
