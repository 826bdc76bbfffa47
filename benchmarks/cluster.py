"""The same files through the local batch and through Ray (``--ray``), on this machine.

Prints, for each: the wall time and throughput of the whole run, the time to the first finished
file (start-up: for Ray, its workers starting and setting up the model), and the time per file
once warm (from the interval between the first and last finished outputs). Ray's own start-up
(``ray.init``) is timed apart. The outputs' write times mark when each file finished: the
driver writes each as it arrives.

    PYTHONPATH=src python benchmarks/cluster.py --files 20 --size 128 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from inceptionism.frontends.cli import main as deepdream


def make_photos(folder: Path, n: int, size: int, seed: int = 0) -> None:
    """Smooth random pictures (no noise: noise compresses and dreams unlike a photo)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    h, w = size * 3 // 4, size
    for i in range(n):
        yy, xx = np.mgrid[0:h, 0:w] / size
        phase = rng.uniform(0, 6.28, 3)
        freq = rng.uniform(2, 8, 3)
        rgb = [
            127 + 100 * np.sin(freq[c] * (xx + yy * (c + 1)) * 3.14 + phase[c]) for c in range(3)
        ]
        Image.fromarray(np.stack(rgb, -1).clip(0, 255).astype(np.uint8)).save(
            folder / f"photo{i:03d}.png"
        )


def timed_run(argv: list[str], out: Path) -> dict[str, float]:
    start_wall, start = time.time(), time.perf_counter()
    code = deepdream(argv)
    wall = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"deepdream exited {code}: {' '.join(argv)}")
    done = sorted(p.stat().st_mtime_ns / 1e9 for p in out.glob("*.dream.png"))
    n = len(done)
    interval = (done[-1] - done[0]) / (n - 1) if n > 1 else float("nan")
    return {
        "files": n,
        "wall_s": wall,
        "files_per_s": n / wall,
        "first_file_s": done[0] - start_wall,
        "warm_interval_s": interval,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--size", type=int, default=128, help="long side of each picture, px")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--octaves", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    opts = ap.parse_args()

    import ray

    with tempfile.TemporaryDirectory(prefix="dd-cluster-bench-") as tmp:
        root = Path(tmp)
        make_photos(root / "in", opts.files, opts.size)
        flags = [
            "--octaves",
            str(opts.octaves),
            "--iterations",
            str(opts.iterations),
            "--max-side",
            str(opts.size),
            "-q",
        ]
        local = timed_run(
            ["dream", str(root / "in"), "-o", str(root / "local"), *flags], root / "local"
        )
        # the same with one thread: on a loaded machine two threads that wait for each other
        # can be slower than one (Ray's CPU workers get cores // workers threads each)
        argv = ["dream", str(root / "in"), "-o", str(root / "local1"), *flags, "--threads", "1"]
        local1 = timed_run(argv, root / "local1")

        start = time.perf_counter()
        ray.init(
            num_cpus=os.cpu_count(),
            _temp_dir=str(root / "ray"),
            include_dashboard=False,
            log_to_driver=False,
            logging_level="WARNING",
        )
        ray_init = time.perf_counter() - start
        try:
            argv = ["dream", str(root / "in"), "-o", str(root / "ray-out"), *flags]
            remote = timed_run([*argv, "--ray", "--workers", str(opts.workers)], root / "ray-out")
        finally:
            ray.shutdown()

    cores = os.cpu_count()
    load = os.getloadavg()[0]
    print(f"{opts.files} files of {opts.size} px, {opts.octaves} octaves x {opts.iterations} steps")
    print(f"machine: {cores} cores, load average {load:.1f} at the end (shared: figures are noisy)")
    print(f"{'':<22}{'wall s':>8}{'files/s':>9}{'first file s':>14}{'warm s/file':>13}")
    rows = (
        ("local batch", local),
        ("local, --threads 1", local1),
        (f"ray, {opts.workers} workers", remote),
    )
    for name, r in rows:
        print(
            f"{name:<22}{r['wall_s']:>8.1f}{r['files_per_s']:>9.2f}{r['first_file_s']:>14.1f}"
            f"{r['warm_interval_s']:>13.2f}"
        )
    print(f"ray.init: {ray_init:.1f} s (not in the ray row's wall time)")
    print(
        f"warm time per file per Ray worker: {remote['warm_interval_s'] * opts.workers:.2f} s; "
        f"local batch: {local['warm_interval_s']:.2f} s"
    )
    if opts.json:
        figures = {"local": local, "local_1_thread": local1, "ray": remote}
        figures |= {"ray_init_s": ray_init, "load": load}
        opts.json.write_text(json.dumps({"options": vars(opts) | {"json": None}, **figures}))


if __name__ == "__main__":
    sys.exit(main())
