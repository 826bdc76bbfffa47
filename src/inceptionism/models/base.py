"""The uniform model interface: weights source + preprocessing + named layers.

Any ``torch.nn.Module`` is tapped by module path through forward hooks (``taps``); the forward
pass is cut short as soon as every requested layer has produced its output, so a dream on an
early layer never pays for the rest of the network. The parts a model is made of live beside
it: ``preprocess``, ``taps``, ``precision``, ``folding`` and ``blocks``; their public names are
re-exported here, where they have always been imported from.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..errors import unknown_name
from .blocks import BasicConv2d, PointwiseHeads, Pool, SharedInputBranches, relu_after_pool
from .folding import (
    conv_bn_pairs,
    conv_weights_channels_last,
    copy_to,
    fold_batchnorm,
    fold_batchnorms,
    fuse_pairs,
    randomized,
    same_device,
    sharing_copy,
)
from .precision import (
    ScaleGrad,
    auto_precision,
    autocast_dtype,
    check_precision,
    native_bf16,
    scaled_for_fp16,
)
from .preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocess
from .taps import Capture, install_taps, run_capturing, tapped_below

__all__ = [
    "AUTO_CUDA_PRECISION",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "BasicConv2d",
    "DreamModel",
    "LayerInfo",
    "PointwiseHeads",
    "Pool",
    "Preprocess",
    "SharedInputBranches",
    "check_names",
    "check_precision",
    "conv_bn_pairs",
    "fold_batchnorm",
    "fold_batchnorms",
    "fuse_pairs",
    "half_dtype",
    "randomized",
    "relu_after_pool",
    "tapped_below",
]


# What ``auto`` means on CUDA for a model ``precision.AUTO_BF16`` has no GPU figures for. float32
# (TF32 convs, torch's default) until the GPU suite and tests/test_fidelity_gpu.py have shown
# bfloat16 within the fidelity bounds on a GPU; then "bf16" here makes it the default (see
# benchmarks/README.md). On a CPU ``auto`` is ``precision.AUTO_BF16``'s pick, else float32.
AUTO_CUDA_PRECISION = "fp32"


def half_dtype(
    precision: str, device: torch.device, bf16_ok: bool | None = None
) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``, or None for plain float32; ``auto``
    on CUDA means ``AUTO_CUDA_PRECISION`` (see ``precision.autocast_dtype``)."""
    return autocast_dtype(precision, device, AUTO_CUDA_PRECISION, bf16_ok)


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

    Threads may share one model: after set-up nothing changes it. ``resolve`` only looks names
    up, ``to`` and ``fast`` return other models (made once, under the model's lock), and what is
    measured lazily (``layer_info``) is filled in under that lock too.
    """

    name: str
    net: nn.Module
    preprocess: Preprocess
    layers: dict[str, str]
    default_layers: dict[str, float]
    aliases: dict[str, str] = field(default_factory=dict)
    description: str = ""
    _info: list[LayerInfo] | None = field(default=None, repr=False)
    # "fp32" for a model as loaded; see ``fast`` for the others.
    precision: str = "fp32"
    _prepared: bool = field(default=False, repr=False)
    # Made lazily, each under ``_lock``; a ``dataclasses.replace`` copy starts with its own.
    _fast: dict[tuple[Any, ...], DreamModel] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _moved: dict[str, DreamModel] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _path_info: dict[str, LayerInfo] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _lock: threading.RLock = field(  # type: ignore[valid-type]
        default_factory=threading.RLock, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # only where needed: a model made from another one's net must not write to it
        if any(m.training for m in self.net.modules()):
            self.net.eval()
        for p in self.net.parameters():
            if p.requires_grad:
                p.requires_grad_(False)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # -- names ---------------------------------------------------------------------------------
    def resolve(self, layer: str) -> str:
        """Public name for ``layer`` (a public name, an alias, or a module path); looks only."""
        if layer in self.layers:
            return layer
        if layer in self.aliases:
            return self.aliases[layer]
        if layer and self._submodule(layer) is not None:
            return layer
        raise unknown_name(
            f"layer for model {self.name}",
            layer,
            [*self.layers, *self.aliases],
            see=f"deepdream layers --model {self.name}",
        )

    def module_path(self, layer: str) -> str:
        """Path inside ``net`` of the module whose output is ``layer``."""
        name = self.resolve(layer)
        return self.layers.get(name, name)

    def _submodule(self, path: str) -> nn.Module | None:
        try:
            return self.net.get_submodule(path)
        except AttributeError:
            return None

    def to(self, device: torch.device | str) -> DreamModel:
        """This model on ``device``: itself if it is there, else a copy made once and kept (the
        network is copied, never moved, as other threads may be using it where it is)."""
        device = torch.device(device)
        if same_device(self.device, device):
            return self
        key = str(device)
        with self._lock:
            moved = self._moved.get(key)
            if moved is None:
                moved = dataclasses.replace(self, net=copy_to(self.net, device))
                self._moved[key] = moved
        return moved

    # -- speed ---------------------------------------------------------------------------------
    def fast(
        self, precision: str = "auto", *, fuse: bool = True, channels_last: bool | None = None
    ) -> DreamModel:
        """This model set up for dreaming (cached; a model already set up returns itself).

        Eval-only and for dreaming only: batch norms folded into the convs before them (one op
        instead of two, forward and backward), weights channels-last on a CPU (oneDNN's fast
        layout for depthwise convs; ``None`` means "on the CPU only": on CUDA it costs cuDNN
        seconds of set-up for every new image shape), and the autocast ``precision`` (see
        ``half_dtype``; ``auto`` decided here, once, by ``resolve_auto``: the model's
        ``precision`` is then the concrete name). Layer names, hooks and values stay those of
        the original, to float rounding; only a tap on a conv that had a batch norm folded into
        it now sees the normalised output.
        """
        if self._prepared:
            return self
        check_precision(precision)
        precision = self.resolve_auto(precision)
        if channels_last is None:
            channels_last = self.device.type == "cpu"
        key = (precision, fuse, channels_last)
        made = self._fast.get(key)
        if made is not None:
            return made
        with self._lock:
            if key not in self._fast:
                # precisions share one set of folded weights
                same = [m.net for k, m in self._fast.items() if k[1:] == (fuse, channels_last)]
                net = same[0] if same else self._dreaming_net(fuse, channels_last)
                self._fast[key] = dataclasses.replace(
                    self, net=net, precision=precision, _prepared=True
                )
            return self._fast[key]

    def resolve_auto(self, precision: str) -> str:
        """``precision`` with ``auto`` made concrete for this model on its device: bf16 where the
        device has it in hardware and ``precision.AUTO_BF16`` shows it pays for this model,
        else float32 (on CUDA: ``AUTO_CUDA_PRECISION``)."""
        if precision != "auto":
            return precision
        device = self.device
        return auto_precision(self.name, device.type, native_bf16(device), AUTO_CUDA_PRECISION)

    def _dreaming_net(self, fuse: bool, channels_last: bool) -> nn.Module:
        """The net with its batch norms folded, its modules' own rewrites for dreaming applied
        (``for_dreaming()``, e.g. EfficientNet's padding) and/or conv weights channels-last (a
        copy that shares every tensor it does not change), or the net itself if nothing changes.
        """
        pairs = fuse_pairs(self.net) if fuse else []
        own = [n for n, m in self.net.named_modules() if hasattr(m, "for_dreaming")] if fuse else []
        if not pairs and not own and not channels_last:
            return self.net
        net = fold_batchnorms(sharing_copy(self.net), pairs)
        for name in own:
            net.get_submodule(name).for_dreaming()
        if channels_last:
            conv_weights_channels_last(net)
        return net

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
        half = half_dtype(self.precision, x.device) if self.precision != "fp32" else None
        return self._taps(x, layers, half)

    def _taps(
        self, x: torch.Tensor, layers: Iterable[str], half: torch.dtype | None
    ) -> dict[str, torch.Tensor]:
        """``activations`` with the forward under autocast to ``half`` (None: as is)."""
        wanted: dict[int, list[str]] = {}
        modules = []
        for n in layers:
            module = self.net.get_submodule(self.module_path(n))
            if id(module) not in wanted:
                modules.append(module)
            wanted.setdefault(id(module), []).append(n)
        install_taps(modules)

        unscale = [1.0]
        if half is torch.float16:  # loss scaling, undone at the input once the scale is known
            x = ScaleGrad.apply(x, unscale)
        out = run_capturing(Capture(wanted), lambda: self._forward(x, half))
        if half is not None:
            out = {n: a.float() for n, a in out.items()}  # objectives in float32
        if half is torch.float16 and out:
            out = scaled_for_fp16(out, unscale)
        return out

    def _forward(self, x: torch.Tensor, half: torch.dtype | None) -> None:
        """One forward of the net, under autocast to ``half`` unless None (its taps collect)."""
        if half is None:
            self.net(x)
        else:
            with torch.autocast(x.device.type, half):
                self.net(x)

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
            with self._lock:
                if self._info is None:
                    self._info = self._probe(self.layers, probe_size)
        return list(self._info)

    def _probe(self, layers: Mapping[str, str], probe_size: int = 224) -> list[LayerInfo]:
        """Channels and stride of each ``name -> module path`` in ``layers``: one forward of a
        blank image (shapes only: on the meta device it needs no weights)."""
        x = torch.zeros(1, 3, probe_size, probe_size, device=self.device, dtype=self.dtype)
        with torch.no_grad():
            acts = self.activations(x, list(layers))
        info = []
        for name, path in layers.items():
            a = acts.get(name)
            if not isinstance(a, torch.Tensor):
                continue  # a container or a module that returns something else
            if a.dim() == 4:
                # nearest power of two: unpadded nets (Inception v3) lose edge pixels
                stride = 2 ** round(math.log2(probe_size / a.shape[-1]))
                info.append(LayerInfo(name, a.shape[1], stride, path))
            else:
                info.append(LayerInfo(name, a.shape[-1], 0, path))
        return info

    def stride(self, layer: str) -> int:
        name = self.resolve(layer)
        for li in self.layer_info():
            if li.name == name:
                return li.stride
        if name in self.layers:
            return 1  # a public layer the probe cannot measure
        # a module path: measured once, on its own
        if name not in self._path_info:
            with self._lock:
                if name not in self._path_info:
                    found = self._probe({name: name})
                    self._path_info[name] = found[0] if found else LayerInfo(name, 0, 1, name)
        return self._path_info[name].stride


def check_names(kind: str, names: Mapping[str, object], known: Iterable[str]) -> None:
    known = list(known)
    for n in names:
        if n not in known:
            raise unknown_name(kind, n, known)
