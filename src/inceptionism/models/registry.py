"""The model registry. Adding a model is one file in this package, its import here and one line
in ``_specs()``."""

from __future__ import annotations

from pathlib import Path

from ..errors import unknown_name
from ..options import DEFAULT_MODEL, MODEL_NAMES, canonical_model
from .base import DreamModel
from .custom import is_factory_name, load_factory
from .efficientnet_lite import SPECS as EFFICIENTNET_LITE
from .inception_v1 import SPEC as INCEPTION_V1
from .inception_v3 import SPEC as INCEPTION_V3
from .resnet import SPEC as RESNET50
from .spec import ModelSpec
from .vgg import SPECS as VGG


def _specs() -> list[ModelSpec]:
    return [
        *EFFICIENTNET_LITE,
        INCEPTION_V1,
        INCEPTION_V3,
        *VGG,
        RESNET50,
    ]


REGISTRY: dict[str, ModelSpec] = {s.name: s for s in _specs()}
if tuple(REGISTRY) != MODEL_NAMES:
    raise RuntimeError("models.registry must hold the models options.MODEL_NAMES names, in order")


def get_spec(name: str) -> ModelSpec:
    """The registered model ``name`` (a ``file.py:factory`` name is a user model, no spec)."""
    name = canonical_model(name)
    if name not in REGISTRY:
        raise unknown_name("model", name, REGISTRY, see="deepdream models")
    return REGISTRY[name]


def load_model(name: str = DEFAULT_MODEL, weights: str | Path | None = None) -> DreamModel:
    """Build a registered model with its weights (downloaded once and cached where needed), or a
    user model from ``path/to/file.py:factory`` / ``package.module:factory``."""
    if is_factory_name(name):
        return load_factory(name, weights)
    return get_spec(name).load(weights)
