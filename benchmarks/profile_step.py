"""Where one gradient step's time goes, per engine set-up (for the GPU notes in README.md).

Times a whole default dream of one frame twice in one process (the first pays for CUDA's and
cuDNN's set-up for every octave shape; the second is what each further frame of a video
costs), then the engine's step (forward to the deepest layer, backward to the image, normalise, add)
at one size for each combination of precision, layout and cuDNN autotuning, synchronising only
around the timed loop; then prints the profiler's busiest operators for the first set-up.

    python benchmarks/profile_step.py --device cuda --size 1920x1080
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch

from inceptionism import runtime
from inceptionism.algorithm.engine import dream_tensor, loss_and_gradient, normalize
from inceptionism.algorithm.objectives import reference
from inceptionism.config import make_config
from inceptionism.models import load_model


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def seconds_per_step(model, objective, x: torch.Tensor, steps: int) -> float:
    """Mean wall time of ``steps`` engine steps after warming up on the same shape."""
    for _ in range(2):
        loss_and_gradient(model, objective, x)
    sync(x.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        _, g = loss_and_gradient(model, objective, x)
        x = x + 0.01 * normalize(g)
    sync(x.device)
    return (time.perf_counter() - t0) / steps


def frame_seconds(model, pixels: torch.Tensor, precision: str) -> tuple[float, float]:
    """Wall time of the first and of a second default dream of ``pixels``, same process."""
    cfg = make_config("default", model=model.name)
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        dream_tensor(model.fast(precision), pixels, cfg)
        sync(pixels.device)
        times.append(time.perf_counter() - t0)
    return times[0], times[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--size", default="1920x1080", help="WxH")
    ap.add_argument("--model", default="efficientnet-lite0")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--top", type=int, default=12, help="profiler rows (0: no profile)")
    ap.add_argument("--no-table", dest="table", action="store_false", help="frame times only")
    args = ap.parse_args()
    dev = torch.device(args.device)
    w, h = (int(v) for v in args.size.split("x"))
    model = load_model(args.model).to(dev)
    objective = reference(dict(model.default_layers))
    x = torch.randn(1, 3, h, w, device=dev)
    name = torch.cuda.get_device_name() if dev.type == "cuda" else str(dev)
    print(f"# {args.model} {w}x{h} on {name}")
    runtime.configure(dev)
    pixels = torch.rand(1, 3, h, w, device=dev, generator=None) * 255
    for prec in ("fp32", "bf16") if dev.type == "cuda" else ("fp32",):
        first, then = frame_seconds(model, pixels, prec)
        print(f"default dream, {prec}: first frame {first:.2f} s, next frame {then:.2f} s")
    if not args.table:
        return 0
    print("| precision | channels-last | fused BN | cuDNN autotune | ms/step |")
    print("|---|---|---|---|---|")
    precisions = ("fp32", "bf16", "fp16") if dev.type == "cuda" else ("fp32",)
    autotune = (False, True) if dev.type == "cuda" else (False,)
    first = None
    for prec, cl, bench in itertools.product(precisions, (True, False), autotune):
        runtime.configure(dev, cudnn_benchmark=bench)
        fast = model.fast(prec, channels_last=cl)
        ms = 1000 * seconds_per_step(fast, objective, x, args.steps)
        print(f"| {prec} | {cl} | yes | {bench} | {ms:.1f} |", flush=True)
        first = first or fast
    runtime.configure(dev, cudnn_benchmark=False)
    unfused = model.fast("fp32", fuse=False)
    print(f"| fp32 | True | no | False | {1000 * seconds_per_step(unfused, objective, x, 5):.1f} |")
    if args.top:
        acts = [torch.profiler.ProfilerActivity.CPU]
        if dev.type == "cuda":
            acts.append(torch.profiler.ProfilerActivity.CUDA)
        with torch.profiler.profile(activities=acts) as prof:
            seconds_per_step(first, objective, x, 3)
        key = "self_cuda_time_total" if dev.type == "cuda" else "self_cpu_time_total"
        print(prof.key_averages().table(sort_by=key, row_limit=args.top, max_name_column_width=60))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
