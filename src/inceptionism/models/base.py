"""The uniform model interface: weights source + preprocessing + named layers.

Any ``torch.nn.Module`` is tapped by module path through forward hooks (as in lucent); the
forward pass is cut short as soon as every requested layer has produced its output, so a
dream on an early layer never pays for the rest of the network.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..errors import DreamError, unknown_name
from ..options import OPTION


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
        return (pixels - o).div_(s)  # = (pixels - o) / s, without a second full-size temporary

    def invert(self, x: torch.Tensor) -> torch.Tensor:
        o, s = self._params(x)
        return (x * s).add_(o)  # = x * s + o, without a second full-size temporary


# The ImageNet preprocessing of torchvision's published weights (pixels in 0..1).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class _Captured(Exception):
    """Raised by a hook to stop the forward pass once every requested layer has been seen."""


# -- taps that threads can share ----------------------------------------------------------------
#
# One stateless forward hook (``_tap``) per tapped module, installed once and never removed: what
# a forward pass should capture lives in the calling thread's ``_Capture``, so two threads running
# the same network at once each see only their own layers, and no hook dict is ever changed while
# another thread walks it (torch iterates a module's hooks live when an exception, our early stop
# included, passes through it). Modules without a tap keep torch's hook-free fast path.

_TAP_LOCK = threading.RLock()  # installing taps, and deep-copying a net whose taps may change
_thread = threading.local()


class _Capture:
    """What one forward pass in one thread collects: module id -> the names asked for it."""

    __slots__ = ("out", "remaining", "wanted")

    def __init__(self, wanted: dict[int, list[str]]) -> None:
        self.wanted = wanted
        self.remaining = set(wanted)
        self.out: dict[str, torch.Tensor] = {}


def _tap(module: nn.Module, _inp: object, output: torch.Tensor) -> None:
    capture: _Capture | None = getattr(_thread, "capture", None)
    if capture is None:
        return
    names = capture.wanted.get(id(module))
    if names is None:
        return
    for n in names:
        capture.out[n] = output
    capture.remaining.discard(id(module))
    if not capture.remaining:
        raise _Captured


def _has_tap(module: nn.Module) -> bool:
    # a deep copy of a tapped module carries the (module-agnostic) tap along
    return any(h is _tap for h in module._forward_hooks.values())


_taps_installed = 0  # counts installs: what a cached ``tapped_below`` answer was computed at


def _install_taps(modules: Iterable[nn.Module]) -> None:
    global _taps_installed
    missing = [m for m in modules if not _has_tap(m)]
    if missing:
        with _TAP_LOCK:
            for m in missing:
                if not _has_tap(m):
                    m.register_forward_hook(_tap)
            _taps_installed += 1


def tapped_below(module: nn.Module) -> bool:
    """Whether a module inside ``module`` (not itself) has a tap. Asked on every forward of the
    blocks that reorder their ops when untapped, so the walk over the sub-modules is kept until
    the next tap is installed anywhere (taps are never removed)."""
    seen = module.__dict__.get("_tapped_below")
    if seen is None or seen[0] != _taps_installed:
        below = any(_has_tap(m) for m in module.modules() if m is not module)
        seen = module.__dict__["_tapped_below"] = (_taps_installed, below)
    return seen[1]


# -- speed: batch-norm folding, memory layout, half precision ---------------------------------


# What ``auto`` means on CUDA. float32 (TF32 convs, torch's default) until the GPU suite and
# tests/test_fidelity_gpu.py have shown bfloat16 within the fidelity bounds on a GPU; then
# "bf16" here makes it the default (see benchmarks/README.md). CPUs always use float32.
AUTO_CUDA_PRECISION = "fp32"


def check_precision(precision: str, device: torch.device | None = None) -> None:
    """The one check of a precision: a known name; fp16 only on a CUDA device, bf16 on CUDA or
    (opt-in, for its speed on CPUs with bfloat16 instructions) the CPU."""
    OPTION["precision"].check(precision)
    if device is None or device.type == "cuda" or precision not in ("bf16", "fp16"):
        return
    if precision == "fp16" or device.type != "cpu":
        where = "a CUDA GPU" if precision == "fp16" else "a CUDA GPU or the CPU"
        raise DreamError(f"precision {precision} needs {where} (device here: {device.type})")


def half_dtype(
    precision: str, device: torch.device, bf16_ok: bool | None = None
) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``, or None for plain float32.

    ``auto`` is float32 on a CPU (bf16 is there only when asked for: faster on big images
    with bfloat16 instructions, at a cost in fidelity measured in benchmarks/README.md) and
    ``AUTO_CUDA_PRECISION`` on CUDA (bf16 falls back to float32 on GPUs without it).
    """
    check_precision(precision, device)
    if device.type == "cpu" and precision == "bf16":
        return torch.bfloat16
    if precision == "fp32" or device.type != "cuda":
        return None
    if precision == "auto":
        precision = AUTO_CUDA_PRECISION
        if bf16_ok is None:
            bf16_ok = torch.cuda.is_bf16_supported()
        if precision == "bf16" and not bf16_ok:
            return None
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by ``k`` (a float or a one-item list
    filled in later), for float16 loss scaling that cancels exactly at the input."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, k: float | list[float]) -> torch.Tensor:
        ctx.k = k
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        k = ctx.k[0] if isinstance(ctx.k, list) else ctx.k
        return g * k, None


def randomized(net: nn.Module, seed: int = 0) -> nn.Module:
    """``net`` (freshly built: default-initialised convs) with random batch-norm statistics and
    affines, so that folding and the like are exercised as real weights would exercise them."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))
                if m.affine:
                    m.weight.copy_(1 + 0.1 * torch.randn(n, generator=g))
                    m.bias.copy_(0.1 * torch.randn(n, generator=g))
    return net.eval()


def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Fold an eval-mode ``bn`` that follows ``conv`` into the conv's weight and bias, in place.

    bn(conv(x)) = s * (W x + b - mean) + beta with s = gamma / sqrt(var + eps), so the conv with
    weight s * W and bias s * (b - mean) + beta computes the same thing in one op (computed in
    float64, so the folded net matches the original to float32 rounding).
    """
    if not isinstance(conv, nn.Conv2d) or not isinstance(bn, nn.BatchNorm2d):
        raise TypeError(f"cannot fold {type(bn).__name__} into {type(conv).__name__}")
    if bn.running_mean is None or bn.running_var is None or conv.out_channels != bn.num_features:
        raise ValueError("batch norm without running statistics or of another width")
    f64 = torch.float64
    s = torch.rsqrt(bn.running_var.to(f64) + bn.eps)
    if bn.weight is not None:
        s = s * bn.weight.to(f64)
    b = -bn.running_mean.to(f64) if conv.bias is None else conv.bias.to(f64) - bn.running_mean
    b = b * s
    if bn.bias is not None:
        b = b + bn.bias.to(f64)
    dtype = conv.weight.dtype
    w = conv.weight.to(f64) * s.view(-1, *([1] * (conv.weight.dim() - 1)))
    conv.weight = nn.Parameter(w.to(dtype), requires_grad=False)
    conv.bias = nn.Parameter(b.to(dtype), requires_grad=False)


class BasicConv2d(nn.Module):
    """Convolution (no bias) + batch norm (TF's eps 0.001) + ReLU: torchvision's Inception unit.

    The ReLU is not in place: a hook on any sub-module must see its own output, not one that a
    later in-place op overwrote.
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.pre_activation(x))

    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


def relu_after_pool(block: BasicConv2d, pool: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``pool(block(x))`` for a max pool after a conv-norm-ReLU block, with the ReLU moved after
    the pool: max and ReLU commute, value and gradient to the bit, and the ReLU then runs on a
    quarter of the pixels (the largest activations of the network, at the stem). A block or pool
    with a tap runs as written, so its hook sees its own output."""
    if _has_tap(pool) or _has_tap(block) or tapped_below(block):
        return pool(block(x))
    return torch.relu(pool(block.pre_activation(x)))


Pool = Callable[[torch.Tensor], torch.Tensor]


class PointwiseHeads(nn.Module):
    """The 1x1 convs (batch norms folded, each followed by a ReLU) that open several branches of
    a block on the block's input, run as one conv whose output is split back (for dreaming).

    One wider GEMM forward and backward instead of several narrow ones, and the input's gradient
    comes out of it whole instead of being summed from each branch (Inception v3 at 1024x575:
    about 7% of a step). ``pool``, a linear pool (an average) that the last branch applies
    before its conv: the two commute, so that branch's far fewer output channels are pooled
    after the conv, with its bias added after the pool. The same sums, to float32 rounding.
    """

    def __init__(self, convs: Sequence[nn.Conv2d], pool: Pool | None) -> None:
        super().__init__()
        plain = ((1, 1), (1, 1), (0, 0), (1, 1), 1)
        if any((c.kernel_size, c.stride, c.padding, c.dilation, c.groups) != plain for c in convs):
            raise ValueError("only plain 1x1 convs can share their input")
        if len({c.in_channels for c in convs}) != 1:
            raise ValueError("convs of different input widths")
        self.sizes = [c.out_channels for c in convs]
        zero = convs[0].weight.new_zeros
        bias = torch.cat([zero(c.out_channels) if c.bias is None else c.bias for c in convs])
        bias = bias.detach().clone()
        self.pool = pool
        if pool is not None:  # the pooled branch's bias goes after the pool
            pooled = bias[-self.sizes[-1] :]
            self.pool_bias = nn.Parameter(pooled.view(1, -1, 1, 1).clone(), requires_grad=False)
            pooled.zero_()
        weight = torch.cat([c.weight.detach() for c in convs])
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.bias = nn.Parameter(bias, requires_grad=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        parts = list(torch.split(nn.functional.conv2d(x, self.weight, self.bias), self.sizes, 1))
        if self.pool is not None:
            parts[-1] = self.pool(parts[-1]) + self.pool_bias
        return [torch.relu(p) for p in parts]


class SharedInputBranches(nn.Module):
    """A block whose branches open with 1x1 convs (conv, batch norm, ReLU modules) on its input.

    ``heads(x)`` gives those openings' outputs, by running each as published or, once
    ``for_dreaming`` has folded them into one ``PointwiseHeads``, in one conv. A block tapped
    anywhere inside runs as published, so every module's hook still sees its own output.
    """

    head_names: tuple[str, ...] = ()  # module paths of the opening convs' modules
    head_pool: Pool | None = None  # what the last head's branch applies before its conv

    def merged_heads(self) -> PointwiseHeads | None:
        """The merged heads, when set up and no module inside the block is tapped."""
        merged = self._modules.get("pointwise_heads")
        if merged is None or tapped_below(self):
            return None
        return merged  # type: ignore[return-value]

    def heads(self, x: torch.Tensor) -> list[torch.Tensor]:
        merged = self.merged_heads()
        if merged is not None:
            return merged(x)
        mods = [self.get_submodule(n) for n in self.head_names]
        if self.head_pool is None:
            return [m(x) for m in mods]
        return [m(x) for m in mods[:-1]] + [mods[-1](self.head_pool(x))]

    def for_dreaming(self) -> None:
        """Run the heads as one conv (their batch norms are folded by now)."""
        convs = [self.get_submodule(f"{n}.conv") for n in self.head_names]
        self.pointwise_heads = PointwiseHeads(convs, self.head_pool)  # type: ignore[arg-type]


def _set_module(net: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, name = path.rpartition(".")
    setattr(net.get_submodule(parent) if parent else net, name, module)


def fuse_pairs(net: nn.Module) -> list[tuple[str, str]]:
    """The (conv, batch norm) module paths that ``net`` declares run back to back.

    A network opts in with a ``fuse_pairs()`` method (or list attribute); finding the pairs
    generically (torch.fx) is fragile with the early-stop hooks, so each model says it.
    """
    pairs = getattr(net, "fuse_pairs", None)
    return list(pairs() if callable(pairs) else pairs or [])


def conv_bn_pairs(
    net: nn.Module, names: Iterable[tuple[str, str]] = (("conv", "bn"),)
) -> list[tuple[str, str]]:
    """``fuse_pairs`` for the usual layout: every sub-module holding a conv and the batch norm
    its forward applies right after it, under the attribute names ``names`` (e.g. torchvision's
    ``BasicConv2d.conv``/``.bn``, ResNet's ``conv1``/``bn1`` and ``downsample.0``/``.1``)."""
    pairs = []
    for path, m in net.named_modules():
        prefix = f"{path}." if path else ""
        for c, b in names:
            conv, bn = m._modules.get(c), m._modules.get(b)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                pairs.append((prefix + c, prefix + b))
    return pairs


def _sharing_copy(net: nn.Module) -> nn.Module:
    """A copy of the module tree sharing every parameter and buffer with ``net``: the changes
    below assign new tensors, so the original stays as loaded, and only what they replace costs
    memory (not, say, VGG's 400 MB of classifier weights)."""
    memo: dict[int, Any] = {id(t): t for t in (*net.parameters(), *net.buffers())}
    with _TAP_LOCK:
        return copy.deepcopy(net, memo)


def _copy_to(net: nn.Module, device: torch.device) -> nn.Module:
    """A copy of ``net`` on ``device``; ``net`` itself is left where it is (``Module.to`` moves
    the tensors of a module, and so of every model sharing them, in place)."""
    memo: dict[int, Any] = {}
    for p in net.parameters():
        memo[id(p)] = nn.Parameter(p.detach().to(device), requires_grad=p.requires_grad)
    for b in net.buffers():
        memo[id(b)] = b.to(device)
    with _TAP_LOCK:
        return copy.deepcopy(net, memo)


def _same_device(have: torch.device, want: torch.device) -> bool:
    return have.type == want.type and (want.index is None or want.index == have.index)


def _conv_weights_channels_last(net: nn.Module) -> None:
    """New channels-last copies of the 4-D (conv) weights: oneDNN then runs the convs, and
    their gradients, in that layout (the image itself can stay as it is)."""
    cl = torch.channels_last
    for m in net.modules():
        w = m._parameters.get("weight")
        if w is not None and w.dim() == 4 and not w.is_contiguous(memory_format=cl):
            m.weight = nn.Parameter(w.detach().contiguous(memory_format=cl), requires_grad=False)


def fold_batchnorms(net: nn.Module, pairs: Iterable[tuple[str, str]]) -> nn.Module:
    """Fold each batch norm into its conv in place; the norm becomes an ``nn.Identity`` so every
    module path (and so every layer name and hook) stays valid and sees the same values."""
    for conv, bn in pairs:
        fold_batchnorm(net.get_submodule(conv), net.get_submodule(bn))  # type: ignore[arg-type]
        _set_module(net, bn, nn.Identity())
    return net


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
        if _same_device(self.device, device):
            return self
        key = str(device)
        with self._lock:
            moved = self._moved.get(key)
            if moved is None:
                moved = dataclasses.replace(self, net=_copy_to(self.net, device))
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
        seconds of set-up for every new image shape), and on CUDA the autocast ``precision``
        (see ``half_dtype``). Layer names, hooks and values stay those of the original, to float
        rounding; only a tap on a conv that had a batch norm folded into it now sees the
        normalised output.
        """
        if self._prepared:
            return self
        check_precision(precision)
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

    def _dreaming_net(self, fuse: bool, channels_last: bool) -> nn.Module:
        """The net with its batch norms folded, its modules' own rewrites for dreaming applied
        (``for_dreaming()``, e.g. EfficientNet's padding) and/or conv weights channels-last (a
        copy that shares every tensor it does not change), or the net itself if nothing changes.
        """
        pairs = fuse_pairs(self.net) if fuse else []
        own = [n for n, m in self.net.named_modules() if hasattr(m, "for_dreaming")] if fuse else []
        if not pairs and not own and not channels_last:
            return self.net
        net = fold_batchnorms(_sharing_copy(self.net), pairs)
        for name in own:
            net.get_submodule(name).for_dreaming()
        if channels_last:
            _conv_weights_channels_last(net)
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
        _install_taps(modules)
        capture = _Capture(wanted)

        unscale = [1.0]
        if half is torch.float16:  # loss scaling, undone at the input once the scale is known
            x = _ScaleGrad.apply(x, unscale)
        outer = getattr(_thread, "capture", None)
        _thread.capture = capture
        try:
            if half is None:
                self.net(x)
            else:
                with torch.autocast(x.device.type, half):
                    self.net(x)
        except _Captured:
            pass
        finally:
            _thread.capture = outer
        out = capture.out
        if half is not None:
            out = {n: a.float() for n, a in out.items()}  # objectives in float32
        if half is torch.float16 and out:
            # d(mean or l2/numel)/d(activation) ~ 1/numel underflows float16: scale it up by
            # about the smallest layer's size (a power of two, so exact) on the way back.
            k = 2.0 ** round(math.log2(min(a.numel() for a in out.values())))
            unscale[0] = 1.0 / k
            out = {n: _ScaleGrad.apply(a, k) for n, a in out.items()}
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
