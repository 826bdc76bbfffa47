"""A resolved plan: everything a dream's set-up decides, decided once, as one frozen value.

The session (:class:`~inceptionism.Dreamer`) builds it with :func:`make_plan` when it is made:
the model set up for dreaming, the objective, its layers checked against the model with their
facts, the smallest image side they need, the device and the precision. The engine, tiling
and the progress counts take the plan as data and never ask the model those questions again.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

import inceptionism.runtime as runtime
from inceptionism.algorithm.facts import LayerFacts, layer_facts
from inceptionism.algorithm.objectives import Objective
from inceptionism.models.base import DreamModel

#: Context around each tile's core, in strides of the deepest layer. The objective ignores a
#: 2-pixel activation border (2 strides) and the gradient of a pixel depends mostly on
#: activations a stride or two away; 4 strides keep the tiled gradient's correlation with the
#: whole-image one above 0.99 (see tests/test_tiling.py).
MARGIN_STRIDES = 4


@dataclass(frozen=True)
class DreamPlan:
    """One recipe's set-up on one model and device, resolved (see :func:`make_plan`).

    ``model`` dreams (set up by ``fast``); ``loaded`` is the model as loaded, on which the
    session measures what ``tile="auto"`` means for the recipe it records (as it always has:
    the set-up model keeps a smaller graph, so the engine's own per-octave choice differs);
    ``layers`` the objective's layers with their facts; ``min_side`` the smallest image side
    worth an octave (every layer keeps the objective's ``min_size``); ``align`` the deepest
    stride (tile windows start on its multiples) and ``margin`` a tile's context per side;
    ``precision`` the concrete one the model dreams in (``auto`` resolved by ``fast``: what
    the metadata records and ``--config-from`` replays); ``dtype`` the dreaming pixels' dtype;
    ``threads`` how CPU threads are chosen per octave (N forced, a recorded schedule replayed,
    or None: the process's setting, else from the CPUs free at each octave, see
    :class:`~inceptionism.runtime.ThreadPolicy`).
    """

    model: DreamModel
    loaded: DreamModel
    objective: Objective
    layers: tuple[LayerFacts, ...]
    min_side: int
    align: int
    margin: int
    device: torch.device
    precision: str
    dtype: torch.dtype
    threads: runtime.ThreadPolicy | None = None


def make_plan(
    model: DreamModel,
    objective: Objective,
    *,
    device: torch.device | None = None,
    precision: str = "auto",
    threads: runtime.ThreadPolicy | None = None,
) -> DreamPlan:
    """The plan of ``objective`` on ``model`` (as loaded; set up here by ``fast(precision)``,
    which returns a model already set up as it is). The objective's layers are checked against
    the model here, and only here: an unknown name fails before any work."""
    facts = layer_facts(model, objective.layers, objective.min_size)
    align = max(1, max((f.stride for f in facts), default=1))
    dreaming = model.fast(precision)
    return DreamPlan(
        model=dreaming,
        loaded=model,
        objective=objective,
        layers=facts,
        min_side=max((f.min_side for f in facts), default=1),
        align=align,
        margin=MARGIN_STRIDES * align,
        device=device or model.device,
        precision=dreaming.precision,
        dtype=dreaming.dtype,
        threads=threads,
    )
