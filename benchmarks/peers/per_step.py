"""Seconds per gradient step at each octave size of the peer's schedule, for a few variants.

    PYTHONPATH=src python benchmarks/peers/per_step.py [--size 1024x575] [--steps 3] [--rounds 2]
        [--variants 1t,2t,bf16]

One process, inception-v3 with random weights set up as the engine sets it up (``fast()``, freed
memory kept), the peer's four layers and loss. At every octave size of 10 octaves of 1.2 each
variant takes ``--steps`` steps, the variants interleaved over ``--rounds`` rounds (so a busy
spell on a shared machine hits each alike); prints the median wall seconds per step. Variants:
``Nt`` is N torch threads in float32; ``bf16`` is bfloat16 autocast on the CPU (default threads),
``bf16-Nt`` the same on N threads; ``published-Nt`` runs the Inception blocks' opening 1x1 convs
one by one, as published, instead of as one (``models.base.PointwiseHeads``).
``--largest K`` times only the K largest octaves.
The table behind the per-octave thread rule (``runtime.threads_for``) and the bf16 note.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import inceptionism  # noqa: F401  (first: the OpenMP spin setting, before torch)

# isort: split
import torch

from inceptionism import runtime
from inceptionism.algorithm.engine import loss_and_gradient, octave_shapes
from inceptionism.algorithm.objectives import reference
from inceptionism.models import get_spec
from inceptionism.models.base import SharedInputBranches

LAYERS = {"mixed2": 2.0, "mixed3": 0.5, "mixed4": 1.0, "mixed5": 2.0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="1024x575")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--variants", default="1t,2t")
    p.add_argument("--octaves", type=int, default=10)
    p.add_argument("--largest", type=int, help="only the K largest octaves")
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    default_threads = torch.get_num_threads()
    model = get_spec("inception-v3").random(0).fast("fp32")
    published = get_spec("inception-v3").random(0).fast("fp32")
    for block in published.net.modules():
        if isinstance(block, SharedInputBranches):
            del block.pointwise_heads
    objective = reference(LAYERS)
    variants = args.variants.split(",")
    print(f"# torch {torch.__version__}, default threads {default_threads}", flush=True)
    print("| octave size | " + " | ".join(f"{v} s/step" for v in variants) + " |")
    print("|---|" + "---|" * len(variants), flush=True)
    with runtime.keep_freed_memory():
        for shape in octave_shapes((h, w), args.octaves, 1.2)[-(args.largest or args.octaves) :]:
            x = torch.rand(1, 3, *shape) * 2 - 1
            times: dict[str, list[float]] = {v: [] for v in variants}
            for _ in range(args.rounds):
                for v in variants:
                    bf16 = v.startswith("bf16")
                    n = v.rpartition("-")[2]
                    net = published if v.startswith("published") else model
                    torch.set_num_threads(int(n[:-1]) if n.endswith("t") else default_threads)
                    cast = (
                        torch.autocast("cpu", torch.bfloat16) if bf16 else contextlib.nullcontext()
                    )
                    with cast:
                        loss_and_gradient(net, objective, x)  # warm: first use of the shape
                        for _ in range(args.steps):
                            t = time.perf_counter()
                            loss_and_gradient(net, objective, x)
                            times[v].append(time.perf_counter() - t)
            cells = " | ".join(f"{statistics.median(times[v]):.3f}" for v in variants)
            print(f"| {shape[0]}x{shape[1]} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
