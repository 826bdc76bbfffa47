"""Which torch device a dream runs on, from the name a user gave (``auto``, ``cpu``,
``cuda[:N]``, ``mps``).

Here, with the models, because the shared model cache keys its copies by device and must not
reach up into the engine for the choice; the session and the front ends ask here too.
"""

from __future__ import annotations

import torch

from inceptionism.errors import DreamError
from inceptionism.options import OPTION


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` takes CUDA, then Apple's MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    OPTION["device"].check(name)
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DreamError(
            "device cuda asked for, but no CUDA GPU is available"
            + (" (this torch is a CPU-only build)" if torch.version.cuda is None else ""),
            hint=f"use {{device:cpu}} or {{device:auto}}{_mps_too()}",
        )
    if name == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise DreamError(
            "device mps asked for, but Apple's MPS is not available",
            hint="use {device:cpu} or {device:auto}"
            + (" or {device:cuda}" if torch.cuda.is_available() else ""),
        )
    return torch.device(name)


def _mps_too() -> str:
    """`` or --device mps`` where Apple's MPS is there (the hint lists what is available)."""
    mps = getattr(torch.backends, "mps", None)
    return " or {device:mps}" if mps is not None and mps.is_available() else ""
