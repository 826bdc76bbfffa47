"""Precision: which autocast dtype a precision name means where, and float16 loss scaling."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import DreamError
from ..options import OPTION


def check_precision(precision: str, device: torch.device | None = None) -> None:
    """The one check of a precision: a known name; fp16 only on a CUDA device, bf16 on CUDA or
    (opt-in, for its speed on CPUs with bfloat16 instructions) the CPU."""
    OPTION["precision"].check(precision)
    if device is None or device.type == "cuda" or precision not in ("bf16", "fp16"):
        return
    if precision == "fp16" or device.type != "cpu":
        where = "a CUDA GPU" if precision == "fp16" else "a CUDA GPU or the CPU"
        raise DreamError(f"precision {precision} needs {where} (device here: {device.type})")


def autocast_dtype(
    precision: str, device: torch.device, auto_cuda: str, bf16_ok: bool | None = None
) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``, or None for plain float32.

    ``auto`` is float32 on a CPU (bf16 is there only when asked for: faster on big images
    with bfloat16 instructions, at a cost in fidelity measured in benchmarks/README.md) and
    ``auto_cuda`` on CUDA (bf16 falls back to float32 on GPUs without it).
    """
    check_precision(precision, device)
    if device.type == "cpu" and precision == "bf16":
        return torch.bfloat16
    if precision == "fp32" or device.type != "cuda":
        return None
    if precision == "auto":
        precision = auto_cuda
        if bf16_ok is None:
            bf16_ok = torch.cuda.is_bf16_supported()
        if precision == "bf16" and not bf16_ok:
            return None
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


class ScaleGrad(torch.autograd.Function):
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


def scaled_for_fp16(out: dict[str, torch.Tensor], unscale: list[float]) -> dict[str, torch.Tensor]:
    """float16 activations with their gradients scaled up on the way back, by about the smallest
    layer's size (a power of two, so exact): d(mean or l2/numel)/d(activation) ~ 1/numel
    underflows float16. ``unscale`` (given to ``ScaleGrad`` at the input) undoes it there."""
    k = 2.0 ** round(math.log2(min(a.numel() for a in out.values())))
    unscale[0] = 1.0 / k
    return {n: ScaleGrad.apply(a, k) for n, a in out.items()}
