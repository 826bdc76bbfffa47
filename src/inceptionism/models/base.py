"""The uniform model interface: weights source + preprocessing + named layers.

Any ``torch.nn.Module`` is tapped by module path through forward hooks (as in lucent); the
forward pass is cut short as soon as every requested layer has produced its output, so a
dream on an early layer never pays for the rest of the network.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from ..errors import unknown_name


@dataclass(frozen=True)
class Preprocess:
    """Per-channel affine map from RGB pixels (0..255) to the network input: (x - offset) / scale.

    Every published ImageNet model uses such a map ([-1, 1], (x - 127) / 128, mean/std), and an
    affine map inverts exactly, so the dream lives in the network's input space like the reference.
    """

    offset: tuple[float, float, float]
    scale: tuple[float, float, float]

    @classmethod
    def uniform(cls, offset: float, scale: float) -> Preprocess:
        return cls((offset,) * 3, (scale,) * 3)

    @classmethod
    def mean_std(cls, mean: Iterable[float], std: Iterable[float]) -> Preprocess:
        """From torchvision-style mean/std given for pixels in 0..1."""
        return cls(tuple(255.0 * m for m in mean), tuple(255.0 * s for s in std))  # type: ignore[arg-type]

    def _params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        o = torch.tensor(self.offset, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        s = torch.tensor(self.scale, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return o, s

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        o, s = self._params(pixels)
        return (pixels - o) / s

    def invert(self, x: torch.Tensor) -> torch.Tensor:
        o, s = self._params(x)
        return x * s + o


# The ImageNet preprocessing of torchvision's published weights (pixels in 0..1).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class _Captured(Exception):
    """Raised by a hook to stop the forward pass once every requested layer has been seen."""


@dataclass
class LayerInfo:
    name: str
    channels: int
    stride: int
    module: str


@dataclass
class DreamModel:
    """A network ready to dream with.

    ``layers`` maps each public layer name to a module path inside ``net`` (the module's output
    is the layer's activation); ``aliases`` maps extra names (e.g. TF-slim ones) to public names.
    """

    name: str
    net: nn.Module
    preprocess: Preprocess
    layers: dict[str, str]
    default_layers: dict[str, float]
    aliases: dict[str, str] = field(default_factory=dict)
    description: str = ""
    _info: list[LayerInfo] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)

    # -- names ---------------------------------------------------------------------------------
    def resolve(self, layer: str) -> str:
        """Public name for ``layer`` (a public name, an alias, or a module path)."""
        if layer in self.layers:
            return layer
        if layer in self.aliases:
            return self.aliases[layer]
        modules = dict(self.net.named_modules())
        if layer in modules and layer:
            self.layers[layer] = layer
            return layer
        raise unknown_name(f"layer for model {self.name}", layer, [*self.layers, *self.aliases])

    def to(self, device: torch.device | str) -> DreamModel:
        self.net.to(device)
        return self

    @property
    def device(self) -> torch.device:
        p = next(self.net.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        p = next(self.net.parameters(), None)
        return p.dtype if p is not None else torch.float32

    # -- activations ---------------------------------------------------------------------------
    def activations(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        """Outputs of the named layers (keyed as asked) for network input ``x``.

        Hooks catch each layer's output; the forward pass stops as soon as all have been seen.
        """
        wanted: dict[str, list[str]] = {}
        for n in layers:
            wanted.setdefault(self.layers[self.resolve(n)], []).append(n)
        modules = dict(self.net.named_modules())
        out: dict[str, torch.Tensor] = {}
        remaining = set(wanted)
        handles = []

        def make_hook(path: str):
            def hook(_m: nn.Module, _inp: object, output: torch.Tensor) -> None:
                for n in wanted[path]:
                    out[n] = output
                remaining.discard(path)
                if not remaining:
                    raise _Captured

            return hook

        for path in wanted:
            handles.append(modules[path].register_forward_hook(make_hook(path)))
        try:
            self.net(x)
        except _Captured:
            pass
        finally:
            for h in handles:
                h.remove()
        return out

    def min_side(self, layers: Iterable[str], min_size: int = 1) -> int:
        """Smallest input side that gives every listed layer ``min_size`` activation pixels
        (non-spatial layers such as logits need the deepest stride)."""
        strides = [self.stride(n) for n in layers]
        spatial = [li.stride for li in self.layer_info() if li.stride]
        deepest = max(spatial, default=1)
        return (
            max(
                ((min_size - 1) * (s or deepest) + 1 if min_size > 1 else (s or deepest))
                for s in strides
            )
            if strides
            else 1
        )

    def layer_info(self, probe_size: int = 224) -> list[LayerInfo]:
        """Every layer with its channels and spatial stride, found by one probe forward."""
        if self._info is None:
            x = torch.zeros(1, 3, probe_size, probe_size, device=self.device, dtype=self.dtype)
            with torch.no_grad():
                acts = self.activations(x, list(self.layers))
            info = []
            for name, path in self.layers.items():
                a = acts.get(name)
                if not isinstance(a, torch.Tensor):
                    continue  # a container or a module that returns something else
                if a.dim() == 4:
                    # nearest power of two: unpadded nets (Inception v3) lose edge pixels
                    stride = 2 ** round(math.log2(probe_size / a.shape[-1]))
                    info.append(LayerInfo(name, a.shape[1], stride, path))
                else:
                    info.append(LayerInfo(name, a.shape[-1], 0, path))
            self._info = info
        return self._info

    def stride(self, layer: str) -> int:
        name = self.resolve(layer)
        for li in self.layer_info():
            if li.name == name:
                return li.stride
        return 1


def check_names(kind: str, names: Mapping[str, object], known: Iterable[str]) -> None:
    known = list(known)
    for n in names:
        if n not in known:
            raise unknown_name(kind, n, known)
