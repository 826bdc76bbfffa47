"""A convolution and its ReLU (or ReLU6) in one oneDNN call on the CPU, with the same gradient.

Eager PyTorch runs a conv, then its activation as a second pass over the conv's output: on a
dream's big octaves that pass reads and writes every activation once more (Inception v3: 10% of
a step's CPU time in ``clamp_min``). oneDNN can apply the activation as the conv writes its
output (``torch.ops.mkldnn._convolution_pointwise``, what ``torch.compile`` uses on the CPU),
and on one thread it also runs 1x1 convs that torch would send to its slower GEMM path. That op
has no backward, so :class:`_ConvAct` supplies the one autograd would build: the activation's
backward from its output, then ``convolution_backward`` for the input only (the weights are
frozen) - the same ops as the unfused pair, and the same sums (tests/test_fast.py).

A block uses it through :func:`conv_act` once ``for_dreaming`` switched it on; anywhere it
cannot apply (another device, half precision, a module somebody hooks) the block runs as loaded.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

#: The activations oneDNN fuses here: the op's name and scalars, and how the backward reads the
#: output (for ReLU the output's sign is the input's; for ReLU6 "0 < y < 6" is "0 < x < 6").
ACTIVATIONS = {"relu": ("relu", []), "relu6": ("hardtanh", [0.0, 6.0])}


def _available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(
        torch.ops.mkldnn, "_convolution_pointwise"
    )


AVAILABLE = _available()


class _ConvAct(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        stride: list[int],
        padding: list[int],
        dilation: list[int],
        groups: int,
        act: str,
    ) -> torch.Tensor:
        op, scalars = ACTIVATIONS[act]
        y = torch.ops.mkldnn._convolution_pointwise(
            x, weight, bias, padding, stride, dilation, groups, op, scalars, ""
        )
        ctx.save_for_backward(x, weight, y)
        ctx.conf = (None if bias is None else list(bias.shape), stride, padding, dilation, groups)
        ctx.act = act
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight, y = ctx.saved_tensors
        if ctx.act == "relu":
            g = torch.ops.aten.threshold_backward(grad, y, 0)
        else:
            g = torch.ops.aten.hardtanh_backward(grad, y, 0.0, 6.0)
        bias_sizes, stride, padding, dilation, groups = ctx.conf
        gx = None
        if ctx.needs_input_grad[0]:
            gx = torch.ops.aten.convolution_backward(
                g, x, weight, bias_sizes, stride, padding, dilation, False, [0, 0], groups,
                [True, False, False],
            )[0]  # fmt: skip
        return gx, None, None, None, None, None, None, None


def fusable(x: torch.Tensor, *modules: nn.Module) -> bool:
    """Whether the fused op computes what ``modules`` would for ``x``: float32 on the CPU, no
    autocast, frozen weights, and nobody hooking the modules it skips (the layer taps)."""
    return (
        AVAILABLE
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and not torch.is_autocast_enabled("cpu")
        and not any(
            m._forward_hooks or m._forward_pre_hooks or m.weight.requires_grad
            if isinstance(m, nn.Conv2d)
            else m._forward_hooks or m._forward_pre_hooks
            for m in modules
        )
    )


def conv_act(
    x: torch.Tensor,
    conv: nn.Conv2d,
    act: str,
    weight: torch.Tensor | None = None,
    padding: tuple[int, int] | None = None,
) -> torch.Tensor:
    """``act(conv(x))`` in one oneDNN call (check :func:`fusable` first). ``weight`` and
    ``padding`` replace the conv's own where its forward computes them (TF "same" padding)."""
    w = conv.weight if weight is None else weight
    pad = conv.padding if padding is None else padding
    return _ConvAct.apply(
        x, w, conv.bias, list(conv.stride), list(pad), list(conv.dilation), conv.groups, act
    )
