"""The engine's math on a tiny random network (fast, float64)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import psnr, tiny_model
from reference import deep_dream, features

from inceptionism.algorithm.engine import (
    DreamWarning,
    dream_tensor,
    normalize,
    octave_count,
    octave_shapes,
    total_steps,
    usable_shapes,
)
from inceptionism.algorithm.objectives import layer_l2, reference
from inceptionism.algorithm.plan import make_plan
from inceptionism.config import MAX_OCTAVES, DreamConfig
from inceptionism.errors import DreamError


def random_pixels(h: int = 48, w: int = 64, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, h, w, generator=g, dtype=torch.float64) * 255


def test_octave_shapes_are_the_reference_pyramid_smallest_first():
    assert octave_shapes((100, 150), 3, 1.2) == [(69, 104), (83, 125), (100, 150)]
    assert octave_shapes((100, 150), 1, 1.2) == [(100, 150)]
    shapes = octave_shapes((300, 451), 10, 1.2)
    assert shapes[-1] == (300, 451)
    assert shapes[0] == (int(300 / 1.2**9), int(451 / 1.2**9))


def test_too_small_octaves_are_skipped_and_only_full_size_refused():
    shapes = octave_shapes((40, 60), 5, 1.5)
    assert usable_shapes(shapes, 16) == [s for s in shapes if min(s) >= 16]
    with pytest.raises(DreamError, match="too small"):
        usable_shapes(shapes, 41)


def test_octaves_are_counted_without_listing_them_and_long_schedules_refused():
    """A billion octaves of 1.00000001 answers at once (the list would take minutes and GBs);
    the count agrees with listing the reference pyramid level by level."""
    assert octave_count((4000, 6000), 10**9, 1.00000001, 16) == 552_146_098  # log(250) / 1e-8
    with pytest.raises(DreamError, match=f"at most {MAX_OCTAVES}"):
        octave_shapes((4000, 6000), 10**9, 1.00000001, 16)
    for shape, octaves, scale, min_side in [
        ((100, 150), 10, 1.2, 16),
        ((300, 451), 40, 1.4, 32),
        ((17, 5000), 9, 1.05, 16),
        ((64, 64), 50, 2.0, 1),
        ((4000, 6000), 100, 1.00000001, 16),
    ]:
        listed = [i for i in range(octaves) if int(min(shape) / scale**i) >= min_side]
        assert octave_count(shape, octaves, scale, min_side) == len(listed)
    assert octave_shapes((4000, 6000), 100, 1e300) == [(4000, 6000)]  # no OverflowError
    cfg = DreamConfig(octaves=MAX_OCTAVES, octave_scale=1.00000001, iterations=1)
    model = tiny_model()
    plan = make_plan(model, reference({"conv3": 1.0}))
    assert total_steps(plan, (48, 64), cfg) == MAX_OCTAVES
    for octaves in (MAX_OCTAVES + 1, 10000, 2**63 - 1, 10**5000, 0, True, 2.0):
        with pytest.raises(DreamError, match=f"octaves .*from 1 to {MAX_OCTAVES}"):
            DreamConfig(octaves=octaves)


def test_objective_is_border_cut_sum_of_squares_over_layer_size():
    a = torch.arange(2 * 3 * 7 * 9, dtype=torch.float64).reshape(2, 3, 7, 9)
    expect = float((a[:, :, 2:-2, 2:-2] ** 2).sum() / a.numel())
    assert layer_l2("x")({"x": a}).item() == pytest.approx(expect)
    obj = reference({"x": 2.0, "y": 0.5})
    b = torch.ones(1, 4, 6, 6, dtype=torch.float64)
    got = obj({"x": a, "y": b}).item()
    assert got == pytest.approx(2 * expect + 0.5 * (4 * 2 * 2) / b.numel())
    assert obj.layers == ("x", "y")


def test_normalisation_gives_unit_mean_magnitude_and_floors_zero():
    g = torch.randn(1, 3, 10, 10, dtype=torch.float64) * 1e-3
    assert normalize(g).abs().mean().item() == pytest.approx(1.0)
    z = torch.zeros(1, 3, 4, 4)
    assert torch.equal(normalize(z), z)
    tiny = torch.full((1, 1, 2, 2), 1e-9)
    assert torch.allclose(normalize(tiny), tiny / 1e-7)


def test_zero_iterations_return_the_original_via_detail_reinjection(tiny):
    x = random_pixels()
    cfg = DreamConfig(model="tiny", octaves=4, octave_scale=1.3, iterations=0)
    y = dream_tensor(tiny, x, cfg)
    assert torch.allclose(y, x, atol=1e-9)


def test_detail_reinjection_matches_the_reference_on_two_octaves(tiny):
    x = random_pixels()
    cfg = DreamConfig(model="tiny", octaves=2, iterations=1, max_loss=math.inf)
    y = dream_tensor(tiny, x, cfg)
    feats = features(tiny.net, {"conv3": "5"})
    ref = deep_dream(
        feats, {"conv3": 1.0}, tiny.preprocess(x), num_octave=2, iterations=1, max_loss=None
    )
    ref = tiny.preprocess.invert(ref).clamp(0, 255)
    assert torch.allclose(y, ref, atol=1e-9)


@pytest.mark.parametrize("octaves,iterations", [(1, 3), (2, 1), (3, 4)])
def test_engine_equals_plain_reference_in_float64(tiny, octaves, iterations):
    x = random_pixels(64, 80)
    cfg = DreamConfig(model="tiny", octaves=octaves, iterations=iterations, step=0.05)
    y = dream_tensor(tiny, x, cfg)
    feats = features(tiny.net, {"conv3": "5"})
    ref = deep_dream(
        feats,
        {"conv3": 1.0},
        tiny.preprocess(x),
        num_octave=octaves,
        iterations=iterations,
        step=0.05,
    )
    ref = tiny.preprocess.invert(ref).clamp(0, 255)
    assert psnr(y, ref) > 100


def test_max_loss_is_checked_before_the_step(tiny):
    x = random_pixels()
    with pytest.warns(DreamWarning, match="before its first step"):
        stopped = dream_tensor(
            tiny, x, DreamConfig(model="tiny", octaves=1, iterations=5, max_loss=-1.0)
        )
    assert torch.allclose(stopped, x, atol=1e-9)  # the first loss already exceeds it: no step
    moved = dream_tensor(tiny, x, DreamConfig(model="tiny", octaves=1, iterations=5))
    assert not torch.allclose(moved, x, atol=1e-3)


def test_max_loss_stops_the_octave_midway(tiny):
    x = random_pixels()
    steps = []
    cfg = DreamConfig(model="tiny", octaves=1, iterations=50, step=0.5)
    dream_tensor(tiny, x, cfg, progress=lambda n, loss: steps.append(loss.item()))
    limit = steps[5]
    steps2 = []
    dream_tensor(
        tiny, x, cfg.replace(max_loss=limit), progress=lambda n, loss: steps2.append(loss.item())
    )
    assert all(v <= limit for v in steps2)
    assert 0 < len(steps2) < 50


def test_jitter_is_seeded(tiny):
    x = random_pixels()
    cfg = DreamConfig(model="tiny", octaves=2, iterations=3, jitter=8, seed=3)
    a, b = dream_tensor(tiny, x, cfg), dream_tensor(tiny, x, cfg)
    c = dream_tensor(tiny, x, cfg.replace(seed=4))
    d = dream_tensor(tiny, x, cfg.replace(jitter=0))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a, d)


def test_forward_stops_at_the_deepest_layer_and_no_weight_gradients(tiny):
    tiny.layer_info()  # the one-off probe of all layers is not part of the dream
    calls = []
    tiny.net[6].register_forward_hook(lambda *a: calls.append(1))
    dream_tensor(
        tiny,
        random_pixels(),
        DreamConfig(model="tiny", octaves=2, iterations=2, layers={"conv2": 1.0}),
    )
    assert calls == []
    assert all(p.grad is None and not p.requires_grad for p in tiny.net.parameters())


def test_aliases_and_module_paths_address_layers():
    m = tiny_model()
    m.aliases["Mixed_x"] = "conv2"
    x = tiny_model().preprocess(random_pixels())
    acts = m.activations(x, ["Mixed_x", "conv2", "5"])
    assert torch.equal(acts["Mixed_x"], acts["conv2"])
    assert acts["5"].shape[1] == 16
    with pytest.raises(DreamError, match="did you mean 'conv2'"):
        m.resolve("conv22")


def test_layer_info_reports_channels_and_strides():
    info = {li.name: (li.channels, li.stride) for li in tiny_model().layer_info(64)}
    assert info == {"conv1": (8, 1), "conv2": (16, 2), "conv3": (16, 4), "conv4": (32, 8)}


def test_invalid_config_numbers_are_refused():
    for bad in (
        {"octave_scale": 1.0},
        {"octave_scale": 0.5},
        {"iterations": -1},
        {"step": math.nan},
        {"step": math.inf},
        {"octaves": 0},
        {"jitter": -2},
        {"layers": {"a": math.inf}},
    ):
        with pytest.raises(DreamError):
            DreamConfig(**bad)
    assert np.isinf(DreamConfig(max_loss=math.inf).max_loss)


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("size", [(8, 8), (9, 8), (8, 11), (13, 13)])
def test_tf_same_strided_conv_pads_like_tensorflow(k, size):
    """EfficientNet-Lite's stride-2 convs, set up for dreaming, pad inside the conv (a zero tap in
    front where TF pads one more after than before): exactly an explicit TF "same" pad and a conv,
    values and input gradient, for every parity of the input size."""
    import math

    import torch.nn.functional as F

    from inceptionism.models.efficientnet_lite import Conv2dSame

    torch.manual_seed(0)
    conv = Conv2dSame(4, 4, k, stride=2, groups=4).double()
    x = torch.randn(1, 4, *size, dtype=torch.float64, requires_grad=True)
    ph, pw = (max((math.ceil(n / 2) - 1) * 2 + k - n, 0) for n in size)
    want = F.conv2d(F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]), conv.weight,
                    stride=2, groups=4)  # fmt: skip
    conv.for_dreaming()  # what DreamModel.fast() does; as loaded it pads with F.pad
    got = conv(x)
    assert got.shape == want.shape == (1, 4, math.ceil(size[0] / 2), math.ceil(size[1] / 2))
    assert torch.allclose(got, want, rtol=0, atol=1e-12)
    g = torch.randn_like(got)
    (g_got,) = torch.autograd.grad(got, x, g, retain_graph=True)
    (g_want,) = torch.autograd.grad(want, x, g)
    assert torch.allclose(g_got, g_want, rtol=0, atol=1e-12)


def test_small_octaves_run_on_fewer_threads_and_the_setting_comes_back(tiny, monkeypatch):
    from inceptionism import runtime

    assert runtime.thread_count((64, 96), 2) == 1  # tiny: OpenMP sync costs what it shares
    assert runtime.thread_count((111, 198), 2) == 2  # idle, two threads win from here up
    assert runtime.thread_count((575, 1024), 2) == 2
    assert runtime.thread_count((575, 1024), 1) == 1
    assert runtime.thread_count((4000, 4000), 16) == 16
    monkeypatch.setattr(runtime, "PIXELS_PER_THREAD", 48 * 64 // 2)  # full size: 2 threads
    monkeypatch.setattr(runtime, "_forced", 2)  # as --threads 2: busy neighbours change nothing
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    seen: list[tuple[int, int]] = []
    fast = tiny.fast()
    activations = fast.activations

    def spy(x, layers):
        if torch.is_grad_enabled():  # not the probe that sizes tiles
            seen.append((x.shape[-1], torch.get_num_threads()))
        return activations(x, layers)

    monkeypatch.setattr(fast, "activations", spy)
    try:
        dream_tensor(fast, random_pixels(), DreamConfig(octaves=2, octave_scale=1.5, iterations=1))
        assert seen[-2:] == [(42, 1), (64, 2)]  # (before them: probes of layer sizes)
        assert torch.get_num_threads() == 2
        with runtime.threads_for((10, 10), torch.device("meta"), 2):  # not the CPU: as it is
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
