"""Taps: forward hooks that catch named layers' outputs and stop the forward pass early.

Any ``torch.nn.Module`` is tapped by module path (as in lucent); the forward pass is cut short as
soon as every requested layer has produced its output, so a dream on an early layer never pays
for the rest of the network.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import torch
from torch import nn


class Captured(Exception):
    """Raised by a hook to stop the forward pass once every requested layer has been seen."""


# -- taps that threads can share ----------------------------------------------------------------
#
# One stateless forward hook (``_tap``) per tapped module, installed once and never removed: what
# a forward pass should capture lives in the calling thread's ``Capture``, so two threads running
# the same network at once each see only their own layers, and no hook dict is ever changed while
# another thread walks it (torch iterates a module's hooks live when an exception, our early stop
# included, passes through it). Modules without a tap keep torch's hook-free fast path.

TAP_LOCK = threading.RLock()  # installing taps, and deep-copying a net whose taps may change
_thread = threading.local()


class Capture:
    """What one forward pass in one thread collects: module id -> the names asked for it."""

    __slots__ = ("out", "remaining", "wanted")

    def __init__(self, wanted: dict[int, list[str]]) -> None:
        self.wanted = wanted
        self.remaining = set(wanted)
        self.out: dict[str, torch.Tensor] = {}


def _tap(module: nn.Module, _inp: object, output: torch.Tensor) -> None:
    capture: Capture | None = getattr(_thread, "capture", None)
    if capture is None:
        return
    names = capture.wanted.get(id(module))
    if names is None:
        return
    for n in names:
        capture.out[n] = output
    capture.remaining.discard(id(module))
    if not capture.remaining:
        raise Captured


def has_tap(module: nn.Module) -> bool:
    # a deep copy of a tapped module carries the (module-agnostic) tap along
    return any(h is _tap for h in module._forward_hooks.values())


_taps_installed = 0  # counts installs: what a cached ``tapped_below`` answer was computed at


def install_taps(modules: Iterable[nn.Module]) -> None:
    global _taps_installed
    missing = [m for m in modules if not has_tap(m)]
    if missing:
        with TAP_LOCK:
            for m in missing:
                if not has_tap(m):
                    m.register_forward_hook(_tap)
            _taps_installed += 1


def tapped_below(module: nn.Module) -> bool:
    """Whether a module inside ``module`` (not itself) has a tap. Asked on every forward of the
    blocks that reorder their ops when untapped, so the walk over the sub-modules is kept until
    the next tap is installed anywhere (taps are never removed)."""
    seen = module.__dict__.get("_tapped_below")
    if seen is None or seen[0] != _taps_installed:
        below = any(has_tap(m) for m in module.modules() if m is not module)
        seen = module.__dict__["_tapped_below"] = (_taps_installed, below)
    return seen[1]


def run_capturing(capture: Capture, forward: Callable[[], object]) -> dict[str, torch.Tensor]:
    """Run ``forward`` with ``capture`` as this thread's (restoring any outer one after), stopped
    as soon as every layer it wants has been seen; the layers' outputs, by the names asked."""
    outer = getattr(_thread, "capture", None)
    _thread.capture = capture
    try:
        forward()
    except Captured:
        pass
    finally:
        _thread.capture = outer
    return capture.out
