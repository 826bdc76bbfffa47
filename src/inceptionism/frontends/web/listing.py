"""The registered models, their layers and the ImageNet classes as the page's choice fields list
them: only registered models, so no field can name a file."""

from __future__ import annotations

from functools import cache
from typing import Any

from inceptionism.models import REGISTRY
from inceptionism.models.base import LayerInfo
from inceptionism.models.classes import search
from inceptionism.models.registry import get_spec


@cache
def layer_listing(model: str) -> tuple[tuple[str, int, int], ...]:
    """(name, channels, stride) of every layer of a registered model, from its architecture
    alone: a user sees the layers before any download."""
    return tuple((li.name, li.channels, li.stride) for li in get_spec(model).layer_info())


def model_choices() -> list[tuple[str, str]]:
    """(label, name) of every registered model; those whose weights are not here say so."""
    return [
        (name if spec.weights_here() else f"{name} (weights not here)", name)
        for name, spec in REGISTRY.items()
    ]


def model_note(model: str) -> str:
    """What the page says about a model: what it is, and how to get weights that are not here."""
    spec = get_spec(model)
    if spec.weights_here():
        return f"**{model}**: {spec.description}"
    return (
        f"**{model}**: {spec.description}. Its weights are not on this machine yet: the first "
        f"dream with it downloads them (this needs internet), or fetch them beforehand with "
        f"`deepdream dream --model {model} <any picture>`, or start the studio on a machine "
        "that has them."
    )


def layer_choices(model: str, empty: str | None = None) -> list[tuple[str, str]]:
    """(label, name) of the model's layers, channels and stride in the label; ``empty``: the
    label of a first choice meaning "none chosen"."""
    out = [(empty, "")] if empty else []
    for name, channels, stride in layer_listing(model):
        where = f"/{stride}" if stride else "scores"
        out.append((f"{name} · {channels} ch · {where}", name))
    return out


def class_choices() -> list[tuple[str, str]]:
    """(label, name) of the 1000 ImageNet classes, numbered as the model scores them."""
    return [(f"{i} {name}", name) for i, name in search("")]


@cache
def layer_infos(model: str) -> tuple[Any, ...]:
    """The model's layers as the atlas takes them, from the listing (no model built)."""
    return tuple(LayerInfo(n, c, s, "") for n, c, s in layer_listing(model))
