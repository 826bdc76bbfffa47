"""The Python entry point: ``inceptionism.dream(image, ...)`` -> PIL image, through a session."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from .algorithm.objectives import Objective
from .config import DreamConfig, make_config
from .io import load_image, to_pil
from .models import DreamModel, cache
from .options import RUN, check_keywords
from .runtime import set_threads
from .session import Dreamer, ImageLike

if TYPE_CHECKING:
    import torch


def get_model(
    name: str, weights: str | Path | None = None, device: str | torch.device = "cpu"
) -> DreamModel:
    """Load a registered model once per process and device (weights are tens of MB); threads
    share it (``models.cache``)."""
    return cache.get_model(name, weights, device)


#: Sessions of recent ``dream()`` calls, by model, recipe (less the seed) and run settings: the
#: set-up happens once per process for a given model and recipe.
_SESSIONS: OrderedDict[tuple, Dreamer] = OrderedDict()
_SESSIONS_KEPT = 4
_sessions_lock = threading.Lock()


def session(
    config: DreamConfig,
    model: DreamModel | str | None = None,
    *,
    device: str = "auto",
    precision: str = "auto",
    weights: str | Path | None = None,
) -> Dreamer:
    """A :class:`Dreamer` for ``config`` (its seed aside), made once and reused."""
    recipe = config.replace(seed=0)
    who = id(model) if isinstance(model, DreamModel) else (model or config.model)
    key = (who, repr(recipe.to_dict()), device, precision, str(weights) if weights else None)
    with _sessions_lock:
        found = _SESSIONS.get(key)
        if found is not None:
            _SESSIONS.move_to_end(key)
            return found
    made = Dreamer(model, recipe, device=device, precision=precision, weights=weights)
    with _sessions_lock:
        _SESSIONS[key] = made
        while len(_SESSIONS) > _SESSIONS_KEPT:
            _SESSIONS.popitem(last=False)
    return made


def dream(
    image: ImageLike,
    config: DreamConfig | None = None,
    *,
    model: DreamModel | str | None = None,
    objective: Objective | None = None,
    weights: str | Path | None = None,
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
    preset: str | None = "default",
    **options: Any,
) -> Image.Image:
    """Dream on a path, PIL image or array; returns a PIL image (alpha kept).

    ``config`` gives every setting at once; otherwise ``preset`` (the tuned ``"default"``, or
    ``"seed"`` for the reference algorithm) plus keyword overrides such as ``layers={"block8": 1}``,
    ``octaves=6`` or ``jitter=0``. Steer with ``layers={"block8:17": 1}``, ``classes=["tabby"]``,
    ``guide="flowers.jpg"``, or any composed ``objective`` such as
    ``channel("block8", 17) + 0.5 * class_logit(281)``. For many images, a :class:`Dreamer`.
    An unknown keyword, or a value of the wrong type or out of range, raises :class:`DreamError`.
    """
    check_keywords(options)
    run = {"device": device, "precision": precision, "weights": weights, "threads": threads}
    check_keywords(run, RUN)
    set_threads(threads)
    if isinstance(model, DreamModel):
        options.setdefault("model", model.name)
    elif model is not None:
        options["model"] = model
    cfg = config or make_config(preset, **options)
    loaded = load_image(image, max_side=cfg.max_side)
    if objective is not None:
        dreamer = Dreamer(
            model or cfg.model,
            cfg,
            device=device,
            precision=precision,
            weights=weights,
            objective=objective,
        )
    else:
        dreamer = session(cfg, model, device=device, precision=precision, weights=weights)
    return to_pil(dreamer.dream(loaded.rgb, seed=cfg.seed), loaded.alpha)
