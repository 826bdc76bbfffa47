"""Tiled gradients: exact on a tiny net, close and seamless on the real model, and the automatic
tile size (with fake memory numbers)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from conftest import psnr, sample_array, tiny_model, to_pixels
from PIL import Image

from inceptionism.algorithm import tiling
from inceptionism.algorithm.engine import dream_tensor, gradient_ascent, loss_and_gradient
from inceptionism.algorithm.objectives import reference
from inceptionism.algorithm.plan import make_plan
from inceptionism.algorithm.tiling import (
    choose_tile,
    geometry,
    graph_budget,
    resolve_tile,
    spans,
    tile_for_octave,
    tiled,
    tiled_gradient,
)
from inceptionism.config import DreamConfig, make_config
from inceptionism.errors import DreamError

MiB = 2**20
GiB = 2**30


def random_pixels(h: int, w: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, h, w, generator=g, dtype=torch.float64) * 255


def test_spans_partition_each_axis_into_cores_with_context_in_few_window_shapes():
    rng = np.random.default_rng(0)
    for _ in range(300):
        align = int(rng.choice([1, 2, 4, 16, 32]))
        margin = 4 * align
        tile = int(rng.integers(2 * margin + align, 12 * margin)) // align * align
        size = int(rng.integers(tile // 2, 6 * tile))
        lengths = set()
        for offset in range(0, tile - 2 * margin, align):
            parts = spans(size, tile, margin, align, offset)
            assert parts[0][0] == 0 and parts[-1][1] == size
            assert all(p[1] == q[0] for p, q in itertools.pairwise(parts))  # no gap, no overlap
            for a, b, lo, hi in parts:
                assert a < b and lo % align == 0 and hi - lo <= tile
                assert lo <= max(0, a - margin) and hi >= min(size, b + margin)
                lengths.add(hi - lo)
        assert len(lengths) <= 2, (size, tile, margin, align, lengths)
    assert spans(100, 128, 16, 4, 8) == [(0, 100, 0, 100)]


def test_grid_offsets_keep_the_fewest_windows_when_half_the_offsets_do():
    def count(size, tile, offset):
        return len(spans(size, tile, 64, 16, offset))

    every = tuple(range(0, 752, 16))  # 880 px windows, 64 px margins: cores of 752
    for size in (4000, 2668, 2315, 1544, 700):
        got = tiling.grid_offsets(size, 880, 64, 16)
        counts = {o: count(size, 880, o) for o in every}
        fewest = min(counts.values())
        if got != every:  # only the offsets with the fewest windows, and at least half of all
            assert {counts[o] for o in got} == {fewest} and 2 * len(got) >= len(every)
        else:  # all of them: too few have the fewest windows (or the axis fits in one)
            assert 2 * sum(n == fewest for n in counts.values()) < len(every) or size <= 880
    # a 4000 px axis in 880 px windows: 6 windows at every kept offset (7 at some others)
    assert tiling.grid_offsets(4000, 880, 64, 16) != every
    assert {count(4000, 880, o) for o in tiling.grid_offsets(4000, 880, 64, 16)} == {6}
    assert tiling.grid_offsets(2315, 880, 64, 16) == every  # 5 of 47: the seams must move


@pytest.mark.slow
def test_tiled_gradient_is_the_whole_gradient_when_margins_cover_the_receptive_field():
    """conv3 of the tiny net sees 9 px at stride 4: a 16 px margin leaves every core pixel's
    gradient exactly as in the whole image, whatever the grid offset."""
    model = tiny_model()
    objective = reference({"conv3": 1.0})
    align, margin = geometry(make_plan(model, objective))
    assert (align, margin) == (4, 16)
    x = model.preprocess(random_pixels(96, 128))
    _, full = loss_and_gradient(model, objective, x)
    for offset in [(0, 0), (8, 20), (28, 4)]:
        _, got = tiled_gradient(
            lambda t: loss_and_gradient(model, objective, t), x, 64, 16, 4, offset
        )
        assert torch.allclose(got, full, rtol=1e-9, atol=1e-12 * full.abs().max())


def test_tiled_dream_equals_untiled_dream_on_the_tiny_net():
    """Jitter, octaves, random grid offsets and the normalisation over the whole image together:
    the tiled dream is the untiled one."""
    model = tiny_model()
    x = random_pixels(96, 128)
    cfg = DreamConfig(model="tiny", octaves=2, octave_scale=2.0, iterations=3, jitter=8, seed=2)
    whole = dream_tensor(model, x, cfg.replace(tile=0))
    tiled = dream_tensor(model, x, cfg.replace(tile=64))
    assert psnr(whole, tiled) > 100
    assert psnr(whole, x) < 60  # it did dream


@pytest.mark.slow
def test_jitter_rolls_the_tile_grid_exactly_as_rolling_the_image():
    """Windows cut from the image as if rolled (wrapping at the edges) give the gradient that
    rolling the whole image, tiling it and rolling back gives, without the two full-size copies."""
    model = tiny_model()
    objective = reference({"conv3": 1.0})
    x = model.preprocess(random_pixels(96, 128))

    def f(t):
        return loss_and_gradient(model, objective, t)

    for shift, offset in [((5, -7), (0, 0)), ((-30, 61), (8, 20)), ((95, 1), (28, 4))]:
        want_loss, want = tiled_gradient(f, torch.roll(x, shift, dims=(-2, -1)), 64, 16, 4, offset)
        want = torch.roll(want, (-shift[0], -shift[1]), dims=(-2, -1))
        loss, got = tiled_gradient(f, x, 64, 16, 4, offset, shift)
        assert torch.equal(got, want) and torch.equal(loss, want_loss)


@pytest.mark.slow
def test_the_octave_loop_holds_only_the_copies_it_counts(monkeypatch):
    """While a window's graph exists, the loop holds at most ``FULL_SIZE_COPIES`` tensors of the
    full image's size (the auto tile budgets for exactly that many): the input, the dream and
    its gradient (and, at smaller octaves, the previous octave's original)."""
    import gc

    model = tiny_model()
    x = random_pixels(192, 256)
    full = x.numel() * x.element_size()
    seen = []
    real = tiling.tiled_gradient

    def spy(step_grad, img, *args):
        def counting(window):
            storages = {
                o.untyped_storage().data_ptr()
                for o in gc.get_objects()
                if type(o) is torch.Tensor and o.untyped_storage().nbytes() >= full
            }
            seen.append(len(storages))
            return step_grad(window)

        return real(counting, img, *args)

    monkeypatch.setattr(tiling, "tiled_gradient", spy)
    cfg = DreamConfig(model="tiny", octaves=2, octave_scale=1.5, iterations=1, jitter=8, tile=64)
    dream_tensor(model, x, cfg)  # one step an octave: each window scans every object once
    assert seen and max(seen) <= tiling.FULL_SIZE_COPIES, seen


def test_each_octave_gets_its_own_tile_and_big_photos_keep_big_windows(monkeypatch):
    """6000x4000 used to leave the graph nothing under the CPU cap (8 counted copies of 288 MB):
    256 px windows, 1457 a step. Now its windows stay within ~1.5x of 4000x2668's cost per
    pixel, and the smaller octave gets windows at least as large."""
    bpp = 1420.0
    cost = {}
    for w, h in ((4000, 2668), (6000, 4000)):
        budget = graph_budget("cpu", free=20 * GiB, image_bytes=3 * 4 * w * h)
        side = choose_tile((h, w), bpp, budget, 16, 64)
        assert side >= 512 and side**2 * bpp * tiling.PEAK_FACTOR <= max(budget, 1)
        windows = len(spans(h, side, 64, 16, 0)) * len(spans(w, side, 64, 16, 0))
        cost[w] = windows * side**2 / (w * h)  # network pixels per image pixel
    assert cost[6000] < 1.5 * cost[4000], cost

    model = tiny_model()
    objective = reference({"conv3": 1.0})
    plan = make_plan(model, objective)
    args = (plan,)
    small = tile_for_octave("auto", *args, (1400, 2100), (2000, 3000), free=700 * MiB)
    big = tile_for_octave("auto", *args, (2000, 3000), (2000, 3000), free=700 * MiB)
    assert small > big > 0
    assert tile_for_octave(128, *args, (400, 600), (2000, 3000)) == 128  # a number is a number
    assert tile_for_octave(0, *args, (400, 600), (2000, 3000)) == 0
    calls = []
    monkeypatch.setattr(tiling, "device_free_bytes", lambda device: calls.append(1) or 96 * MiB)
    step = tiled(lambda t: (t.sum(), t), plan, DreamConfig(model="tiny"), (900, 1200))
    for shape in ((300, 400), (600, 800), (900, 1200)):
        step(torch.zeros(1, 3, *shape, dtype=torch.float64))
    assert calls == [1]  # free memory is measured once per dream, not per octave


def test_an_image_that_fits_in_one_tile_is_not_tiled(monkeypatch):
    model = tiny_model()
    x = random_pixels(96, 128)
    cfg = DreamConfig(model="tiny", octaves=2, iterations=2, jitter=8, seed=2)
    calls = []
    monkeypatch.setattr(tiling, "tiled_gradient", lambda *a, **k: calls.append(1))
    a = dream_tensor(model, x, cfg.replace(tile=0))
    b = dream_tensor(model, x, cfg.replace(tile=128))
    c = dream_tensor(model, x, cfg)  # auto: small images are never tiled
    assert torch.equal(a, b) and torch.equal(a, c) and calls == []


def test_too_small_a_tile_is_refused_in_one_line():
    model = tiny_model()
    cfg = DreamConfig(model="tiny", octaves=1, iterations=1, tile=20)
    with pytest.raises(DreamError, match=r"tile 20 is too small.*at least 36"):
        dream_tensor(model, random_pixels(48, 64), cfg)
    with pytest.raises(DreamError, match="tile"):
        DreamConfig(tile=-1)
    with pytest.raises(DreamError, match="tile"):
        DreamConfig(tile="big")  # type: ignore[arg-type]


# -- choosing the tile size ---------------------------------------------------------------------


def test_chooser_tiles_only_what_does_not_fit():
    bpp = 1420.0  # efficientnet-lite0 up to block10, measured bytes of graph per pixel
    budget = graph_budget("cpu", free=20 * GiB, image_bytes=3 * 4 * 4000 * 2668)
    # a roomy machine: the CPU cap applies
    assert budget == tiling.CPU_DREAM_CAP - tiling.FULL_SIZE_COPIES * 3 * 4 * 4000 * 2668
    assert choose_tile((300, 451), bpp, budget, 16, 64) == 0
    assert choose_tile((480, 640), bpp, budget, 16, 64) == 0
    roomy = graph_budget("cpu", free=20 * GiB, image_bytes=3 * 4 * 1024 * 681)
    assert choose_tile((681, 1024), 1107.0, roomy, 16, 64) == 0  # the 1024 px default dream
    side = choose_tile((2668, 4000), bpp, budget, 16, 64)
    assert side % 16 == 0 and 256 <= side < 2668
    assert side**2 * bpp * tiling.PEAK_FACTOR <= budget
    # little free RAM: smaller tiles, but never below a few margins
    low = graph_budget("cpu", free=3 * GiB // 2, image_bytes=3 * 4 * 4000 * 2668)
    assert low < budget
    assert 256 <= choose_tile((2668, 4000), bpp, low, 16, 64) < side
    assert choose_tile((2668, 4000), bpp, 0, 16, 64) == 4 * 64
    # a big GPU holds the whole graph of a 4000x2668 photo; a 12000x8000 one needs tiles
    gpu = graph_budget("cuda", free=70 * GiB, image_bytes=3 * 4 * 4000 * 2668)
    assert choose_tile((2668, 4000), bpp, gpu, 16, 64) == 0
    gpu = graph_budget("cuda", free=70 * GiB, image_bytes=3 * 4 * 12000 * 8000)
    assert choose_tile((8000, 12000), bpp, gpu, 16, 64) > 2000


def test_auto_tile_follows_the_free_memory(monkeypatch):
    model = tiny_model()
    objective = reference({"conv3": 1.0})
    cfg = DreamConfig(model="tiny")
    plan = make_plan(model, objective)
    monkeypatch.setattr(tiling, "device_free_bytes", lambda device: 16 * GiB)
    assert resolve_tile(cfg, plan, (96, 128)).tile == 0
    assert resolve_tile(cfg, plan, (20000, 30000)).tile > 0
    monkeypatch.setattr(tiling, "device_free_bytes", lambda device: 64 * MiB)
    small = resolve_tile(cfg, plan, (600, 800)).tile
    assert small > 0 and small % 4 == 0
    assert resolve_tile(cfg.replace(tile=77), plan, (600, 800)).tile == 77


def test_graph_size_is_measured_per_pixel():
    model = tiny_model()
    deep, shallow = reference({"conv4": 1.0}), reference({"conv1": 1.0})
    bpp = tiling.graph_bytes_per_pixel(make_plan(model, deep), model)
    shallow_bpp = tiling.graph_bytes_per_pixel(make_plan(model, shallow), model)
    # conv1 alone keeps at least its input and its 8-channel output (float64) per pixel
    assert shallow_bpp >= (3 + 8) * 8
    assert bpp > shallow_bpp


def test_available_ram_is_a_plausible_number():
    assert 64 * MiB < tiling.available_ram() < 2**50


# -- the real model -------------------------------------------------------------------------------


def photo(h: int, w: int) -> torch.Tensor:
    big = Image.fromarray(sample_array(451).astype(np.uint8)).resize((w, h), Image.BICUBIC)
    return to_pixels(np.asarray(big, dtype=np.float32))


@pytest.mark.slow
def test_tiled_gradient_correlates_with_the_whole_gradient(lite0):
    objective = reference({"block10": 1.0})
    x = lite0.preprocess(photo(512, 768))
    _, full = loss_and_gradient(lite0, objective, x)
    align, margin = geometry(make_plan(lite0, objective))
    _, got = tiled_gradient(
        lambda t: loss_and_gradient(lite0, objective, t), x, 448, margin, align, (96, 32)
    )
    corr = torch.corrcoef(torch.stack([full.flatten(), got.flatten()]))[0, 1].item()
    assert corr > 0.99


@pytest.mark.slow
def test_tiled_and_untiled_dreams_agree(lite0):
    px = photo(320, 480)
    # the old default's plain steps: a dream strong enough that "agree" means something
    cfg = make_config(
        octaves=1, iterations=2, jitter=16, seed=3, step=0.02, lap_norm=0, clip_knee=0
    )
    whole = dream_tensor(lite0, px, cfg.replace(tile=0))
    tiled = dream_tensor(lite0, px, cfg.replace(tile=256))
    assert psnr(whole, tiled) > 35 > psnr(whole, px)


def edge_ratios(change: torch.Tensor, rows: list[int], cols: list[int]) -> tuple[float, float]:
    """Mean |Laplacian| of ``change`` on the pixel rows/columns beside tile boundaries over the
    mean elsewhere."""
    d = change[0]
    lap = (
        (4 * d[:, 1:-1, 1:-1] - d[:, :-2, 1:-1] - d[:, 2:, 1:-1] - d[:, 1:-1, :-2] - d[:, 1:-1, 2:])
        .abs()
        .mean(0)
    )
    out = []
    for axis, cuts in ((0, rows), (1, cols)):
        mask = torch.zeros(lap.shape[axis], dtype=torch.bool)
        for b in cuts:  # pixels b-1 and b meet at the cut; lap index i is pixel i + 1
            mask[b - 2 : b] = True
        on = lap[mask].mean() if axis == 0 else lap[:, mask].mean()
        off = lap[~mask].mean() if axis == 0 else lap[:, ~mask].mean()
        out.append((on / off).item())
    return out[0], out[1]


@pytest.mark.slow
def test_tile_borders_carry_no_extra_edges(lite0, monkeypatch):
    """The dream's change has no more edge energy on the rows/columns where tiles met (in any
    step) than the untiled dream has there; tiles without margins on a fixed grid do."""
    px = photo(320, 384)
    seams: dict[str, set[int]] = {"rows": set(), "cols": set()}
    real = tiling.tiled_gradient

    def spy(step_grad, x, tile, margin, align, offset, *shift):  # where the cores were cut
        seams["rows"].update(p[0] for p in spans(320, tile, margin, align, offset[0])[1:])
        seams["cols"].update(p[0] for p in spans(384, tile, margin, align, offset[1])[1:])
        return real(step_grad, x, tile, margin, align, offset, *shift)

    monkeypatch.setattr(tiling, "tiled_gradient", spy)
    cfg = make_config(octaves=1, iterations=8, jitter=0)
    tiled = dream_tensor(lite0, px, cfg.replace(tile=256)) - px
    whole = dream_tensor(lite0, px, cfg.replace(tile=0)) - px
    rows, cols = sorted(seams["rows"]), sorted(seams["cols"])
    assert len(rows) >= 3 and len(cols) >= 3  # the seams moved
    base = edge_ratios(whole, rows, cols)
    for got, ref in zip(edge_ratios(tiled, rows, cols), base, strict=True):
        assert 0.8 < got / ref < 1.2, (got, ref)

    objective = reference({"block10": 1.0})
    x = lite0.preprocess(px)
    f = lambda w: loss_and_gradient(lite0, objective, w)  # noqa: E731
    naive = gradient_ascent(x, lambda t: real(f, t, 128, 0, 16), cfg, torch.Generator()) - x
    rows = [p[0] for p in spans(320, 128, 0, 16, 0)][1:]
    cols = [p[0] for p in spans(384, 128, 0, 16, 0)][1:]
    base = edge_ratios(lite0.preprocess(whole + px) - x, rows, cols)
    ratios = [got / ref for got, ref in zip(edge_ratios(naive, rows, cols), base, strict=True)]
    assert not all(0.8 < r < 1.2 for r in ratios), ratios
