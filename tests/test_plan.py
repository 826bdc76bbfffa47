"""The resolved plan: the session asks the model about its layers once, and nothing below it
asks again (issue 19, item 3)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_model

from inceptionism import DreamConfig, Dreamer, DreamError, session
from inceptionism.algorithm import plan as plan_module
from inceptionism.algorithm.objectives import layer_l2
from inceptionism.algorithm.plan import DreamPlan, make_plan
from inceptionism.atlas import AtlasTile, dream_atlas
from inceptionism.models.base import DreamModel

SRC = Path(__file__).resolve().parents[1] / "src" / "inceptionism"


def recipe(**kw) -> DreamConfig:
    base = dict(model="tiny", octaves=3, octave_scale=1.4, iterations=2, jitter=2, seed=3)
    return DreamConfig(**{**base, "max_loss": float("inf"), **kw})


@pytest.fixture
def asked(monkeypatch) -> list[tuple[str, ...]]:
    """Every ``DreamModel.min_side`` call's layers, on any model (the real method runs)."""
    calls: list[tuple[str, ...]] = []
    real = DreamModel.min_side

    def counted(self, layers, min_size=1):
        layers = tuple(layers)
        calls.append(layers)
        return real(self, layers, min_size)

    monkeypatch.setattr(DreamModel, "min_side", counted)
    return calls


def test_the_plan_is_built_once_and_nothing_below_the_session_asks_again(asked, monkeypatch):
    built: list[DreamPlan] = []

    def counted_plan(*args, **kw):
        built.append(plan_module.make_plan(*args, **kw))
        return built[-1]

    monkeypatch.setattr(session, "make_plan", counted_plan)
    cfg = recipe(layers={"conv2": 1.0, "conv3": 0.5}, tile=36)
    dreamer = Dreamer(tiny_model(), cfg, device="cpu")
    assert len(built) == 1 and dreamer.plan is built[0]
    set_up = len(asked)
    assert set_up == 4  # two layers, each asked once for its stride and once for its min side
    photo = np.random.default_rng(0).random((40, 56, 3)).astype(np.float32) * 255
    for shape in ((40, 56), (20, 28)):
        dreamer.total_steps(shape)
        dreamer.notes(shape)
    with pytest.raises(DreamError, match="too small"):
        dreamer.total_steps((9, 9))
    dreamer.metadata((40, 56))
    dreamer.dream(photo)
    list(dreamer.steps(photo, preview_every=1))
    assert len(asked) == set_up and len(built) == 1


def test_the_plan_holds_the_layer_facts_and_is_frozen():
    model = tiny_model()
    plan = make_plan(model, layer_l2("conv2") + layer_l2("conv3"))
    assert [(f.name, f.stride) for f in plan.layers] == [("conv2", 2), ("conv3", 4)]
    assert plan.min_side == max(f.min_side for f in plan.layers) == 4 * 4 + 1
    assert (plan.align, plan.margin) == (4, 16)
    assert plan.loaded is model and plan.model is model.fast()
    assert plan.dtype == model.dtype and plan.device == model.device
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.min_side = 1  # type: ignore[misc]


def test_an_unknown_layer_fails_in_the_plan_before_any_work(asked):
    with pytest.raises(DreamError, match="nope"):
        Dreamer(tiny_model(), recipe(layers={"nope": 1.0}), device="cpu")
    assert asked == [("nope",)]  # the first question about it, then one line


def test_only_the_plan_asks_the_model_for_its_smallest_side():
    """``min_side(`` is called in one place (the plan's layer facts) and defined in one."""
    found = sorted(
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if re.search(r"\bmin_side\(", p.read_text())
    )
    assert found == ["algorithm/facts.py", "models/base.py"]


def test_the_atlas_fits_its_picture_to_the_deepest_tile_s_plan(asked):
    """A picture below what the deepest tile's layer needs is enlarged to the largest
    ``plan.min_side`` of the tiles' sessions, which are set up before any tile is dreamed."""
    tiles = [AtlasTile("conv1", {"conv1": 1.0}), AtlasTile("conv4", {"conv4": 1.0})]
    cfg = recipe(octaves=1, iterations=1)
    small = np.random.default_rng(1).random((12, 20, 3)).astype(np.float32) * 255
    out = list(dream_atlas(small, tiny_model(), cfg, tiles, device="cpu"))
    need = make_plan(tiny_model(), layer_l2("conv4")).min_side
    assert [t.label for t, _ in out] == ["conv1", "conv4"]
    assert {rgb.shape for _, rgb in out} == {(need, round(20 * need / 12), 3)}
    assert len(asked) == 2 * 2 + 2  # each tile's plan, then the one made here to compare
