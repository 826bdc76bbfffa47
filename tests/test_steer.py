"""Steering (channels, classes, guide image) and the quality controls (smooth, preserve colours,
clip): the math on tiny tensors and nets, the effect on the real embedded model at small sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import sample_array, tiny_model, to_pixels
from PIL import Image

import inceptionism
from inceptionism.algorithm.engine import dream_tensor, gradient_ascent
from inceptionism.algorithm.objectives import (
    channel,
    class_logit,
    guide,
    layer_l2,
    objective_for,
    parse_layer,
)
from inceptionism.algorithm.shaping import (
    Shaping,
    chroma,
    pixel_bounds,
    smooth_cascade,
    to_grey_axis,
)
from inceptionism.config import DreamConfig, make_config
from inceptionism.errors import DreamError
from inceptionism.models.classes import lookup, names, search


def random_pixels(h: int = 48, w: int = 64, seed: int = 1, lo: float = 0, hi: float = 255):
    g = torch.Generator().manual_seed(seed)
    return lo + torch.rand(1, 3, h, w, generator=g, dtype=torch.float64) * (hi - lo)


def stripes(path, size: int = 160):
    """A colourful striped guide, nothing like a cat."""
    yy, xx = np.mgrid[0:size, 0:size]
    a = np.stack(
        [
            127 + 127 * np.sin(xx / 3.0),
            127 + 127 * np.sin((xx + yy) / 5.0),
            127 + 127 * np.cos(yy / 4.0),
        ],
        -1,
    )
    Image.fromarray(a.astype(np.uint8)).save(path)
    return path


# --------------------------------------------------------------------------------------------
# objectives: algebra and values


def test_objective_algebra_equals_the_hand_computed_combination():
    g = torch.Generator().manual_seed(0)
    acts = {
        "a": torch.randn(1, 6, 8, 8, generator=g, dtype=torch.float64),
        "logits": torch.randn(1, 10, generator=g, dtype=torch.float64),
    }
    obj = channel("a", [1, 4]) + 0.5 * class_logit(3) - 2 * layer_l2("a") / 4
    a = acts["a"]
    l2 = (a[:, :, 2:-2, 2:-2] ** 2).sum() / a.numel()
    expect = a[:, [1, 4]].mean() + 0.5 * acts["logits"][0, 3] - 0.5 * l2
    assert obj(acts).item() == pytest.approx(expect.item())
    assert obj.layers == ("a", "logits")
    assert "channel(a:1,4)" in obj.name and "class(3)" in obj.name
    assert sum([channel("a", 0), channel("a", 0)])(acts).item() == pytest.approx(
        2 * a[:, 0].mean().item()
    )


def test_guide_objective_is_dot_product_with_best_matching_guide_vector():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 5, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(1, 5, 2, 3, generator=g, dtype=torch.float64)
    obj = guide("a", y)
    xs, ys = x.detach().reshape(5, -1), y.reshape(5, -1)
    best = (xs.T @ ys).argmax(1)
    expect = sum(xs[:, i] @ ys[:, best[i]] for i in range(xs.shape[1])) / x.numel()
    loss = obj({"a": x})
    assert loss.item() == pytest.approx(expect.item())
    (grad,) = torch.autograd.grad(loss, x)  # Google's objective_guide: the gradient is y[:, best]
    assert torch.allclose(grad.reshape(5, -1), ys[:, best] / x.numel())


def test_layer_specs_parse_and_from_config_builds_the_sum():
    assert parse_layer("block8") == ("block8", ())
    assert parse_layer("block8:17,40") == ("block8", (17, 40))
    for bad in ("block8:", "block8:x", "block8:1,,2", ":3", "block8:-1"):
        with pytest.raises(DreamError, match="NAME:CHANNEL"):
            parse_layer(bad)
    m = tiny_model()
    x = m.preprocess(random_pixels())
    acts = m.activations(x, ["conv2", "conv3"])
    obj = objective_for(DreamConfig(model="tiny", layers={"conv3": 1.0, "conv2:3,5": 2.0}), m)
    expect = layer_l2("conv3")(acts) + 2 * acts["conv2"][:, [3, 5]].mean()
    assert obj(acts).item() == pytest.approx(expect.item())
    assert objective_for(DreamConfig(model="tiny"), m).name == "1.0 * l2(conv3)"  # the reference
    with pytest.raises(DreamError, match=r"channel 16 out of range for layer conv2.*\(0\.\.15\)"):
        objective_for(DreamConfig(model="tiny", layers={"conv2:16": 1.0}), m)


def test_config_keeps_the_steering_as_written_and_round_trips():
    cfg = make_config(
        "default",
        layers={"block8:17": 2.0},
        classes=["tabby cat", 281],
        guide="flowers.jpg",
        smooth=1.5,
        clip=True,
    )
    assert cfg.classes == {"tabby cat": 1.0, "281": 1.0}
    assert DreamConfig.from_dict(cfg.to_dict()) == cfg
    d = DreamConfig()
    assert (d.classes, d.guide, d.guide_layer, d.smooth, d.preserve_colors, d.clip) == (
        {},
        None,
        None,
        0.0,
        False,
        False,
    )
    assert make_config("default").clip and not make_config("seed").clip
    assert not make_config("default", model="inception-v3").clip  # the Keras example's practice
    for bad in ({"smooth": -1.0}, {"smooth": float("nan")}, {"classes": {"x": float("inf")}}):
        with pytest.raises(DreamError):
            DreamConfig(**bad)


# --------------------------------------------------------------------------------------------
# class names


def test_class_lookup_is_forgiving_but_never_guesses():
    assert len(names()) == 1000 and names()[281] == "tabby"
    assert lookup("tabby cat") == lookup("Tabby") == lookup(281) == lookup(" 281 ") == 281
    assert lookup("great-white  SHARK") == 2
    assert lookup("jack o lantern") == names().index("jack-o'-lantern")
    assert lookup("persian") == names().index("Persian cat")  # the only name with that word
    with pytest.raises(DreamError, match=r"ambiguous.*tiger cat"):
        lookup("cat")
    with pytest.raises(DreamError, match=r"unknown class 'goldfsh'.*'goldfish' \(1\)"):
        lookup("goldfsh")
    with pytest.raises(DreamError, match=r"out of range \(0\.\.999\)"):
        lookup("1000")
    with pytest.raises(DreamError, match="index"):
        lookup("tabby", num_classes=10)
    assert lookup(7, num_classes=10) == 7
    assert (281, "tabby") in search("TAB")
    assert class_logit("Tabby Cat").name == "class(281 tabby)"


# --------------------------------------------------------------------------------------------
# quality controls


def test_all_controls_off_is_the_reference_bit_for_bit():
    m = tiny_model()
    x = random_pixels()
    cfg = DreamConfig(model="tiny", octaves=2, iterations=3, jitter=4)
    a = dream_tensor(m, x, cfg)
    b = dream_tensor(m, x, cfg, objective=layer_l2("conv3"))
    assert torch.equal(a, b)
    assert torch.equal(Shaping().gradient(x), x) and torch.equal(Shaping().image(x), x)


def test_grey_axis_gradient_changes_luminance_only():
    m = tiny_model()
    m.preprocess = type(m.preprocess)((120.0, 110.0, 100.0), (60.0, 70.0, 80.0))  # uneven map
    g = torch.randn(1, 3, 5, 5, dtype=torch.float64)
    step = m.preprocess.invert(to_grey_axis(g, m.preprocess)) - m.preprocess.invert(0 * g)
    assert torch.allclose(step[:, 0], step[:, 1]) and torch.allclose(step[:, 1], step[:, 2])
    x = random_pixels(lo=60, hi=190)  # no pixel near 0 or 255: nothing clamps
    cfg = DreamConfig(
        model="tiny", octaves=2, iterations=4, step=0.01, max_loss=np.inf, preserve_colors=True
    )
    y = dream_tensor(m, x, cfg)
    assert (y - x).abs().max() > 5  # it did dream
    inside = ((y > 0) & (y < 255)).all(1)  # the final clamp to 0..255 may touch a few pixels
    assert inside.float().mean() > 0.95
    assert (chroma(y) - chroma(x))[:, :, inside[0]].abs().max() < 1e-6


def test_smoothing_moves_the_gradient_energy_to_low_frequencies():
    g = torch.randn(1, 3, 64, 64, dtype=torch.float64)
    s = smooth_cascade(g, 2.0)
    assert s.shape == g.shape

    def high_share(t: torch.Tensor) -> float:
        """Share of the energy finer than 4 px blocks (white noise: 15/16)."""
        coarse = F.interpolate(F.avg_pool2d(t, 4), scale_factor=4, mode="nearest")
        return float((t - coarse).square().mean() / t.square().mean())

    assert high_share(s) < 0.5 * high_share(g)
    ones = torch.ones(1, 3, 9, 11, dtype=torch.float64)
    assert torch.allclose(smooth_cascade(ones, 3.0), ones)  # no dark border
    m = tiny_model()
    x = random_pixels()
    cfg = DreamConfig(model="tiny", octaves=1, iterations=3, step=0.2)
    rough, smooth = dream_tensor(m, x, cfg), dream_tensor(m, x, cfg.replace(smooth=2.0))
    assert high_share(smooth - x) < high_share(rough - x)


def test_clip_keeps_every_step_inside_the_pixel_range():
    m = tiny_model()
    x = m.preprocess(random_pixels())
    lo, hi = pixel_bounds(m.preprocess, x)
    seen = []

    def step_grad(t: torch.Tensor):
        seen.append(t)
        return torch.zeros(()), torch.ones_like(t)  # always push up: would leave the range

    cfg = DreamConfig(model="tiny", iterations=6, step=0.5, max_loss=float("inf"))
    rng = torch.Generator()
    free = gradient_ascent(x, step_grad, cfg, rng)
    assert free.max() > hi.max() + 1
    seen.clear()
    clipped = gradient_ascent(
        x, step_grad, cfg, rng, shaping=Shaping(clip=True, preprocess=m.preprocess)
    )
    for t in [*seen, clipped]:
        assert (t >= lo - 1e-9).all() and (t <= hi + 1e-9).all()
    assert torch.allclose(clipped, hi.expand_as(clipped))


def test_clip_with_preserve_colors_moves_pixels_along_the_grey_axis():
    m = tiny_model()
    m.preprocess = type(m.preprocess)((120.0, 110.0, 100.0), (60.0, 70.0, 80.0))
    shift = random_pixels(seed=2, lo=-120, hi=120)[:, :1]  # the same for R, G and B
    p = random_pixels(lo=60, hi=190) + shift
    shaping = Shaping(clip=True, preserve_colors=True, preprocess=m.preprocess)
    q = m.preprocess.invert(shaping.image(m.preprocess(p)))
    assert (p.amin(1) < 0).any() and (p.amax(1) > 255).any()
    assert q.min() > -1e-6 and q.max() < 255 + 1e-6
    assert torch.allclose(chroma(q), chroma(p), atol=1e-6)


# --------------------------------------------------------------------------------------------
# the real model: each objective raises its own target


def value(model, obj, pixels: torch.Tensor) -> float:
    with torch.no_grad():
        return obj(model.activations(model.preprocess(pixels), obj.layers)).item()


SHORT = dict(octaves=2, iterations=8, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize(
    "obj", [channel("block8", 8), channel("block8", [0, 5]), class_logit(1, label="goldfish")]
)
def test_channel_and_class_objectives_raise_their_target(lite0, obj):
    x = to_pixels(sample_array(112))
    before = value(lite0, obj, x)
    out = dream_tensor(lite0, x, make_config("default", **SHORT), obj)
    after = value(lite0, obj, out)
    assert before > 0 and after >= 2 * before, (before, after)


@pytest.mark.slow
def test_guide_dream_moves_towards_the_guide(lite0, tmp_path):
    g = stripes(tmp_path / "guide.png")
    x = to_pixels(sample_array(112))
    plain = make_config("default", **SHORT)
    # made as the front ends make it: a guide alone drops the preset's layers (block10 + block8)
    guided = make_config("default", **{**SHORT, "iterations": 12}, guide=str(g))
    obj = objective_for(guided, lite0)
    assert obj.layers == ("block10",)  # the model's default layer
    a = dream_tensor(lite0, x, guided)
    b = dream_tensor(lite0, x, plain.replace(iterations=12))
    before, after, unguided = (value(lite0, obj, t) for t in (x, a, b))
    assert after >= 2 * before and after > unguided, (before, after, unguided)

    def pooled(t: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return lite0.activations(lite0.preprocess(t), ["block10"])["block10"].mean((0, 2, 3))

    target = pooled(to_pixels(np.asarray(Image.open(g), dtype=np.float32)))
    cos = [F.cosine_similarity(pooled(t), target, dim=0).item() for t in (x, a, b)]
    assert cos[1] > cos[2] + 0.1 and cos[1] > cos[0] + 0.1, cos


@pytest.mark.slow
def test_api_steers_with_objectives_and_keeps_colours(lite0):
    a = sample_array(96)
    obj = inceptionism.channel("block8", 17) + 0.5 * inceptionism.class_logit("tabby cat")
    out = np.asarray(inceptionism.dream(a, model=lite0, objective=obj, octaves=1, iterations=3))
    assert np.abs(out.astype(np.float32) - a).mean() > 1
    a = sample_array(192)  # block10 (stride 16) needs room for its 2-pixel border cut
    kept = np.asarray(
        inceptionism.dream(a, model=lite0, octaves=2, iterations=5, preserve_colors=True)
    ).astype(np.float32)
    assert np.abs(kept - a).mean() > 3  # it did dream
    inside = ((kept > 2) & (kept < 253)).all(-1)  # where no channel clamped at save
    diff = (chroma(to_pixels(kept)) - chroma(to_pixels(a)))[0].abs().amax(0).numpy()
    assert inside.mean() > 0.9 and diff[inside].max() < 1.5, diff[inside].max()


# --------------------------------------------------------------------------------------------
# the command line


@pytest.mark.parametrize(
    "args,words",
    [
        (["--layer", "block8:112"], ["channel 112", "block8", "0..111"]),
        (["--layer", "block8:x"], ["block8:x", "NAME:CHANNEL"]),
        (["--layer", "block88:1"], ["unknown layer", "block8"]),
        (["--class", "tabbby"], ["unknown class", "'tabby' (281)"]),
        (["--class", "dog"], ["ambiguous", "Maltese dog"]),
        (["--class", "1000"], ["out of range", "0..999"]),
        (["--class", "tabby=x"], ["not a number"]),
        (["--class", "tabby,"], ["empty class"]),
        (["--guide", "nope.jpg"], ["guide image not found", "nope.jpg"]),
        (["--smooth", "-1"], ["smooth"]),
        (["--smooth", "nan"], ["nan"]),
    ],
)
def test_bad_steering_options_give_one_line_and_no_file(tmp_path, capsys, args, words):
    from test_cli import FAST, assert_one_line_error, files_in, photo, run_cli

    src = photo(tmp_path / "in.png")
    before = files_in(tmp_path)
    code, _, err = run_cli(["dream", src, *FAST, *args], capsys)
    assert_one_line_error(code, err, *words)
    assert files_in(tmp_path) == before


def test_bad_guide_layer_and_guide_file(tmp_path, capsys):
    from test_cli import FAST, assert_one_line_error, photo, run_cli

    src = photo(tmp_path / "in.png")
    g = stripes(tmp_path / "g.png", 64)
    code, _, err = run_cli(["dream", src, *FAST, "--guide", g, "--guide-layer", "blok8"], capsys)
    assert_one_line_error(code, err, "unknown layer", "block8")
    code, _, err = run_cli(["dream", src, *FAST, "--guide", g, "--guide-layer", "logits"], capsys)
    assert_one_line_error(code, err, "no spatial map")
    code, _, err = run_cli(["dream", src, *FAST, "--guide-layer", "block8"], capsys)
    assert_one_line_error(code, err, "without a guide image")
    (tmp_path / "bad.jpg").write_bytes(b"not a picture")
    code, _, err = run_cli(["dream", src, *FAST, "--guide", tmp_path / "bad.jpg"], capsys)
    assert_one_line_error(code, err, "bad.jpg")


@pytest.mark.slow
def test_steering_flags_reach_the_config_and_the_metadata(tmp_path, capsys):
    from test_cli import FAST, photo, run_cli

    from inceptionism.io import read_metadata

    src = photo(tmp_path / "in.png", (96, 64))
    g = stripes(tmp_path / "g.png", 64)
    out = tmp_path / "out.png"
    code, _, err = run_cli(
        [
            "dream", src, "-o", out, *FAST,
            "--layer", "block8: 17,40=2", "--layer", "block6", "--layer", "block6=0.5",
            "--class", "tabby cat=0.5", "--class", "1,2",
            "--guide", g, "--guide-layer", "block8", "--guide-weight", "3",
            "--smooth", "1.5", "--preserve-colors", "--clip",
        ],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    meta = read_metadata(out)
    c = meta["config"]
    assert c["layers"] == meta["layers"] == {"block8:17,40": 2.0, "block6": 1.5}
    assert c["classes"] == {"tabby cat": 0.5, "1": 1.0, "2": 1.0}
    assert (c["guide"], c["guide_layer"], c["guide_weight"]) == (str(g), "block8", 3.0)
    assert (c["smooth"], c["preserve_colors"], c["clip"]) == (1.5, True, True)
    assert "class(281 tabby)" in meta["objective"] and "guide(block8, g.png)" in meta["objective"]
    assert DreamConfig.from_dict(c).classes == {"tabby cat": 0.5, "1": 1.0, "2": 1.0}
    code, _, err = run_cli(
        ["dream", src, "-o", out, *FAST, "--class", "281", "--overwrite"], capsys
    )
    assert code == 0, err
    assert read_metadata(out)["layers"] == {}  # a class alone: no default layer mixed in


def test_classes_command_lists_names(capsys):
    from test_cli import run_cli

    code, out, _ = run_cli(["classes", "tabby"], capsys)
    assert code == 0 and out.split() == ["281", "tabby"]
    code, out, _ = run_cli(["classes"], capsys)
    assert len(out.splitlines()) == 1000


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_in_place_clip_knee_gives_the_plain_formulas_numbers(dtype):
    """The fast knee (gathered, in place) against knee_step's plain whole-tensor formula, and the
    in-place clip against min/max: the same bits, so the golden dreams keep their pixels."""
    from inceptionism.algorithm.shaping import knee_step, knee_step_
    from inceptionism.models.base import Preprocess

    pre = Preprocess.mean_std((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    g = torch.Generator().manual_seed(0)
    pixels = torch.rand(1, 3, 37, 53, generator=g, dtype=dtype) * 300 - 20  # some out of range
    before = pre(pixels)
    after = pre(pixels + torch.randn(1, 3, 37, 53, generator=g, dtype=dtype) * 30)
    plain = knee_step(before, after, pre, 32.0, grey=False)
    fast = knee_step_(before, after.clone(), pre, 32.0)
    assert torch.equal(fast, plain)
    lo, hi = pixel_bounds(pre, plain)
    shaped = Shaping(clip=True, preprocess=pre, clip_knee=32.0).image(after.clone(), before)
    assert torch.equal(shaped, torch.maximum(torch.minimum(plain, hi), lo))
    still = knee_step_(after, after.clone(), pre, 32.0)  # no step
    assert torch.equal(still, knee_step(after, after, pre, 32.0, grey=False))
