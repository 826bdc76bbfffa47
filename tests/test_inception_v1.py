"""GoogLeNet / Inception v1: published layout, loading through the registry spec, layers.

The published file is stood in for by random weights in the published layout (the real one
cannot be downloaded here), served by a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from weights_server import closed_port_url

from inceptionism.errors import DreamError
from inceptionism.models import inception_v1
from inceptionism.models.base import DreamModel
from inceptionism.models.weights import Published
from inceptionism.options import cli_spelling

NAME = inception_v1.NAME
FILE = inception_v1.WEIGHTS[NAME].filename  # googlenet-1378be20.pth

#: Inception v1 is one of the big models (random weights here): the full suite runs it.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, dict]]:
    """A stand-in for the published file: random weights in the published layout."""
    torch.manual_seed(0)
    state = inception_v1.build_net().state_dict()
    path = tmp_path_factory.mktemp("published") / FILE
    torch.save(state, path)
    yield path, hashlib.sha256(path.read_bytes()).hexdigest(), state
    path.unlink()  # 50 MB, and pytest keeps old temp folders


@pytest.fixture(scope="module")
def model(published) -> DreamModel:
    return inception_v1.SPEC.load(published[0])


def point_at(monkeypatch: pytest.MonkeyPatch, url: str, sha: str) -> None:
    monkeypatch.setitem(inception_v1.WEIGHTS, NAME, Published(url, sha))


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- layout ------------------------------------------------------------------------------------
def test_published_names_and_shapes(published) -> None:
    state = published[2]
    expected = {
        "conv1.conv.weight": (64, 3, 7, 7),
        "conv1.bn.running_var": (64,),
        "conv3.conv.weight": (192, 64, 3, 3),
        "inception3a.branch1.conv.weight": (64, 192, 1, 1),
        "inception3a.branch2.1.conv.weight": (128, 96, 3, 3),
        "inception3a.branch3.1.conv.weight": (32, 16, 3, 3),  # torchvision's "5x5" is 3x3
        "inception3a.branch4.1.conv.weight": (32, 192, 1, 1),
        "inception5b.branch1.conv.weight": (384, 832, 1, 1),
        "aux1.conv.conv.weight": (128, 512, 1, 1),
        "aux1.fc1.weight": (1024, 2048),
        "aux2.fc2.weight": (1000, 1024),
        "fc.weight": (1000, 1024),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert not any("conv.bias" in k for k in state)
    # torchvision's published parameter count (aux heads excluded: they are dropped there).
    net = inception_v1.build_net()
    assert sum(p.numel() for k, p in net.named_parameters() if not k.startswith("aux")) == 6624904
    assert net.conv1.bn.eps == 0.001 and net.maxpool1.ceil_mode


def test_strict_loading_of_the_published_layout(published) -> None:
    inception_v1.build_net().load_state_dict(published[2], strict=True)


def test_registered() -> None:
    from inceptionism.models import REGISTRY

    assert REGISTRY[NAME] is inception_v1.SPEC
    assert inception_v1.SPEC.default_layers == {"inception4b": 1.0}


# -- loading through the spec ------------------------------------------------------------------
def test_first_load_downloads_then_caches(cache, server, monkeypatch, published) -> None:
    path, sha, state = published
    point_at(monkeypatch, server.serve(f"/models/{FILE}", path), sha)
    assert not inception_v1.SPEC.weights_here()
    m = inception_v1.SPEC.load(None)
    assert files_in(cache) == [FILE] and inception_v1.SPEC.weights_here()
    assert torch.equal(m.net.state_dict()["inception4b.branch2.1.conv.weight"],
                       state["inception4b.branch2.1.conv.weight"])  # fmt: skip
    inception_v1.SPEC.load(None)
    assert server.hits[f"/models/{FILE}"] == 1


def test_hub_style_prefix_digest(cache, server, monkeypatch, published) -> None:
    path, sha, _ = published
    point_at(monkeypatch, server.serve(f"/{FILE}", path), sha[:8])
    assert isinstance(inception_v1.SPEC.load(None), DreamModel)


def test_wrong_checksum(cache, server, monkeypatch, published) -> None:
    path, sha, _ = published
    point_at(monkeypatch, server.serve(f"/{FILE}", path), "f" * 64 if sha[0] != "f" else "0" * 64)
    with pytest.raises(DreamError, match="checksum"):
        inception_v1.SPEC.load(None)
    assert files_in(cache) == []


def test_interrupted_download(cache, server, monkeypatch, published) -> None:
    path, sha, _ = published
    point_at(monkeypatch, server.serve(f"/{FILE}", path, truncated=True), sha)
    with pytest.raises(DreamError, match="incomplete"):
        inception_v1.SPEC.load(None)
    assert files_in(cache) == []


def test_http_404(cache, server, monkeypatch, published) -> None:
    point_at(monkeypatch, server.url(f"/gone/{FILE}"), published[1])
    with pytest.raises(DreamError, match="HTTP 404"):
        inception_v1.SPEC.load(None)
    assert files_in(cache) == []


def test_offline_says_where_to_put_the_file(cache, monkeypatch, published) -> None:
    point_at(monkeypatch, closed_port_url(f"/{FILE}"), published[1])
    with pytest.raises(DreamError) as e:
        inception_v1.SPEC.load(None)
    shown = e.value.render(cli_spelling)  # as the CLI shows it (Python: weights=FILE)
    assert str(cache / FILE) in shown and "--weights FILE" in shown
    assert files_in(cache) == []


def test_local_file_needs_no_network(cache, monkeypatch, published) -> None:
    point_at(monkeypatch, closed_port_url(f"/{FILE}"), published[1])
    m = inception_v1.SPEC.load(str(published[0]))
    assert m.name == NAME and files_in(cache) == []


def test_not_a_state_dict(tmp_path: Path) -> None:
    bad = tmp_path / "notes.pth"
    bad.write_text("these are not weights")
    with pytest.raises(DreamError, match=r"notes\.pth"):
        inception_v1.SPEC.load(bad)


def test_wrong_layout_names_the_file(tmp_path: Path, published) -> None:
    state = dict(published[2])
    del state["inception5b.branch4.1.bn.bias"]
    state["fc.weight"] = torch.zeros(10, 1024)
    bad = tmp_path / "finetuned.pth"
    torch.save(state, bad)
    with pytest.raises(DreamError) as e:
        inception_v1.SPEC.load(bad)
    msg = str(e.value)
    assert str(bad) in msg and "inception5b.branch4.1.bn.bias" in msg and "fc.weight" in msg


# -- the model ---------------------------------------------------------------------------------
def test_preprocess_is_minus_one_to_one(model: DreamModel) -> None:
    x = model.preprocess(torch.tensor([0.0, 127.5, 255.0]).view(1, 1, 1, 3).expand(1, 3, 1, 3))
    assert torch.allclose(x[0, :, 0], torch.tensor([-1.0, 0.0, 1.0]).expand(3, 3))
    assert torch.allclose(model.preprocess.invert(x), torch.tensor([0.0, 127.5, 255.0]))


def test_forward_gives_1000_logits(model: DreamModel) -> None:
    x = model.preprocess(torch.rand(1, 3, 224, 224) * 255)
    with torch.no_grad():
        logits = model.net(x)
        assert logits.shape == (1, 1000)
        acts = model.activations(x, ["logits"])["logits"]
    assert torch.allclose(acts, logits)


def test_tf_slim_aliases(model: DreamModel) -> None:
    x = model.preprocess(torch.rand(1, 3, 96, 96) * 255)
    with torch.no_grad():
        a = model.activations(x, ["Mixed_4c"])["Mixed_4c"]
        b = model.activations(x, ["inception4b"])["inception4b"]
    assert a.shape[1] == 512 and torch.equal(a, b)
    for alias, public in inception_v1.ALIASES.items():
        assert model.resolve(alias) == public


def test_layer_strides(model: DreamModel) -> None:
    info = {li.name: li for li in model.layer_info()}
    assert (info["inception3a"].stride, info["inception4b"].stride) == (8, 16)
    assert info["inception5b"].stride == 32 and info["inception5b"].channels == 1024
    assert info["conv1"].stride == 2 and info["logits"].channels == 1000
    assert set(model.default_layers) <= set(model.layers)
