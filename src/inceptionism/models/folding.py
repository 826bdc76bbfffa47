"""Speed set-up of a net for dreaming: batch norms folded into their convs, conv weights
channels-last, and the copies of a net these changes are made on (the original stays as loaded).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from .taps import TAP_LOCK


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


def set_module(net: nn.Module, path: str, module: nn.Module) -> None:
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


def sharing_copy(net: nn.Module) -> nn.Module:
    """A copy of the module tree sharing every parameter and buffer with ``net``: the changes
    below assign new tensors, so the original stays as loaded, and only what they replace costs
    memory (not, say, VGG's 400 MB of classifier weights)."""
    memo: dict[int, Any] = {id(t): t for t in (*net.parameters(), *net.buffers())}
    with TAP_LOCK:
        return copy.deepcopy(net, memo)


def copy_to(net: nn.Module, device: torch.device) -> nn.Module:
    """A copy of ``net`` on ``device``; ``net`` itself is left where it is (``Module.to`` moves
    the tensors of a module, and so of every model sharing them, in place)."""
    memo: dict[int, Any] = {}
    for p in net.parameters():
        memo[id(p)] = nn.Parameter(p.detach().to(device), requires_grad=p.requires_grad)
    for b in net.buffers():
        memo[id(b)] = b.to(device)
    with TAP_LOCK:
        return copy.deepcopy(net, memo)


def same_device(have: torch.device, want: torch.device) -> bool:
    return have.type == want.type and (want.index is None or want.index == have.index)


def conv_weights_channels_last(net: nn.Module) -> None:
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
        set_module(net, bn, nn.Identity())
    return net
