"""The Python entry point: ``inceptionism.dream(image, ...)`` -> PIL image."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from . import __version__, runtime
from .algorithm.engine import dream_tensor, pick_device
from .algorithm.objectives import Objective, from_config
from .config import DreamConfig, make_config
from .io import LoadedImage, load_image, to_pil
from .models import DreamModel, load_model
from .models.base import half_dtype

ImageLike = str | os.PathLike | Image.Image | np.ndarray

_MODELS: dict[tuple[str, str | None], DreamModel] = {}


def get_model(name: str, weights: str | Path | None = None) -> DreamModel:
    """Load a registered model once per process (weights are tens of MB)."""
    key = (name, str(weights) if weights else None)
    if key not in _MODELS:
        _MODELS[key] = load_model(name, weights)
    return _MODELS[key]


def metadata(
    config: DreamConfig,
    model: DreamModel,
    objective: Objective,
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    """Everything needed to reproduce a dream from its output file, and what went wrong."""
    meta = {
        "software": f"inceptionism {__version__}",
        "version": __version__,
        "config": config.to_dict(),
        "model": model.name,
        "layers": dict(
            config.layers or ({} if config.classes or config.guide else model.default_layers)
        ),
        "objective": objective.name,
    }
    if warnings:
        meta["warnings"] = list(warnings)
    return meta


def run(
    image: LoadedImage,
    config: DreamConfig,
    model: DreamModel,
    *,
    objective: Objective | None = None,
    device: str | torch.device = "auto",
    progress: Callable[[int, torch.Tensor], None] | None = None,
    precision: str = "auto",
    warn: Callable[[str], None] | None = None,
) -> np.ndarray:
    """Dream on a loaded image; returns float RGB (H, W, 3) in 0..255.

    ``warn`` gets the dream's one-line warnings (default: ``warnings.warn``, a ``DreamWarning``).

    ``precision``: ``auto`` (float32 until half precision is measured faithful on a GPU:
    ``models.base.AUTO_CUDA_PRECISION``), ``fp32``, or ``bf16``/``fp16`` autocast (CUDA only).
    """
    dev = pick_device(device) if isinstance(device, str) else device
    half_dtype(precision, dev)  # a bad or unavailable precision fails before any work
    runtime.configure(dev)
    model.to(dev)
    objective = objective or from_config(config, model)
    for layer in objective.layers:
        model.resolve(layer)  # unknown names fail before any work
    fast = model.fast(precision)
    pixels = torch.from_numpy(np.ascontiguousarray(image.rgb)).permute(2, 0, 1)[None].to(dev)
    with runtime.keep_freed_memory():
        out = dream_tensor(fast, pixels.float(), config, objective, progress, warn)
    return out[0].permute(1, 2, 0).cpu().numpy()


def dream(
    image: ImageLike,
    config: DreamConfig | None = None,
    *,
    model: DreamModel | str | None = None,
    objective: Objective | None = None,
    weights: str | Path | None = None,
    device: str = "auto",
    precision: str = "auto",
    preset: str | None = "default",
    **options: Any,
) -> Image.Image:
    """Dream on a path, PIL image or array; returns a PIL image (alpha kept).

    ``config`` gives every setting at once; otherwise ``preset`` (the tuned ``"default"``, or
    ``"seed"`` for the reference algorithm) plus keyword overrides such as ``layers={"block8": 1}``,
    ``octaves=6`` or ``jitter=0``. Steer with ``layers={"block8:17": 1}``, ``classes=["tabby"]``,
    ``guide="flowers.jpg"``, or any composed ``objective`` such as
    ``channel("block8", 17) + 0.5 * class_logit(281)``.
    """
    if isinstance(model, DreamModel):
        options.setdefault("model", model.name)
    elif model is not None:
        options["model"] = model
    cfg = config or make_config(preset, **options)
    net = model if isinstance(model, DreamModel) else get_model(cfg.model, weights)
    loaded = load_image(image, max_side=cfg.max_side)
    rgb = run(loaded, cfg, net, objective=objective, device=device, precision=precision)
    return to_pil(rgb, loaded.alpha)
