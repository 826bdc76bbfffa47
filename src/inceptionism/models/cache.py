"""One loaded model per (name, weights file, device), shared by every thread of the process.

Loading is slow (seconds, hundreds of MB), so a process loads each model once: a batch, a web
server's request threads and a video's frames all dream with the same object. That is safe
because a ``DreamModel`` is not changed after set-up (see its docstring). Each key has its own
lock, so two different models load in parallel while two threads asking for the same one wait
for a single load.
"""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from .base import DreamModel
from .devices import pick_device
from .registry import load_model

CacheKey = tuple[str, str | None, str]

_models: dict[CacheKey, DreamModel] = {}
_key_locks: dict[CacheKey, threading.Lock] = {}
_locks_lock = threading.Lock()  # guards _key_locks only; never held while loading


def _device(device: str | torch.device) -> torch.device:
    """``device`` as a torch device; ``auto`` and names are checked as the session does."""
    if isinstance(device, str):
        device = pick_device(device)
    if device.type == "cuda" and device.index is None and torch.cuda.is_available():
        device = torch.device("cuda", torch.cuda.current_device())  # "cuda" and "cuda:0": one key
    return device


def cache_key(
    name: str, weights: str | Path | None = None, device: str | torch.device = "cpu"
) -> CacheKey:
    """The key a model is cached under: a weights file by its absolute path."""
    file = str(Path(weights).expanduser().resolve()) if weights else None
    return name, file, str(_device(device))


def get_model(
    name: str, weights: str | Path | None = None, device: str | torch.device = "cpu"
) -> DreamModel:
    """The model ``name`` (with ``weights``, a local file, if given) on ``device``: loaded once
    per process and key, under that key's lock; every caller gets the same object, which must
    not be changed (``to()`` and ``fast()`` return new models)."""
    key = cache_key(name, weights, device)
    model = _models.get(key)
    if model is not None:
        return model
    with _locks_lock:
        lock = _key_locks.setdefault(key, threading.Lock())
    with lock:
        model = _models.get(key)
        if model is None:
            model = _load(name, weights, torch.device(key[2]))
            _models[key] = model
    return model


def _load(name: str, weights: str | Path | None, device: torch.device) -> DreamModel:
    # Loaded on the CPU (where the weights files are read) and copied over: the CPU copy is
    # dropped with this frame, so a GPU model does not keep a second one in RAM.
    model = load_model(name, weights).to(device)
    model.layer_info()  # measured now, before threads share the model; it installs the taps too
    return model


def cached() -> list[CacheKey]:
    """The keys of the models loaded so far."""
    return list(_models)


def clear() -> None:
    """Forget every cached model (they stay valid for whoever holds them)."""
    with _locks_lock:
        _models.clear()
        _key_locks.clear()
