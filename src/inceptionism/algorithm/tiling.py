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

import functools
import itertools
import math
import os
import weakref
from collections.abc import Callable

import torch

from inceptionism.algorithm.plan import MARGIN_STRIDES as MARGIN_STRIDES  # read here too
from inceptionism.algorithm.plan import DreamPlan
from inceptionism.config import DreamConfig
from inceptionism.errors import DreamError
from inceptionism.models.base import DreamModel

StepGrad = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]

#: Peak memory of one forward+backward over the bytes of the tensors saved for backward
#: (measured 1.0-1.15 on CPU for EfficientNet-Lite; the rest is headroom for allocator slack).
PEAK_FACTOR = 1.25
#: (1, 3, H, W) tensors alive next to a window's graph, counted as the octave loop holds them
#: (engine.dream_tensor): the input pixels at the full size (kept to re-inject the lost detail;
#: the caller's array, which the loop reads and never copies whole) ...
HELD_FULL_SIZE = 1
#: ... and at the octave's size: the dream (updated in place), its gradient (filled tile by
#: tile; jitter rolls the tile grid, not the image) and the previous octave's original (at most
#: one more, as its octave is smaller). The steps between windows briefly hold up to two more
#: (the normalised step, a clipped copy) while no graph exists, which is less than a graph.
OCTAVE_COPIES = 3
#: Both together at the full-size octave, where memory peaks.
FULL_SIZE_COPIES = HELD_FULL_SIZE + OCTAVE_COPIES
#: On a CPU a dream takes at most this much RAM, full-size copies and graph together, unless
#: the image alone needs more: a 1024 px photo (about 1 GB) dreams untiled, since the windows'
#: overlap costs compute (untiled 1.6x faster there); a 4000x2668 photo keeps ~2.1 GB at peak.
#: GPUs use half of what is free.
CPU_DREAM_CAP = 1536 * 2**20
#: The graph's share is never less than this on a CPU (if free), even where the image's copies
#: alone take most of the cap: smaller windows waste their overlap. A 6000x4000 photo holds
#: ~1.1 GB of copies; with the cap alone its tiles fell to the 256 px minimum, 1457 windows a
#: step against 48 at 4000x2668, 5x the time per pixel. Half the cap keeps its windows near
#: 650 px, within ~1.2x of the smaller photo's cost per pixel.
MIN_CPU_GRAPH = CPU_DREAM_CAP // 2
GPU_FRACTION = 0.5
CPU_FRACTION = 0.5
#: Windows are at least this many margins wide, or the overlap would cost more than the cores.
MIN_TILE_MARGINS = 4


def geometry(plan: DreamPlan) -> tuple[int, int]:
    """(alignment, margin) in pixels: the deepest layer's stride and the context per side."""
    return plan.align, plan.margin


def min_tile(align: int, margin: int) -> int:
    """Smallest window a user may ask for: a core of at least a stride inside the margins."""
    return 2 * margin + align


# -- choosing a tile size ---------------------------------------------------------------------

_BYTES_PER_PX: weakref.WeakKeyDictionary[torch.nn.Module, dict[tuple, float]] = (
    weakref.WeakKeyDictionary()
)


def graph_bytes_per_pixel(plan: DreamPlan, model: DreamModel | None = None) -> float:
    """Bytes the autograd graph keeps per input pixel, measured on a small probe of ``model``
    (default: the plan's dreaming model).

    Counts the storage of every tensor saved for backward (each once) during one forward pass
    at ``probe`` px; the graph grows linearly with the pixels, so this scales to any size.
    """
    model, objective = model or plan.model, plan.objective
    key = (objective.layers, model.dtype, str(model.device))
    cache = _BYTES_PER_PX.setdefault(model.net, {})
    if key not in cache:
        probe = max(128, 8 * plan.align)
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


def graph_budget(
    device_type: str, free: int, image_bytes: int, octave_bytes: int | None = None
) -> int:
    """Bytes one window's graph may use, given ``free`` bytes on the device.

    ``image_bytes`` is one (1, 3, H, W) copy of the full-size image, ``octave_bytes`` one at
    the octave being dreamed (default: the full size). The copies the loop holds come first;
    the graph gets a share of what is left (on a CPU no more than keeps the whole dream within
    ``CPU_DREAM_CAP``, or ``MIN_CPU_GRAPH`` where the copies alone nearly fill the cap).
    """
    octave_bytes = image_bytes if octave_bytes is None else octave_bytes
    copies = HELD_FULL_SIZE * image_bytes + OCTAVE_COPIES * octave_bytes
    left = max(0, free - copies)
    if device_type == "cuda":
        return int(left * GPU_FRACTION)
    return int(max(0, min(left * CPU_FRACTION, max(CPU_DREAM_CAP - copies, MIN_CPU_GRAPH))))


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


def tile_for_octave(
    tile: int | str,
    plan: DreamPlan,
    shape: tuple[int, int],
    full_shape: tuple[int, int] | None = None,
    device: torch.device | None = None,
    free: int | None = None,
    model: DreamModel | None = None,
) -> int:
    """The window side for the octave of ``shape`` (0: untiled) in a dream of ``full_shape``.

    A number (0 = off, or px) is the same at every octave, as the user gave it. ``auto`` is
    chosen per octave: a smaller octave holds smaller copies and so has room for larger windows,
    which waste less on their overlap. ``free`` (bytes on the device) is measured if not given;
    measure it once per dream, before it allocates, so every octave is judged alike. ``model``
    is the one whose graph is measured (default: the plan's dreaming model).
    """
    if tile != "auto":
        return int(tile)
    model = model or plan.model
    device = device or model.device
    full_shape = full_shape or shape
    item = torch.empty((), dtype=model.dtype).element_size()
    image_bytes = 3 * full_shape[0] * full_shape[1] * item
    octave_bytes = 3 * shape[0] * shape[1] * item
    free = device_free_bytes(device) if free is None else free
    budget = graph_budget(device.type, free, image_bytes, octave_bytes)
    per_px = graph_bytes_per_pixel(plan, model)
    return choose_tile(shape, per_px, budget, plan.align, plan.margin)


def auto_tile(plan: DreamPlan, shape: tuple[int, int], device: torch.device | None = None) -> int:
    """The tile size ``tile="auto"`` means for the full-size octave of an image of ``shape``,
    measured on the plan's model as loaded (what the session records in its recipe)."""
    return tile_for_octave("auto", plan, shape, shape, device, model=plan.loaded)


def resolve_tile(
    config: DreamConfig,
    plan: DreamPlan,
    shape: tuple[int, int],
    device: torch.device | None = None,
) -> DreamConfig:
    """``config`` with ``tile="auto"`` replaced by the number it means here for the full-size
    octave, so the metadata of a dream records the tiling that made it (and ``--config-from``
    gets the same pixels). A dream run with the resolved number uses it at every octave; one
    run with ``auto`` itself chooses per octave (:func:`tile_for_octave`), which a single number
    cannot record."""
    if config.tile != "auto":
        return config
    return config.replace(tile=auto_tile(plan, shape, device))


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


@functools.lru_cache(maxsize=256)
def grid_offsets(size: int, tile: int, margin: int, align: int) -> tuple[int, ...]:
    """The grid offsets a step may draw along an axis: those that cover it with the fewest
    windows, when at least half of all offsets (multiples of ``align`` below a core) do.

    Every window is a whole tile long, so an offset that needs one window more adds a whole
    tile of pixels to the step: drawn from all offsets, a 4000x2668 octave in 880 px windows
    evaluates 1.94x its pixels on average, 1.74x from these (see benchmarks/tile_margin.py).
    Keeping at least half of them still moves the seams over most of a core each step; where
    fewer qualify, all offsets stay in the draw, as seams that barely move would show.
    """
    core = tile - 2 * margin
    offsets = range(0, core // align * align, align)
    if size <= tile:
        return tuple(offsets)
    counts = [len(spans(size, tile, margin, align, o)) for o in offsets]
    least = min(counts)
    fewest = tuple(o for o, n in zip(offsets, counts, strict=True) if n == least)
    return fewest if 2 * len(fewest) >= len(offsets) else tuple(offsets)


#: A tile that makes a step evaluate this many times the image's pixels (windows overlap by
#: their margins) gets a note. Measured on chelsea at 640x427, one octave of 6 steps of
#: EfficientNet-Lite0 (16 px stride, 64 px margins), 2 shared CPU threads: untiled 0.67 s;
#: tile 512 (1.6x the pixels) 1.6x the time; 384 (3.2x) 4.5x; 320 (2.7x) 3.4x; 256 (3.5x)
#: 8.7x; 192 (5.9x) 6.9x. From 2x the pixels a dream takes several times as long.
SLOW_TILE_OVERHEAD = 2.0


def tile_overhead(shape: tuple[int, int], tile: int, margin: int, align: int) -> float:
    """Pixels a tiled step evaluates over the image's pixels (1.0: untiled), averaged over the
    grid offsets the steps draw: each window is a whole tile, margins and all."""
    ratio = 1.0
    for size in shape:
        if not tile or size <= tile:
            continue
        offsets = grid_offsets(size, tile, margin, align)
        lengths = [
            sum(hi - lo for *_, lo, hi in spans(size, tile, margin, align, o)) for o in offsets
        ]
        ratio *= sum(lengths) / len(lengths) / size
    return ratio


def slow_tile_note(config: DreamConfig, plan: DreamPlan, shape: tuple[int, int]) -> str | None:
    """One line when a tile size the user chose makes the dream much slower than untiled
    (``auto`` is chosen for memory and says nothing), else None."""
    if config.tile == "auto" or not config.tile:
        return None
    align, margin = geometry(plan)
    tile = int(config.tile) // align * align
    if tile < min_tile(align, margin):
        return None  # refused when the dream starts, with its own message
    overhead = tile_overhead(shape, tile, margin, align)
    if overhead < SLOW_TILE_OVERHEAD:
        return None
    return (
        f"tile {config.tile} on {shape[1]}x{shape[0]} px evaluates about {overhead:.1f}x its "
        f"pixels each step ({margin} px margins around {tile - 2 * margin} px cores): several "
        "times slower than untiled; a larger tile, 0 (off) or auto is faster"
    )


def _draw(choices: tuple[int, ...], rng: torch.Generator) -> int:
    return choices[int(torch.randint(0, len(choices), (), generator=rng))]


def _pieces(lo: int, hi: int, shift: int, size: int) -> list[tuple[slice, slice]]:
    """Where ``[lo, hi)`` of an axis rolled by ``shift`` lies in the unrolled axis: one or two
    (unrolled part, part of the range) pairs, as the range may wrap around the edge."""
    start, length = (lo - shift) % size, hi - lo
    if start + length <= size:
        return [(slice(start, start + length), slice(0, length))]
    head = size - start
    return [(slice(start, size), slice(0, head)), (slice(0, length - head), slice(head, length))]


def _window(x: torch.Tensor, rows: list, cols: list) -> torch.Tensor:
    """The window of the rolled image that ``rows``/``cols`` (from :func:`_pieces`) describe."""
    parts = [torch.cat([x[..., r, c] for c, _ in cols], dim=-1) for r, _ in rows]
    return torch.cat(parts, dim=-2) if len(parts) > 1 else parts[0]


def tiled_gradient(
    step_grad: StepGrad,
    x: torch.Tensor,
    tile: int,
    margin: int,
    align: int = 1,
    offset: tuple[int, int] = (0, 0),
    shift: tuple[int, int] = (0, 0),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss and gradient of the whole image from windows of at most ``tile`` px a side.

    Each window's gradient is cropped to its core (its margins only gave it context): on a real
    photo this matches the whole image's gradient better than blending the overlaps with ramps,
    which mixes in the window edges where the context is poorest.

    ``shift`` evaluates the image rolled by it (the engine's jitter) and returns the gradient
    rolled back, exactly as ``torch.roll`` before and after would, but cutting each window from
    ``x`` itself: no rolled copy of the whole image, nor of its gradient.
    """
    h, w = x.shape[-2:]
    area = h * w
    grad = torch.empty_like(x)  # the cores cover every pixel once
    loss = torch.zeros((), dtype=x.dtype, device=x.device)
    for y0, y1, wy0, wy1 in spans(h, tile, margin, align, offset[0]):
        rows = _pieces(wy0, wy1, shift[0], h)
        for x0, x1, wx0, wx1 in spans(w, tile, margin, align, offset[1]):
            cols = _pieces(wx0, wx1, shift[1], w)
            part, g = step_grad(_window(x, rows, cols))
            share = (wy1 - wy0) * (wx1 - wx0) / area  # undo the objective's mean over the window
            core = g[..., y0 - wy0 : y1 - wy0, x0 - wx0 : x1 - wx0] * share
            for dst_r, src_r in _pieces(y0, y1, shift[0], h):
                for dst_c, src_c in _pieces(x0, x1, shift[1], w):
                    grad[..., dst_r, dst_c] = core[..., src_r, src_c]
            loss = loss + part * ((y1 - y0) * (x1 - x0) / area)
    return loss, grad


def tiled(
    step_grad: StepGrad, plan: DreamPlan, config: DreamConfig, shape: tuple[int, int]
) -> StepGrad:
    """``step_grad`` computed tile by tile where an octave is larger than its tile.

    ``shape`` is the full image size; the tile is chosen per octave (:func:`tile_for_octave`,
    by the size of the image the step is given), with the device's free memory measured once,
    here. Octaves that fit in one tile, and ``tile=0``, use ``step_grad`` itself: tiling never
    changes a dream it isn't needed for. The returned step also has ``.rolled(x, shift)``, the
    gradient of ``x`` rolled by ``shift`` (rolled back) without full-size copies.
    """
    align, margin = geometry(plan)
    layers = plan.objective.layers
    if config.tile != "auto" and config.tile and config.tile < min_tile(align, margin):
        raise DreamError(
            f"tile {config.tile} is too small for layers {', '.join(layers)}: use at "
            f"least {min_tile(align, margin)} px (or 0 for no tiling)"
        )
    free = device_free_bytes(plan.model.device) if config.tile == "auto" else None
    tiles: dict[tuple[int, int], int] = {}
    # Its own stream, so the jitter sequence does not depend on whether tiling is on.
    rng = torch.Generator().manual_seed((config.seed + 0x7113) % 2**63)

    def tile_for(x: torch.Tensor) -> int:
        here = (int(x.shape[-2]), int(x.shape[-1]))
        if here not in tiles:
            tile = tile_for_octave(config.tile, plan, here, shape, free=free)
            tiles[here] = tile // align * align
        return tiles[here]

    def step_rolled(x: torch.Tensor, shift: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        tile = tile_for(x)
        h, w = x.shape[-2:]
        if not tile or (h <= tile and w <= tile):
            if shift == (0, 0):
                return step_grad(x)
            loss, grad = step_grad(torch.roll(x, shift, dims=(-2, -1)))
            return loss, torch.roll(grad, (-shift[0], -shift[1]), dims=(-2, -1))
        oy, ox = (_draw(grid_offsets(n, tile, margin, align), rng) for n in (h, w))
        return tiled_gradient(step_grad, x, tile, margin, align, (oy, ox), shift)

    def step(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return step_rolled(x, (0, 0))

    if config.tile == 0:
        return step_grad
    step.rolled = step_rolled  # type: ignore[attr-defined]
    return step
