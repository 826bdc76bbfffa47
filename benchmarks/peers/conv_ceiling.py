"""How much of one step is convolution, and at what rate: the ceiling on any speed-up.

    PYTHONPATH=src python benchmarks/peers/conv_ceiling.py [--size 1024x575] [--steps 3]

Inception v3 as the engine sets it up (random weights, ``fast()``, freed memory kept), the
peer's four layers, one octave size. The torch profiler times the steps; the convolutions'
share is their forward and input-gradient kernels' self time over the whole, and their rate the
forward FLOPs (the profiler's count for each conv) doubled for the backward to the input, which
costs the same multiply-adds, over that time. With every other op free, a step would still take
the convolutions' time: the step's time over theirs bounds what any non-conv work can give.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import inceptionism  # noqa: F401  (first: the OpenMP spin setting, before torch)

# isort: split
import torch
from torch.profiler import profile

from inceptionism import runtime
from inceptionism.algorithm.engine import loss_and_gradient
from inceptionism.algorithm.objectives import reference
from inceptionism.models import get_spec

LAYERS = {"mixed2": 2.0, "mixed3": 0.5, "mixed4": 1.0, "mixed5": 2.0}
CONV_KERNELS = ("aten::mkldnn_convolution", "aten::convolution_backward")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="1024x575", help="WxH of the octave")
    p.add_argument("--steps", type=int, default=3)
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    model = get_spec("inception-v3").random(0).fast("fp32")
    objective = reference(LAYERS)
    x = torch.rand(1, 3, h, w) * 2 - 1
    with runtime.keep_freed_memory():
        for _ in range(2):
            loss_and_gradient(model, objective, x)
        t = time.perf_counter()
        for _ in range(args.steps):
            loss_and_gradient(model, objective, x)
        wall = (time.perf_counter() - t) / args.steps
        with profile(record_shapes=True, with_flops=True) as prof:
            for _ in range(args.steps):
                loss_and_gradient(model, objective, x)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) / 1e6 / args.steps
    conv = sum(e.self_cpu_time_total for e in events if e.key in CONV_KERNELS) / 1e6 / args.steps
    flops = 2 * sum(e.flops for e in events if e.key == "aten::conv2d") / args.steps
    print(f"# inception-v3 {w}x{h}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print("| step s (as is; profiled) | conv s | conv share | GFLOP | GFLOP/s | step / conv |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {wall:.3f}; {total:.3f} | {conv:.3f} | {conv / total:.0%} | {flops / 1e9:.1f} "
        f"| {flops / conv / 1e9:.0f} | {total / conv:.2f}x |"
    )


if __name__ == "__main__":
    main()
