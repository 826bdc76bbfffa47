"""The measurements behind the speed decisions in benchmarks/README.md, one change at a time.

    python benchmarks/experiments.py steps [--size 1024] [--threads 1] [--rounds 3]
    python benchmarks/experiments.py compile [--size 512]
    python benchmarks/experiments.py drift [--size 256]

``steps`` times single gradient steps (forward to the layer, backward to the image) at one
octave's size, for each variant in its own process (process-wide settings differ), the variants
interleaved over several rounds; it reports CPU seconds per step (with one thread, the work
done, which other jobs on a shared machine barely disturb) and wall seconds. ``compile``
measures what torch.compile costs (per octave shape) and gives. ``drift`` shows how far float32
itself drifts from exact (float64) arithmetic over a schedule, with and without the folded
batch norms: the floor any fidelity comparison of a long jittered dream sits on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

# name -> (DreamModel.fast switches, plus keep_memory for runtime.keep_freed_memory, or None for
# the plain baseline step; extra environment), each adding one change to the one before.
ALL_ON = {"fuse": True, "channels_last": True, "keep_memory": True}
VARIANTS: dict[str, tuple[dict[str, bool] | None, dict[str, str]]] = {
    "plain (baseline)": (None, {}),
    "early stop": ({"fuse": False, "channels_last": False}, {}),
    "+ folded BN": ({"fuse": True, "channels_last": False}, {}),
    "+ channels-last": ({"fuse": True, "channels_last": True}, {}),
    "+ keep freed memory": (ALL_ON, {}),
    # Only matters with 2+ threads (--threads 2): OpenMP's idle threads sleep, not spin.
    "+ OMP passive": (ALL_ON, {"OMP_WAIT_POLICY": "PASSIVE"}),
    # What the package sets now instead: a short spin, then sleep (runtime.OMP_SPINCOUNT).
    "+ OMP short spin": (ALL_ON, {"GOMP_SPINCOUNT": "10000"}),
    # Tried and dropped: torch's transparent huge pages for its allocations.
    "+ huge pages": (ALL_ON, {"OMP_WAIT_POLICY": "PASSIVE", "THP_MEM_ALLOC_ENABLE": "1"}),
}


def _setup(threads: int | None):
    sys.path[:0] = [str(SRC), str(Path(__file__).parent)]
    import torch

    if threads:
        torch.set_num_threads(threads)
    return torch


def time_steps(variant: str, size: int, threads: int | None, n: int) -> dict[str, float]:
    """Median CPU and wall seconds of ``n`` gradient steps of the default dream at ``size``."""
    torch = _setup(threads)
    sys.path.insert(0, str(ROOT / "tests"))
    import reference as baseline  # the plain loop the tests check the engine against
    from run import sample_pixels

    from inceptionism.algorithm.engine import loss_and_gradient
    from inceptionism.algorithm.objectives import reference
    from inceptionism.models import load_model

    model = load_model()
    layers = dict(model.default_layers)
    rgb = sample_pixels(size)
    x = model.preprocess(torch.from_numpy(rgb).permute(2, 0, 1)[None].contiguous())
    spec = VARIANTS[variant][0]
    switches = dict(spec) if spec is not None else None
    keep = switches.pop("keep_memory", False) if switches is not None else False
    if switches is None:
        feats = baseline.features(model.net, {n: model.layers[n] for n in layers})

        def step() -> None:
            loss, _ = baseline.loss_and_grads(feats, layers, x)
            loss.item()
    else:
        fast = model.fast(**switches)
        objective = reference(layers)

        def step() -> None:
            loss_and_gradient(fast, objective, x)

    from inceptionism import runtime

    cpu, wall = [], []
    with runtime.keep_freed_memory() if keep else contextlib.nullcontext():
        step()  # warm-up: first-touch allocations, oneDNN primitive creation
        for _ in range(n):
            c, w = time.process_time(), time.perf_counter()
            step()
            cpu.append(time.process_time() - c)
            wall.append(time.perf_counter() - w)
    return {"cpu_s": statistics.median(cpu), "wall_s": statistics.median(wall)}


def cmd_steps(args: argparse.Namespace) -> None:
    results: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    for r in range(args.rounds):
        for variant, (_, env) in VARIANTS.items():
            job = {"variant": variant, "size": args.size, "threads": args.threads, "n": args.n}
            p = subprocess.run(
                [sys.executable, __file__, "_steps", json.dumps(job)],
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                check=False,
            )
            if p.returncode:
                raise SystemExit(p.stderr)
            results[variant].append(json.loads(p.stdout.splitlines()[-1]))
            print(f"# round {r + 1}: {variant}: {results[variant][-1]}", file=sys.stderr)
    base = statistics.median(x["cpu_s"] for x in results["plain (baseline)"])
    print(f"default dream, one step at {args.size} px long side, threads={args.threads or 'all'}")
    print("| variant | CPU s/step | wall s/step | CPU vs plain |")
    print("|---|---|---|---|")
    for variant, rs in results.items():
        cpu = statistics.median(x["cpu_s"] for x in rs)
        wall = statistics.median(x["wall_s"] for x in rs)
        print(f"| {variant} | {cpu:.3f} | {wall:.3f} | {base / cpu:.2f}x |")


def cmd_compile(args: argparse.Namespace) -> None:
    """torch.compile of the truncated forward + loss (hooks and the early-stop exception do not
    compile), against eager on the same folded channels-last net, per octave shape."""
    torch = _setup(args.threads)
    from inceptionism.algorithm.engine import octave_shapes
    from inceptionism.config import make_config
    from inceptionism.models import load_model

    model = load_model()
    net = model.fast().net
    deepest = int(next(iter(model.default_layers)).removeprefix("block"))

    def loss(x: torch.Tensor) -> torch.Tensor:
        x = net._stem_act(net._bn0(net._conv_stem(x)))
        for block in net._blocks[: deepest + 1]:
            x = block(x)
        return x[..., 2:-2, 2:-2].square().sum() / x.numel()

    def step(fn: Any, x: torch.Tensor) -> None:
        x = x.detach().requires_grad_(True)
        torch.autograd.grad(fn(x), x)

    compiled = torch.compile(loss, dynamic=False)
    cfg = make_config("default")
    long_side = args.size
    short = round(long_side * 300 / 451)
    print(f"torch.compile, default dream octaves of a {long_side}x{short} image")
    print("| octave shape | compile + first step s | eager s/step | compiled s/step |")
    print("|---|---|---|---|")
    for shape in octave_shapes((short, long_side), cfg.octaves, cfg.octave_scale):
        x = torch.randn(1, 3, *shape)
        t = time.perf_counter()
        step(compiled, x)
        first = time.perf_counter() - t
        per = {}
        for name, fn in (("eager", loss), ("compiled", compiled)):
            step(fn, x)
            t = time.process_time()
            for _ in range(args.n):
                step(fn, x)
            per[name] = (time.process_time() - t) / args.n
        print(f"| {shape} | {first:.1f} | {per['eager']:.3f} | {per['compiled']:.3f} |", flush=True)


def cmd_drift(args: argparse.Namespace) -> None:
    torch = _setup(args.threads)
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import psnr
    from run import sample_pixels

    from inceptionism.algorithm.engine import dream_tensor
    from inceptionism.config import make_config
    from inceptionism.models import load_model

    m32, m64 = load_model(), load_model()
    m64.net.double()
    px = torch.from_numpy(sample_pixels(args.size)).permute(2, 0, 1)[None].contiguous()
    print(f"PSNR dB between dreams of a {args.size} px image (default preset unless noted)")
    print(
        "| schedule | fp64 folded vs fp64 | fp32 plain vs fp64 | fp32 fast vs fp64 | "
        "fp32 fast vs fp32 plain |"
    )
    print("|---|---|---|---|---|")
    plain = {"fuse": False, "channels_last": False}
    for opts in ({"octaves": 1, "iterations": 3}, {"octaves": 2, "iterations": 15}, {}):
        cfg = make_config("default", **opts)
        exact = dream_tensor(m64.fast(**plain), px.double(), cfg)
        folded = dream_tensor(m64.fast(fuse=True, channels_last=False), px.double(), cfg)
        raw = dream_tensor(m32.fast(**plain), px, cfg)
        fast = dream_tensor(m32.fast(), px, cfg)
        label = ", ".join(f"{k} {v}" for k, v in opts.items()) or "full default"
        print(
            f"| {label} | {psnr(folded, exact):.0f} | {psnr(raw, exact):.1f} | "
            f"{psnr(fast, exact):.1f} | {psnr(fast, raw):.1f} |",
            flush=True,
        )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "_steps":
        job = json.loads(sys.argv[2])
        print(json.dumps(time_steps(job["variant"], job["size"], job["threads"], job["n"])))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["steps", "compile", "drift"])
    p.add_argument("--size", type=int, default=None, help="long side in px")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("-n", type=int, default=3, help="timed steps per measurement")
    args = p.parse_args()
    args.size = args.size or {"steps": 1024, "compile": 512, "drift": 256}[args.what]
    {"steps": cmd_steps, "compile": cmd_compile, "drift": cmd_drift}[args.what](args)


if __name__ == "__main__":
    main()
