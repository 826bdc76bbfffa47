"""What to maximise. Objectives read layer activations and compose like numbers (as in lucent):
``2 * layer_l2("block8") + channel("block10", 17)`` is an objective too.

:func:`objective_for` turns the plain-text steering of a :class:`DreamConfig` (``layers`` keys
like ``"block8"`` or ``"block8:17,40"``, ``classes``, ``guide``) into one objective, so the
config alone describes a dream and the CLI, the API and a reproduction all build the same one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING

import torch

import inceptionism.models.classes as imagenet
from inceptionism.algorithm.facts import layer_facts
from inceptionism.errors import DreamError, quote
from inceptionism.io import load_image
from inceptionism.models.base import DreamModel

if TYPE_CHECKING:
    from inceptionism.config import DreamConfig

Activations = Mapping[str, torch.Tensor]


def no_layer() -> DreamError:
    return DreamError(
        "no layer to dream on", hint="name one with {layers:NAME} (see the model's layers)"
    )


class Objective:
    """A scalar function of the activations of ``layers``."""

    def __init__(
        self,
        fn: Callable[[Activations], torch.Tensor],
        layers: Iterable[str],
        name: str,
        min_size: int = 1,
    ) -> None:
        self.fn = fn
        self.layers: tuple[str, ...] = tuple(dict.fromkeys(layers))
        self.name = name
        # Smallest activation side for which the objective is not constant (a border cut
        # needs more than twice the border): smaller octaves would be steps on a zero gradient.
        self.min_size = min_size

    def __call__(self, acts: Activations) -> torch.Tensor:
        return self.fn(acts)

    def __repr__(self) -> str:
        return f"Objective({self.name})"

    def __add__(self, other: Objective | float) -> Objective:
        if isinstance(other, Real):
            return Objective(
                lambda a: self(a) + other, self.layers, f"{self.name} + {other}", self.min_size
            )
        return Objective(
            lambda a: self(a) + other(a),
            (*self.layers, *other.layers),
            f"{self.name} + {other.name}",
            min(self.min_size, other.min_size),  # useful as soon as one part is
        )

    def __radd__(self, other: float) -> Objective:  # lets sum() start from 0
        return self if other == 0 else self + other

    def __mul__(self, k: float) -> Objective:
        if not isinstance(k, Real):
            return NotImplemented
        return Objective(lambda a: k * self(a), self.layers, f"{k} * {self.name}", self.min_size)

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

    return Objective(fn, [layer], f"l2({layer})", min_size=2 * border + 1)


def reference(layers: Mapping[str, float]) -> Objective:
    """The reference's weighted sum over layers: ``sum(w * l2(layer))``."""
    if not layers:
        raise no_layer()
    return sum((w * layer_l2(name) for name, w in layers.items()), start=0)  # type: ignore[return-value]


def channel(layer: str, channels: int | Iterable[int]) -> Objective:
    """Mean activation of some channels of a layer: dream one feature detector's pattern."""
    idx = [channels] if isinstance(channels, int) else list(channels)

    def fn(acts: Activations) -> torch.Tensor:
        return acts[layer][:, idx].mean()

    return Objective(fn, [layer], f"channel({layer}:{','.join(map(str, idx))})")


def class_logit(index: int | str, layer: str = "logits", label: str = "") -> Objective:
    """A class's logit: dream what the network takes for that class.

    ``index`` may be an ImageNet class name, matched forgivingly (``"tabby cat"`` -> 281).
    """
    if isinstance(index, str):
        index = imagenet.lookup(index)
        label = label or imagenet.names()[index]

    def fn(acts: Activations) -> torch.Tensor:
        return acts[layer][:, index].mean()

    return Objective(fn, [layer], f"class({index}{' ' + label if label else ''})")


def guide(layer: str, features: torch.Tensor, label: str = "") -> Objective:
    """Dream towards what a guide image shows at ``layer`` (Google's ``objective_guide``).

    ``features`` is the guide's activation there, (1, C, h, w) or (C, N). Each position of the
    dream is pulled towards the guide vector it already resembles most (argmax of the dot
    product, held fixed), so the guide's motifs grow where the photo half-shows them instead of
    being pasted on. The value is the sum of those dot products over the layer's size.
    """
    guide_vectors = features.detach().reshape(features.shape[-3 if features.dim() == 4 else 0], -1)
    held = {"y": guide_vectors}

    def fn(acts: Activations) -> torch.Tensor:
        a = acts[layer]
        y = held["y"]
        if y.device != a.device or y.dtype != a.dtype:  # moved once, not at every step
            y = held["y"] = y.to(a)
        x = a.reshape(a.shape[0], a.shape[1], -1)  # (B, C, HW)
        best = torch.einsum("bcp,cn->bpn", x.detach(), y).argmax(-1)  # (B, HW)
        return (x * y[:, best].permute(1, 0, 2)).sum() / a.numel()

    return Objective(fn, [layer], f"guide({layer}{', ' + label if label else ''})")


# ---------------------------------------------------------------------------------------------
# from a config

_LAYER_SPEC = re.compile(r"([^:=\s]+)(?::(\d+(?:,\d+)*))?")
GUIDE_SIDE = 224  # the guide's long side when its features are taken: the network's own scale


def parse_layer(spec: str) -> tuple[str, tuple[int, ...]]:
    """``"block8"`` -> ("block8", ()); ``"block8:17,40"`` -> ("block8", (17, 40))."""
    m = _LAYER_SPEC.fullmatch(spec.replace(" ", ""))
    if not m:
        raise DreamError(
            f"bad layer {quote(spec)}: expected NAME or NAME:CHANNEL[,CHANNEL...] "
            "(e.g. block8:17,40)"
        )
    return m.group(1), tuple(int(c) for c in m.group(2).split(",")) if m.group(2) else ()


def layer_term(model: DreamModel, spec: str) -> Objective:
    """``NAME`` -> the reference's l2 of the layer; ``NAME:C,...`` -> those channels' mean."""
    name, chans = parse_layer(spec)
    if not chans:
        return layer_l2(name)
    n = channels_of(model, name)
    for c in chans:
        if c >= n:
            raise DreamError(
                f"channel {c} out of range for layer {name}: it has {n} channels (0..{n - 1})"
            )
    return channel(name, chans)


def channels_of(model: DreamModel, layer: str) -> int:
    """How many channels (or, for a flat layer like ``logits``, units) ``layer`` has."""
    public = model.resolve(layer)
    for li in model.layer_info():
        if li.name == public:
            return li.channels
    x = torch.zeros(1, 3, 224, 224, device=model.device, dtype=model.dtype)  # a module path
    with torch.no_grad():
        a = model.activations(x, [public])[public]
    return a.shape[1]


def _guide_term(model: DreamModel, path: str, layer: str) -> Objective:
    if not Path(path).exists():
        raise DreamError(f"guide image not found: {path}")
    img = load_image(path, max_side=GUIDE_SIDE)
    h, w = img.rgb.shape[:2]
    (facts,) = layer_facts(model, [layer])
    need = facts.stride
    if min(h, w) < need:
        raise DreamError(
            f"guide image {path} is {w}x{h}: layer {layer} needs at least {need} px on each side"
        )
    pixels = torch.from_numpy(img.rgb).permute(2, 0, 1)[None]
    x = model.preprocess(pixels.to(model.device, model.dtype))
    with torch.no_grad():
        feats = model.activations(x, [layer])[layer]
    if feats.dim() != 4:
        raise DreamError(f"guide layer {layer} has no spatial map; choose a convolutional layer")
    return guide(layer, feats, Path(path).name)


def objective_for(config: DreamConfig, model: DreamModel) -> Objective:
    """The dream's objective: weighted ``layers`` (plain or channels) + ``classes`` + ``guide``.

    With none of them given, the model's default layers, i.e. exactly the reference objective.
    """
    layers = config.effective_layers(model.default_layers)
    plain = {k: w for k, w in layers.items() if not parse_layer(k)[1]}
    terms: list[Objective] = [reference(plain)] if plain else []
    terms += [w * layer_term(model, k) for k, w in layers.items() if k not in plain]
    if config.classes:
        n_classes = channels_of(model, "logits")
        for spec, w in config.classes.items():
            index = imagenet.lookup(spec, n_classes)
            label = imagenet.names()[index] if n_classes == len(imagenet.names()) else ""
            terms.append(w * class_logit(index, label=label))
    if config.guide:
        layer = config.guide_layer or next(iter(model.default_layers))
        terms.append(config.guide_weight * _guide_term(model, config.guide, layer))
    if not terms:
        raise no_layer()
    return sum(terms, start=0)  # type: ignore[return-value]
