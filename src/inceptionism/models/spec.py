"""``ModelSpec``: how to get one registered model, as declared data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .base import DreamModel, LayerInfo


@dataclass(frozen=True)
class ModelSpec:
    """How to get a model: ``load(weights)`` builds it (``weights``: a local file or None for the
    default source); ``weights_here()`` says whether loading needs no download; ``random(seed)``
    builds the same architecture with random weights and batch-norm statistics (for timing and
    for testing the model machinery where the real weights are not here); ``skeleton()`` builds
    it on the meta device (shapes, no weights: for listing layers before any download)."""

    name: str
    load: Callable[[str | Path | None], DreamModel]
    weights_here: Callable[[], bool]
    description: str
    default_layers: dict[str, float]
    random: Callable[[int], DreamModel] | None = None
    skeleton: Callable[[], DreamModel] | None = None

    def architecture(self) -> DreamModel:
        """The model's layers, names and shapes without its weights: no download, no network.

        Built on the meta device where the spec can (no memory, no init time), else with
        random weights; only a spec with neither needs its weights.
        """
        if self.skeleton is not None:
            return self.skeleton()
        if self.random is not None:
            return self.random(0)
        return self.load(None)

    def layer_info(self) -> list[LayerInfo]:
        """Every layer with its channels and stride, from the architecture alone."""
        return self.architecture().layer_info()
