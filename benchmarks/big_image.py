"""Wall time and peak memory of ``deepdream dream`` on a big photo (default: 4000x2668).

The test photo is the bundled sample upscaled (bicubic) to the size asked for. Each row is one
dream through the real command in a fresh process, default settings unless told otherwise: peak
resident memory (VmHWM), peak GPU allocation under CUDA, and the tile the dream recorded in its
metadata (``auto`` resolved). Minutes on a 2-core CPU at 4000x2668; ``--iterations 1`` is a
quick memory check, as the peak does not depend on the number of steps.

    python benchmarks/big_image.py                   # 4000x2668, default settings, auto tile
    python benchmarks/big_image.py --tile 0 --size 1200x800 --iterations 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "inceptionism" / "data" / "chelsea.png"


def make_photo(path: Path, size: tuple[int, int]) -> None:
    Image.open(SAMPLE).convert("RGB").resize(size, Image.Resampling.BICUBIC).save(path)


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM), in MiB."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(argv: list[str]) -> None:
    """Run one dream through the CLI in this (fresh) process and report it as JSON."""
    import torch

    from inceptionism.frontends.cli import main as deepdream

    t = time.perf_counter()
    code = deepdream(["dream", *argv])
    wall = time.perf_counter() - t
    gpu = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0.0
    print(json.dumps({"code": code, "wall": wall, "rss": peak_rss_mib(), "gpu": gpu}))


def dream(src: Path, out: Path, extra: list[str]) -> dict:
    """Wall seconds, peak RSS and peak GPU memory (MiB) of one dream in a fresh process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *sys.path[1:]])}
    cmd = [sys.executable, __file__, "--child", str(src), "-o", str(out), "-q", *extra]
    done = subprocess.run(cmd, check=True, env=env, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="4000x2668", help="WxH of the test photo")
    p.add_argument("--tile", default="auto", help="--tile of the dream (auto, 0 = off, or px)")
    p.add_argument("--device", default="auto")
    p.add_argument("--iterations", help="override the preset's iterations (quick runs)")
    p.add_argument("--octaves", help="override the preset's octaves")
    if sys.argv[1:2] == ["--child"]:
        sys.path.insert(0, str(ROOT / "src"))
        return child(sys.argv[2:])
    args = p.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    extra = ["--tile", args.tile, "--device", args.device]
    if args.iterations:
        extra += ["--iterations", args.iterations]
    if args.octaves:
        extra += ["--octaves", args.octaves]
    sys.path.insert(0, str(ROOT / "src"))
    from inceptionism.io import read_metadata

    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "big.png", Path(tmp) / "big.dream.png"
        make_photo(src, (w, h))
        run = dream(src, out, extra)
        cfg = read_metadata(out)["config"]
    schedule = f"{cfg['octaves']}x{cfg['iterations']}"
    gpu = f"{run['gpu']:.0f} MiB" if run["gpu"] else "-"
    print("| size | tile | octaves x iterations | device | wall time | peak RSS | peak GPU |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| {w}x{h} | {cfg['tile'] or 'off'} ({args.tile}) | {schedule} | {args.device} "
        f"| {run['wall']:.0f} s | {run['rss']:.0f} MiB | {gpu} |"
    )


if __name__ == "__main__":
    main()
