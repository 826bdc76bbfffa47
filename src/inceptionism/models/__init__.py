"""Model registry. Adding a model is one file in this package and one line in ``_SPECS``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import unknown_name
from .base import DreamModel, LayerInfo, Preprocess


@dataclass(frozen=True)
class ModelSpec:
    """How to get a model: ``load(weights)`` builds it (``weights``: a local file or None for the
    default source); ``weights_here()`` says whether loading needs no download."""

    name: str
    load: Callable[[str | Path | None], DreamModel]
    weights_here: Callable[[], bool]
    description: str
    default_layers: dict[str, float]


def _specs() -> list[ModelSpec]:
    from . import efficientnet_lite

    specs = [*efficientnet_lite.SPECS]
    try:  # models added by other files register here, one line each
        from . import inception_v1

        specs.append(inception_v1.SPEC)
    except ImportError:
        pass
    return specs


REGISTRY: dict[str, ModelSpec] = {s.name: s for s in _specs()}
DEFAULT_MODEL = "efficientnet-lite0"


def get_spec(name: str) -> ModelSpec:
    if name not in REGISTRY:
        raise unknown_name("model", name, REGISTRY)
    return REGISTRY[name]


def load_model(name: str = DEFAULT_MODEL, weights: str | Path | None = None) -> DreamModel:
    """Build a registered model with its weights (downloaded once and cached where needed)."""
    return get_spec(name).load(weights)


__all__ = [
    "DEFAULT_MODEL",
    "REGISTRY",
    "DreamModel",
    "LayerInfo",
    "ModelSpec",
    "Preprocess",
    "get_spec",
    "load_model",
]
