"""``ModelSpec``: how to get one registered model, as declared data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .base import DreamModel


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
