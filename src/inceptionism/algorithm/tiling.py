"""Tiled gradients: dream on images of any size in bounded memory.

The autograd graph of one gradient step costs about a kilobyte per input pixel (every
intermediate activation is kept for the backward pass), so a 4000x2668 photo would need ~15 GB
for its last octave. As in the TensorFlow tutorial's ``get_tiled_gradients``, this module wraps
the per-step gradient function and leaves the octave loop alone:

* The image is cut into *cores* that partition it; each core is evaluated inside a *window*
  that adds ``margin`` pixels of real context on every side (a few strides of the deepest
  layer), and only the core's part of the window's gradient is kept (blending by cropping the
  margins). The graph exists for one window at a time.
* The tile grid moves by a random offset each step (the tutorial rolls the image by up to a
  tile instead; moving the grid does the same for the seams without wrapping the photo's edges
  into its middle), so whatever difference is left at a seam never sits still. The offsets come
  from their own generator, so the jitter sequence is the same tiled or not.
* Windows start on multiples of the deepest layer's stride, so every window samples the image
  on the same grid as the whole image does; and they come in at most four shapes per octave,
  so memory does not fragment with a new shape every step.
* The gradient is normalised by the engine over the whole image, not per tile.

Objective with tiles: each window's loss is weighted by its share of the image, so for the
built-in objectives (means over a layer) the window gradients add up to the whole image's
gradient, and the loss reported to the progress bar is the core-area-weighted sum of the window
losses, an estimate of the whole image's loss (so ``max_loss`` keeps its meaning).
"""

from __future__ import annotations

import itertools
import math
import os
import weakref
from collections.abc import Callable

import torch

from inceptionism.algorithm.objectives import Objective
from inceptionism.config import DreamConfig
from inceptionism.errors import DreamError
from inceptionism.models.base import DreamModel

StepGrad = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]

#: Context around each core, in strides of the deepest layer. The objective ignores a 2-pixel
#: activation border (2 strides) and the gradient of a pixel depends mostly on activations a
#: stride or two away; 4 strides keep the tiled gradient's correlation with the whole-image one
#: above 0.99 (see tests/test_tiling.py).
MARGIN_STRIDES = 4
#: Peak memory of one forward+backward over the bytes of the tensors saved for backward
#: (measured 1.0-1.15 on CPU for EfficientNet-Lite; the rest is headroom for allocator slack).
PEAK_FACTOR = 1.25
#: Full-size (1, 3, H, W) tensors alive at once outside the graph: input, original, dream,
#: rolled copy, gradient, normalised step, detail re-injection temporaries.
FULL_SIZE_COPIES = 8
#: On a CPU a dream takes at most this much RAM, full-size copies and graph together, unless
#: the image alone needs more: a 1024 px photo (about 1 GB) dreams untiled, since the windows'
#: overlap costs compute (untiled 1.6x faster there); a 4000x2668 photo keeps ~2.1 GB at peak.
#: GPUs use half of what is free.
CPU_DREAM_CAP = 1536 * 2**20
GPU_FRACTION = 0.5
CPU_FRACTION = 0.5
#: Windows are at least this many margins wide, or the overlap would cost more than the cores.
MIN_TILE_MARGINS = 4


def geometry(model: DreamModel, objective: Objective) -> tuple[int, int]:
    """(alignment, margin) in pixels: the deepest layer's stride and the context per side."""
    align = max(1, model.min_side(objective.layers))
    return align, MARGIN_STRIDES * align


def min_tile(align: int, margin: int) -> int:
    """Smallest window a user may ask for: a core of at least a stride inside the margins."""
    return 2 * margin + align


# -- choosing a tile size ---------------------------------------------------------------------

_BYTES_PER_PX: weakref.WeakKeyDictionary[torch.nn.Module, dict[tuple, float]] = (
    weakref.WeakKeyDictionary()
)


def graph_bytes_per_pixel(model: DreamModel, objective: Objective) -> float:
    """Bytes the autograd graph keeps per input pixel, measured on a small probe.

    Counts the storage of every tensor saved for backward (each once) during one forward pass
    at ``probe`` px; the graph grows linearly with the pixels, so this scales to any size.
    """
    key = (objective.layers, model.dtype, str(model.device))
    cache = _BYTES_PER_PX.setdefault(model.net, {})
    if key not in cache:
        align = max(1, model.min_side(objective.layers))
        probe = max(128, 8 * align)
        x = torch.zeros(1, 3, probe, probe, dtype=model.dtype, device=model.device)
        x.requires_grad_(True)
        seen: dict[int, int] = {}

        def pack(t: torch.Tensor) -> torch.Tensor:
            s = t.untyped_storage()
            seen[s.data_ptr()] = s.nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            objective(model.activations(x, objective.layers))
        cache[key] = sum(seen.values()) / probe**2
    return cache[key]


def available_ram() -> int:
    """Bytes of RAM the OS can give us without swapping (MemAvailable), or free pages."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30  # unknown platform: assume a modest machine


def device_free_bytes(device: torch.device) -> int:
    """Memory the dream can still take on ``device``."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        # memory our own caching allocator holds but does not use is free for us too
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    if device.type == "mps":
        mps = getattr(torch, "mps", None)
        if mps is not None and hasattr(mps, "recommended_max_memory"):
            return int(mps.recommended_max_memory() - mps.driver_allocated_memory())
    return available_ram()


def graph_budget(device_type: str, free: int, image_bytes: int) -> int:
    """Bytes one window's graph may use, given ``free`` bytes on the device.

    The full-size tensors come first; the graph gets a share of what is left (on a CPU no more
    than keeps the whole dream within ``CPU_DREAM_CAP``, leaving the rest of the machine alone).
    """
    copies = FULL_SIZE_COPIES * image_bytes
    left = max(0, free - copies)
    if device_type == "cuda":
        return int(left * GPU_FRACTION)
    return int(max(0, min(left * CPU_FRACTION, CPU_DREAM_CAP - copies)))


def choose_tile(
    shape: tuple[int, int], bytes_per_px: float, budget: int, align: int, margin: int
) -> int:
    """Window side for ``budget`` bytes of graph, or 0 when the whole image fits."""
    h, w = shape
    max_px = budget / (bytes_per_px * PEAK_FACTOR)
    if h * w <= max_px:
        return 0
    side = int(math.isqrt(int(max_px)) // align * align)
    side = max(side, MIN_TILE_MARGINS * margin, min_tile(align, margin))
    return 0 if side >= max(h, w) else side


def auto_tile(
    model: DreamModel,
    objective: Objective,
    shape: tuple[int, int],
    device: torch.device | None = None,
) -> int:
    """The tile size ``tile="auto"`` means for an image of ``shape`` on ``device``."""
    device = device or model.device
    item = torch.empty((), dtype=model.dtype).element_size()
    image_bytes = 3 * shape[0] * shape[1] * item
    budget = graph_budget(device.type, device_free_bytes(device), image_bytes)
    align, margin = geometry(model, objective)
    return choose_tile(shape, graph_bytes_per_pixel(model, objective), budget, align, margin)


def resolve_tile(
    config: DreamConfig,
    model: DreamModel,
    objective: Objective,
    shape: tuple[int, int],
    device: torch.device | None = None,
) -> DreamConfig:
    """``config`` with ``tile="auto"`` replaced by the number it means here, so the metadata of
    a dream records the tiling that made it (and ``--config-from`` gets the same pixels)."""
    if config.tile != "auto":
        return config
    return config.replace(tile=auto_tile(model, objective, shape, device))


# -- the tiled gradient -----------------------------------------------------------------------


def spans(size: int, tile: int, margin: int, align: int, offset: int) -> list[tuple[int, ...]]:
    """``(core start, core end, window start, window end)`` along one axis of ``size`` px.

    The cores partition the axis, cut at ``offset + k * core`` (``core = tile - 2 * margin``);
    each window holds its core plus at least ``margin`` px of context where the image goes on.
    Every window but the last is exactly ``tile`` long and the last one always ends at the
    edge, so one octave has at most two window lengths per axis: the same few shapes every step
    keep the memory allocator and the conv kernels' caches from growing with random sizes. The
    edge windows serve longer cores (they need context on one side only), and all windows start
    on multiples of ``align``. An axis that fits in one window is one core.
    """
    if size <= tile:
        return [(0, size, 0, size)]
    core = tile - 2 * margin
    last_lo = -(-(size - tile) // align) * align  # the last window: [last_lo, size), <= tile
    cuts = [p for p in range(offset % core, size, core) if p > 0]
    first = max(p for p in cuts if p <= tile - margin)  # exists: cuts are core apart
    last = min(p for p in cuts if p >= last_lo + margin)
    inner = [p for p in cuts if first <= p <= last] if last > first else [first]
    edges = [0, *inner, size]
    out = []
    for a, b in itertools.pairwise(edges):
        lo, hi = (0, tile) if a == 0 else (last_lo, size) if b == size else (a - margin, b + margin)
        out.append((a, b, lo, hi))
    return out


def tiled_gradient(
    step_grad: StepGrad,
    x: torch.Tensor,
    tile: int,
    margin: int,
    align: int = 1,
    offset: tuple[int, int] = (0, 0),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss and gradient of the whole image from windows of at most ``tile`` px a side.

    Each window's gradient is cropped to its core (its margins only gave it context): on a real
    photo this matches the whole image's gradient better than blending the overlaps with ramps,
    which mixes in the window edges where the context is poorest.
    """
    h, w = x.shape[-2:]
    area = h * w
    grad = torch.empty_like(x)  # the cores cover every pixel once
    loss = torch.zeros((), dtype=x.dtype, device=x.device)
    for y0, y1, wy0, wy1 in spans(h, tile, margin, align, offset[0]):
        for x0, x1, wx0, wx1 in spans(w, tile, margin, align, offset[1]):
            part, g = step_grad(x[..., wy0:wy1, wx0:wx1])
            share = (wy1 - wy0) * (wx1 - wx0) / area  # undo the objective's mean over the window
            grad[..., y0:y1, x0:x1] = g[..., y0 - wy0 : y1 - wy0, x0 - wx0 : x1 - wx0] * share
            loss = loss + part * ((y1 - y0) * (x1 - x0) / area)
    return loss, grad


def tiled(
    step_grad: StepGrad,
    model: DreamModel,
    objective: Objective,
    config: DreamConfig,
    shape: tuple[int, int],
) -> StepGrad:
    """``step_grad`` computed tile by tile where the image is larger than ``config.tile``.

    ``shape`` is the full image size (``tile="auto"`` is chosen for it). Images that fit in one
    tile, and ``tile=0``, use ``step_grad`` itself: tiling never changes a dream it isn't needed
    for.
    """
    tile = config.tile
    if tile == "auto":
        tile = auto_tile(model, objective, shape)
    if not tile:
        return step_grad
    align, margin = geometry(model, objective)
    if tile < min_tile(align, margin):
        raise DreamError(
            f"tile {tile} is too small for layers {', '.join(objective.layers)}: use at least "
            f"{min_tile(align, margin)} px (or 0 for no tiling)"
        )
    tile = tile // align * align
    core = tile - 2 * margin
    # Its own stream, so the jitter sequence does not depend on whether tiling is on.
    rng = torch.Generator().manual_seed((config.seed + 0x7113) % 2**63)

    def step(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = x.shape[-2:]
        if h <= tile and w <= tile:
            return step_grad(x)
        oy, ox = (torch.randint(0, core // align, (2,), generator=rng) * align).tolist()
        return tiled_gradient(step_grad, x, tile, margin, align, (oy, ox))

    return step
