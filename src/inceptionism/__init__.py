"""inceptionism: Deep Dream (Inceptionism) for PyTorch, faithful to the reference algorithm."""

from __future__ import annotations

__version__ = "0.1.0"

from .api import dream  # noqa: E402
from .config import PRESETS, DreamConfig, make_config  # noqa: E402
from .errors import DreamError  # noqa: E402
from .models import REGISTRY, DreamModel, load_model  # noqa: E402
from .objectives import Objective, channel, class_logit, layer_l2  # noqa: E402

__all__ = [
    "PRESETS",
    "REGISTRY",
    "DreamConfig",
    "DreamError",
    "DreamModel",
    "Objective",
    "__version__",
    "channel",
    "class_logit",
    "dream",
    "layer_l2",
    "load_model",
    "make_config",
]
