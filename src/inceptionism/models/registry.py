"""The model registry. Adding a model is one file in this package, its import here and one line
in ``_specs()``."""

from __future__ import annotations

from pathlib import Path

# The architectures, each by its own module (not through this package, which imports us).
import inceptionism.models.efficientnet_lite as efficientnet_lite
import inceptionism.models.inception_v1 as inception_v1
import inceptionism.models.inception_v3 as inception_v3
import inceptionism.models.resnet as resnet
import inceptionism.models.vgg as vgg

from ..errors import match_name, unknown_name
from ..options import DEFAULT_MODEL
from .base import DreamModel
from .custom import is_factory_name, load_factory
from .spec import ModelSpec


def _specs() -> list[ModelSpec]:
    return [
        *efficientnet_lite.SPECS,
        inception_v1.SPEC,
        inception_v3.SPEC,
        *vgg.SPECS,
        resnet.SPEC,
    ]


REGISTRY: dict[str, ModelSpec] = {s.name: s for s in _specs()}


def canonical_model(name: str) -> str:
    """The registered name ``name`` means, case and punctuation ignored as for class names
    (``EfficientNet-Lite0`` is ``efficientnet-lite0``); any other name unchanged."""
    if is_factory_name(name):
        return name
    return match_name(name, REGISTRY) or name


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
