"""inceptionism: Deep Dream (Inceptionism) for PyTorch, faithful to the reference algorithm."""

from __future__ import annotations

import importlib

from . import runtime  # noqa: F401  (first: sets GOMP_SPINCOUNT before torch is imported)
from .algorithm.objectives import Objective, channel, class_logit, guide, layer_l2
from .api import dream
from .config import PRESETS, DreamConfig, make_config
from .errors import Cancelled, DreamError
from .models import REGISTRY, DreamModel, load_model
from .session import Dreamer, DreamEvent
from .version import __version__

__all__ = [
    "PRESETS",
    "REGISTRY",
    "Cancelled",
    "DreamConfig",
    "DreamError",
    "DreamEvent",
    "DreamModel",
    "Dreamer",
    "Objective",
    "__version__",
    "channel",
    "class_logit",
    "dream",
    "dream_video",
    "dream_zoom",
    "guide",
    "layer_l2",
    "load_model",
    "make_config",
    "video_frames",
    "zoom_frames",
]

# Video needs the [video] extra (PyAV, OpenCV): imported on first use, not with the package.
_VIDEO = {
    "dream_video": "inceptionism.video.clip",
    "video_frames": "inceptionism.video.clip",
    "dream_zoom": "inceptionism.video.zoom",
    "zoom_frames": "inceptionism.video.zoom",
}


def __getattr__(name: str):
    if name in _VIDEO:
        return getattr(importlib.import_module(_VIDEO[name]), name)
    raise AttributeError(f"module 'inceptionism' has no attribute {name!r}")
