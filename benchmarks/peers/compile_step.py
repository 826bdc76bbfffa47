"""torch.compile of the peer's step (Inception v3, its four layers) against eager, and whether
Inductor's on-disk cache spares a second process the compile.

    PYTHONPATH=src python benchmarks/peers/compile_step.py [--size 198x111] [--steps 5]

Runs two fresh processes, one after the other, sharing one new cache directory
(``TORCHINDUCTOR_CACHE_DIR``): the first compiles cold, the second finds the first's cache. Each
compiles the truncated forward and the loss (the engine's hooks and early stop do not compile;
this is the same net, ``fast()``, stopped after ``Mixed_6c``) for one octave size, then times
eager and compiled steps (forward, loss, gradient to the image). The break-even in frames is
compile / (eager - compiled) per step, when the compiled step is the faster.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

LAYERS = {"Mixed_5d": 2.0, "Mixed_6a": 0.5, "Mixed_6b": 1.0, "Mixed_6c": 2.0}
TRUNK = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1"]
TRUNK += ["Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a"]
TRUNK += ["Mixed_6b", "Mixed_6c"]


def one_process(h: int, w: int, steps: int) -> dict[str, float]:
    import torch

    from inceptionism.models import get_spec

    net = get_spec("inception-v3").random(0).fast("fp32").net

    def loss(x: torch.Tensor) -> torch.Tensor:
        total = x.new_zeros(())
        for name in TRUNK:
            x = getattr(net, name)(x)
            if name in LAYERS:
                total = total + LAYERS[name] * x[..., 2:-2, 2:-2].square().sum() / x.numel()
        return total

    def step(fn, x: torch.Tensor) -> None:
        x = x.detach().requires_grad_(True)
        torch.autograd.grad(fn(x), x)

    x = torch.rand(1, 3, h, w) * 2 - 1
    compiled = torch.compile(loss, dynamic=False)
    t = time.perf_counter()
    step(compiled, x)
    got = {"compile_and_first_s": time.perf_counter() - t}
    for name, fn in (("eager", loss), ("compiled", compiled)):
        step(fn, x)
        t = time.perf_counter()
        for _ in range(steps):
            step(fn, x)
        got[f"{name}_s"] = (time.perf_counter() - t) / steps
    return got


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "_one":
        job = json.loads(sys.argv[2])
        print(json.dumps(one_process(job["h"], job["w"], job["steps"])))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="198x111", help="WxH of the octave")
    p.add_argument("--steps", type=int, default=5)
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    job = json.dumps({"h": h, "w": w, "steps": args.steps})
    print(f"torch.compile of the peer's step at {w}x{h}, two processes sharing one new cache")
    print("| process | compile + first step s | eager s/step | compiled s/step | break-even |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}
        for which in ("first (cold cache)", "second (warm cache)"):
            out = subprocess.run(
                [sys.executable, __file__, "_one", job], env=env, capture_output=True, text=True
            )
            if out.returncode:
                raise SystemExit(out.stderr[-3000:])
            r = json.loads(out.stdout.strip().splitlines()[-1])
            gain = r["eager_s"] - r["compiled_s"]
            even = f"{r['compile_and_first_s'] / gain:.0f} steps" if gain > 0 else "never"
            print(
                f"| {which} | {r['compile_and_first_s']:.1f} | {r['eager_s']:.3f} "
                f"| {r['compiled_s']:.3f} | {even} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
