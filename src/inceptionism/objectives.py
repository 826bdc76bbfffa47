"""What to maximise. Objectives read layer activations and compose like numbers (as in lucent):
``2 * layer_l2("block8") + channel("block10", 17)`` is an objective too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from numbers import Real

import torch

from .errors import DreamError

Activations = Mapping[str, torch.Tensor]


class Objective:
    """A scalar function of the activations of ``layers``."""

    def __init__(
        self, fn: Callable[[Activations], torch.Tensor], layers: Iterable[str], name: str
    ) -> None:
        self.fn = fn
        self.layers: tuple[str, ...] = tuple(dict.fromkeys(layers))
        self.name = name

    def __call__(self, acts: Activations) -> torch.Tensor:
        return self.fn(acts)

    def __repr__(self) -> str:
        return f"Objective({self.name})"

    def __add__(self, other: Objective | float) -> Objective:
        if isinstance(other, Real):
            return Objective(lambda a: self(a) + other, self.layers, f"{self.name} + {other}")
        return Objective(
            lambda a: self(a) + other(a),
            (*self.layers, *other.layers),
            f"{self.name} + {other.name}",
        )

    def __radd__(self, other: float) -> Objective:  # lets sum() start from 0
        return self if other == 0 else self + other

    def __mul__(self, k: float) -> Objective:
        if not isinstance(k, Real):
            return NotImplemented
        return Objective(lambda a: k * self(a), self.layers, f"{k} * {self.name}")

    __rmul__ = __mul__

    def __neg__(self) -> Objective:
        return -1 * self

    def __sub__(self, other: Objective | float) -> Objective:
        return self + (-other)

    def __truediv__(self, k: float) -> Objective:
        return self * (1.0 / k)


def layer_l2(layer: str, border: int = 2) -> Objective:
    """The reference objective: sum of squared activations, a ``border`` left out (it sees the
    padding), divided by the whole layer's size so layers of any size weigh alike."""

    def fn(acts: Activations) -> torch.Tensor:
        a = acts[layer]
        inner = a[..., border:-border, border:-border] if border and a.dim() == 4 else a
        return inner.square().sum() / a.numel()

    return Objective(fn, [layer], f"l2({layer})")


def reference(layers: Mapping[str, float]) -> Objective:
    """The reference's weighted sum over layers: ``sum(w * l2(layer))``."""
    if not layers:
        raise DreamError("no layer to dream on: name one with --layer (see `deepdream layers`)")
    return sum((w * layer_l2(name) for name, w in layers.items()), start=0)  # type: ignore[return-value]


def channel(layer: str, channels: int | Iterable[int]) -> Objective:
    """Mean activation of some channels of a layer: dream one feature detector's pattern."""
    idx = [channels] if isinstance(channels, int) else list(channels)

    def fn(acts: Activations) -> torch.Tensor:
        return acts[layer][:, idx].mean()

    return Objective(fn, [layer], f"channel({layer}:{','.join(map(str, idx))})")


def class_logit(index: int, layer: str = "logits") -> Objective:
    """A class's logit: dream what the network takes for that class."""

    def fn(acts: Activations) -> torch.Tensor:
        return acts[layer][:, index].mean()

    return Objective(fn, [layer], f"class({index})")
