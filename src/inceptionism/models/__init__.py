"""Model registry. Adding a model is one file in this package and one line in ``_specs()``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import unknown_name
from .base import DreamModel, LayerInfo, Preprocess
from .custom import from_module, is_factory_name, load_factory


@dataclass(frozen=True)
class ModelSpec:
    """How to get a model: ``load(weights)`` builds it (``weights``: a local file or None for the
    default source); ``weights_here()`` says whether loading needs no download; ``random(seed)``
    builds the same architecture with random weights and batch-norm statistics (for timing and
    for testing the model machinery where the real weights are not here)."""

    name: str
    load: Callable[[str | Path | None], DreamModel]
    weights_here: Callable[[], bool]
    description: str
    default_layers: dict[str, float]
    random: Callable[[int], DreamModel] | None = None


def _specs() -> list[ModelSpec]:
    from . import efficientnet_lite, inception_v1, inception_v3, resnet, vgg

    return [
        *efficientnet_lite.SPECS,
        inception_v1.SPEC,
        inception_v3.SPEC,
        *vgg.SPECS,
        resnet.SPEC,
    ]


REGISTRY: dict[str, ModelSpec] = {s.name: s for s in _specs()}
DEFAULT_MODEL = "efficientnet-lite0"


def get_spec(name: str) -> ModelSpec:
    """The registered model ``name`` (a ``file.py:factory`` name is a user model, no spec)."""
    if name not in REGISTRY:
        raise unknown_name("model", name, REGISTRY)
    return REGISTRY[name]


def load_model(name: str = DEFAULT_MODEL, weights: str | Path | None = None) -> DreamModel:
    """Build a registered model with its weights (downloaded once and cached where needed), or a
    user model from ``path/to/file.py:factory`` / ``package.module:factory``."""
    if is_factory_name(name):
        return load_factory(name, weights)
    return get_spec(name).load(weights)


__all__ = [
    "DEFAULT_MODEL",
    "REGISTRY",
    "DreamModel",
    "LayerInfo",
    "ModelSpec",
    "Preprocess",
    "from_module",
    "get_spec",
    "load_model",
]
