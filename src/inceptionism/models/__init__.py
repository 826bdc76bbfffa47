"""Models: the registry (``registry``), the wrapper every network dreams through (``base``) and
its parts (``preprocess``, ``taps``, ``precision``, ``folding``, the Inception ``blocks``), the
published weights (``weights``), own networks (``custom``) and one file per architecture."""

from __future__ import annotations

from .base import DreamModel, LayerInfo, Preprocess
from .custom import from_module
from .registry import DEFAULT_MODEL, REGISTRY, get_spec, load_model
from .spec import ModelSpec

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
