"""Inception v3, VGG16/19 and ResNet-50: published layouts, download through the spec, layers.

For each architecture a stand-in for the published file (random weights in the published
layout, written from ``build_net()``) is served by a real HTTP server on 127.0.0.1. Checked
against torchvision's published facts: parameter counts from its weights metadata and key
names/shapes of its state dicts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import ModuleType

import pytest
import torch

from inceptionism.errors import DreamError
from inceptionism.models import REGISTRY, ModelSpec, inception_v3, resnet, vgg
from inceptionism.models.base import DreamModel
from inceptionism.models.weights import Published


@dataclass
class Arch:
    module: ModuleType
    build: Callable[[], torch.nn.Module]
    num_params: int  # torchvision's weights metadata
    shapes: dict[str, tuple[int, ...]]
    strides: dict[str, int]
    n_keys: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


ARCHS: dict[str, Arch] = {
    "inception-v3": Arch(
        inception_v3,
        inception_v3.build_net,
        27161264,
        {
            "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
            "Conv2d_4a_3x3.bn.running_mean": (192,),
            "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
            "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
            "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
            "Mixed_7a.branch3x3_2.conv.weight": (320, 192, 3, 3),
            "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
            "AuxLogits.conv1.conv.weight": (768, 128, 5, 5),
            "AuxLogits.fc.weight": (1000, 768),
            "fc.weight": (1000, 2048),
        },
        {"Conv2d_1a_3x3": 2, "Mixed_5d": 8, "Mixed_6e": 16, "Mixed_7c": 32},
    ),
    "vgg16": Arch(
        vgg,
        partial(vgg.build_net, "vgg16"),
        138357544,
        {
            "features.0.weight": (64, 3, 3, 3),
            "features.28.weight": (512, 512, 3, 3),
            "features.28.bias": (512,),
            "classifier.0.weight": (4096, 25088),
            "classifier.3.weight": (4096, 4096),
            "classifier.6.weight": (1000, 4096),
        },
        {"conv1_1": 1, "pool1": 2, "relu3_3": 4, "relu4_3": 8, "conv5_3": 16, "pool5": 32},
        n_keys=32,
        extra={"relu4_3": "features.22", "pool5": "features.30", "logits": "classifier.6"},
    ),
    "vgg19": Arch(
        vgg,
        partial(vgg.build_net, "vgg19"),
        143667240,
        {
            "features.0.weight": (64, 3, 3, 3),
            "features.34.weight": (512, 512, 3, 3),
            "classifier.0.weight": (4096, 25088),
            "classifier.6.bias": (1000,),
        },
        {"relu4_4": 8, "conv5_4": 16, "pool5": 32},
        n_keys=38,
        extra={"relu4_4": "features.26", "pool5": "features.36", "logits": "classifier.6"},
    ),
    "resnet50": Arch(
        resnet,
        resnet.build_net,
        25557032,
        {
            "conv1.weight": (64, 3, 7, 7),
            "bn1.running_var": (64,),
            "layer1.0.downsample.0.weight": (256, 64, 1, 1),
            "layer2.0.conv2.weight": (128, 128, 3, 3),
            "layer3.5.conv2.weight": (256, 256, 3, 3),
            "layer4.2.conv3.weight": (2048, 512, 1, 1),
            "fc.weight": (1000, 2048),
        },
        {"conv1": 2, "maxpool": 4, "layer1": 4, "layer2.0": 8, "layer3.5": 16, "layer4": 32},
        n_keys=320,
        extra={"layer3.5": "layer3.5", "logits": "fc"},
    ),
}


def spec_of(name: str) -> ModelSpec:
    return REGISTRY[name]


@pytest.fixture(scope="module", params=list(ARCHS))
def published(request, tmp_path_factory) -> Iterator[tuple[str, Path, str, dict]]:
    """(name, file, sha256, state) of a stand-in for the published weights of one architecture."""
    name = request.param
    torch.manual_seed(0)
    state = ARCHS[name].build().state_dict()
    path = tmp_path_factory.mktemp(name) / ARCHS[name].module.WEIGHTS[name].filename
    torch.save(state, path)
    yield name, path, hashlib.sha256(path.read_bytes()).hexdigest(), state
    path.unlink()  # VGG's are 0.5 GB: pytest keeps old temp folders


@pytest.fixture(scope="module")
def model(published) -> DreamModel:
    name, path, _, _ = published
    return spec_of(name).load(path)


def test_registered() -> None:
    for name in ARCHS:
        assert spec_of(name).name == name


def test_published_layout(published) -> None:
    name, _, _, state = published
    arch = ARCHS[name]
    for key, shape in arch.shapes.items():
        assert tuple(state[key].shape) == shape, key
    if arch.n_keys is not None:
        assert len(state) == arch.n_keys
    stats = ("running_mean", "running_var", "num_batches_tracked")
    params = sum(v.numel() for k, v in state.items() if not k.endswith(stats))
    assert params == arch.num_params


def test_download_once_then_cached(published, server, cache, monkeypatch) -> None:
    name, path, sha, state = published
    weights = ARCHS[name].module.WEIGHTS
    url = server.serve(f"/models/{path.name}", path)
    monkeypatch.setitem(weights, name, Published(url, sha))
    spec = spec_of(name)
    assert not spec.weights_here()
    m = spec.load(None)
    assert sorted(p.name for p in cache.iterdir()) == [path.name] and spec.weights_here()
    key = next(iter(ARCHS[name].shapes))
    assert torch.equal(m.net.state_dict()[key], state[key])
    spec.load(None)
    assert server.hits[f"/models/{path.name}"] == 1


def test_wrong_checksum_leaves_nothing(published, server, cache, monkeypatch) -> None:
    name, path, sha, _ = published
    url = server.serve(f"/bad/{path.name}", path)
    monkeypatch.setitem(ARCHS[name].module.WEIGHTS, name, Published(url, sha[::-1]))
    with pytest.raises(DreamError, match="checksum"):
        spec_of(name).load(None)
    assert list(cache.iterdir()) == []


def test_another_architecture_is_refused(published, tmp_path) -> None:
    name, _, _, state = published
    other = "resnet50" if name != "resnet50" else "inception-v3"
    f = tmp_path / "other.pth"
    torch.save({k: v for k, v in list(state.items())[:8]}, f)
    with pytest.raises(DreamError, match="does not fit model " + other):
        spec_of(other).load(f)


def test_forward_logits_and_strides(model: DreamModel, published) -> None:
    """Two forwards (inputs 96 and 160) give the logits and every stride: the change in a map's
    size over the change in input size is exact, whatever the padding."""
    name = published[0]
    arch = ARCHS[name]
    a, b = 96, 160
    sizes = []
    for s in (a, b):
        x = model.preprocess(torch.rand(1, 3, s, s) * 255)
        with torch.no_grad():
            acts = model.activations(x, [*arch.strides, "logits"])
        assert acts["logits"].shape == (1, 1000) and torch.isfinite(acts["logits"]).all()
        sizes.append({n: acts[n].shape[-1] for n in arch.strides})
    assert {n: round((b - a) / (sizes[1][n] - sizes[0][n])) for n in arch.strides} == arch.strides
    if name != "inception-v3":  # its valid-padded maps make DreamModel's one-size probe read high
        info = {li.name: li.stride for li in model.layer_info(probe_size=64)}
        assert {n: info[n] for n in arch.strides} == arch.strides


def test_layer_names(model: DreamModel, published) -> None:
    name = published[0]
    for public, path in ARCHS[name].extra.items():
        assert model.layers[public] == path
    modules = dict(model.net.named_modules())
    assert all(path in modules for path in model.layers.values())
    for layer in model.default_layers:
        model.resolve(layer)
    assert set(model.default_layers) == set(spec_of(name).default_layers)


def test_vgg_conv_outputs_are_not_overwritten_by_relus(model: DreamModel, published) -> None:
    if not published[0].startswith("vgg"):
        pytest.skip("VGG only")
    x = model.preprocess(torch.rand(1, 3, 32, 32) * 255)
    with torch.no_grad():
        acts = model.activations(x, ["conv1_1", "relu1_1"])
    assert (acts["conv1_1"] < 0).any()
    assert torch.equal(acts["relu1_1"], acts["conv1_1"].clamp(min=0))


def test_inception_v3_keras_names() -> None:
    mixed = [f"mixed{i}" for i in range(11)]
    assert [inception_v3.ALIASES[m] for m in mixed] == [
        "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c",
        "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c",
    ]  # fmt: skip
    keras = {"mixed2": 2.0, "mixed3": 0.5, "mixed4": 1.0, "mixed5": 2.0}
    assert inception_v3.SPEC.default_layers == {
        inception_v3.ALIASES[k]: v for k, v in keras.items()
    }


def test_preprocessing(model: DreamModel, published) -> None:
    name = published[0]
    px = torch.tensor([0.0, 255.0]).view(1, 1, 1, 2).expand(1, 3, 1, 2)
    x = model.preprocess(px)
    if name == "inception-v3":  # the [-1, 1] that torchvision's transform_input produces
        assert torch.allclose(x, torch.tensor([-1.0, 1.0]).expand(1, 3, 1, 2))
    else:  # torchvision's ImageNet mean/std on pixels in 0..1
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        assert torch.allclose(x, (px / 255 - mean) / std, atol=1e-5)
    assert torch.allclose(model.preprocess.invert(x), px, atol=1e-4)
