"""Precision: what ``auto`` means for a model on a device (measured, ``AUTO_BF16``), which autocast
dtype a precision name means where, and float16 loss scaling."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import DreamError
from ..options import OPTION

#: bfloat16 must be at least this much faster (float32's seconds over bfloat16's, per step on a
#: large image and over a whole default dream) for ``auto`` to pick it: less is inside the noise
#: of a shared machine and not worth the rounding.
BF16_MIN_SPEEDUP = 1.15
#: The CPU flags (/proc/cpuinfo) of bfloat16 arithmetic in hardware: AVX512-BF16's dot products
#: and AMX's tiles. Without them oneDNN converts bfloat16 to float32 and back around float32
#: arithmetic: no faster than float32, and less exact.
NATIVE_BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@dataclass(frozen=True)
class Bf16Measure:
    """What bfloat16 did for one model on one kind of device, measured: float32's seconds over
    bfloat16's per step on a ``small`` image (256x256) and a ``large`` one (432x768), and for the
    model's whole default ``dream`` of the large one (its octaves' steps summed); ``looks_same``:
    its dreams judged as strong as float32's (within the spread of float32 seeds) with no more
    grain or clipping, None where that could not be judged (no real weights offline)."""

    small: float
    large: float
    dream: float
    looks_same: bool | None

    @property
    def pays(self) -> bool:
        """Faster by a clear margin where a dream spends its time, and looks the same."""
        fast = min(self.large, self.dream) >= BF16_MIN_SPEEDUP
        return fast and self.looks_same is True


#: The measurements ``auto`` decides from, per device type and model. CPU: AMD EPYC Zen 4 with
#: avx512_bf16, no AMX (the CI machine's kind), 2 threads, from ``PYTHONPATH=src python
#: benchmarks/precision.py speed`` (random weights: the same speed as the real ones) and
#: ``... quality --photos DIR`` (benchmarks/README.md, "Precision: auto"; speed on a quiet machine,
#: 2026-12-07 16:03-16:05 UTC, load 1.1-1.7, float32 and bfloat16 alternating in one process;
#: three passes under load 2-11 earlier that day picked the same).
#: ``looks_same`` of the Lite models is their own dreams' verdict (real weights); the other
#: models' weights are not offline, so theirs is the Lite models' (the same autocast path:
#: network in bfloat16, objective and pixels in float32) and, for inception-v3, issue 22's
#: held-out judgement on five photos at 512 px. CUDA: nothing measured yet (no GPU lent), so
#: ``AUTO_CUDA_PRECISION`` for every model.
_LITE_LOOKS_SAME = True
AUTO_BF16: dict[str, dict[str, Bf16Measure]] = {
    "cpu": {
        # depthwise convs gain little from bfloat16 on this CPU, nothing over a dream: float32
        "efficientnet-lite0": Bf16Measure(0.78, 0.94, 0.98, _LITE_LOOKS_SAME),
        "efficientnet-lite1": Bf16Measure(0.84, 1.04, 1.02, _LITE_LOOKS_SAME),
        "efficientnet-lite2": Bf16Measure(0.87, 1.05, 1.06, _LITE_LOOKS_SAME),
        "inception-v1": Bf16Measure(1.52, 1.68, 1.65, _LITE_LOOKS_SAME),
        "inception-v3": Bf16Measure(1.55, 1.73, 1.69, _LITE_LOOKS_SAME),
        "vgg16": Bf16Measure(1.94, 1.98, 1.96, _LITE_LOOKS_SAME),
        "vgg19": Bf16Measure(1.94, 1.99, 1.97, _LITE_LOOKS_SAME),
        "resnet50": Bf16Measure(1.81, 1.95, 1.85, _LITE_LOOKS_SAME),
    },
    "cuda": {},
}


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags as Linux lists them (empty elsewhere, or unreadable)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


@functools.cache
def _this_cpu_flags() -> frozenset[str]:
    return cpu_flags()


def native_bf16(device: torch.device, flags: Iterable[str] | None = None) -> bool:
    """Whether ``device`` does bfloat16 arithmetic in hardware: a CPU with one of
    ``NATIVE_BF16_CPU_FLAGS`` (``flags``: the CPU's, default read from /proc/cpuinfo), a CUDA
    GPU that torch says supports it; nothing else."""
    if device.type == "cpu":
        return not NATIVE_BF16_CPU_FLAGS.isdisjoint(_this_cpu_flags() if flags is None else flags)
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return False


def auto_precision(model: str, device_type: str, native: bool, auto_cuda: str = "fp32") -> str:
    """What ``auto`` means for registered ``model`` on a ``device_type`` that does (``native``)
    or does not do bfloat16 in hardware: bf16 where ``AUTO_BF16`` shows it pays and looks the
    same, else on CUDA ``auto_cuda`` (bf16 only where native), else fp32."""
    measured = AUTO_BF16.get(device_type, {}).get(model)
    if native and measured is not None and measured.pays:
        return "bf16"
    if device_type == "cuda" and (auto_cuda != "bf16" or native):
        return auto_cuda
    return "fp32"


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
