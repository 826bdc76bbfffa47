"""What a dream needs to know about its layers, asked of the model once.

:func:`layer_facts` is the one place that checks layer names against the model (an unknown name
fails here, in one line) and asks it how many input pixels each layer's activations stand for.
The session asks once, into its :class:`~inceptionism.algorithm.plan.DreamPlan`; the engine,
tiling and objectives read the answers from there instead of asking again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from inceptionism.models.base import DreamModel


@dataclass(frozen=True)
class LayerFacts:
    """One layer as the model answered for it.

    ``name`` as asked (a public name, an alias or a module path); ``stride``: input pixels per
    activation pixel (a flat layer such as ``logits`` counts the deepest spatial stride: it
    needs that much image to see anything); ``min_side``: the smallest input side that gives the
    layer the activation size the objective needs (``min_size`` px).
    """

    name: str
    stride: int
    min_side: int


def layer_facts(
    model: DreamModel, names: Iterable[str], min_size: int = 1
) -> tuple[LayerFacts, ...]:
    """The facts of each of ``names`` on ``model``; an unknown name raises ``DreamError``."""
    return tuple(
        LayerFacts(name, *(model.min_side([name], size) for size in (1, min_size)))
        for name in dict.fromkeys(names)
    )
