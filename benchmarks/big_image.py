"""Time per step and peak memory of dreams on big photos (default: 4000x2668 and 6000x4000).

The test photo is the bundled sample upscaled (bicubic) to each size asked for. Each size is
dreamed in a fresh process, as ``deepdream dream`` does it (the tile resolved for the full size,
default settings unless told otherwise), and reports: the tile of each octave (smallest first), the
windows a step of the full-size octave evaluates and the seconds of one (means over that octave's
steps), also per megapixel, and the process's peak resident memory (VmHWM; under CUDA the peak GPU
allocation too). The cost per megapixel-step is what tiling changes: windows overlap, and small
windows overlap more. Sizes run back to back in one invocation, so they compare on the same
(possibly shared) machine; ``--iterations 1`` is a quick check, as neither the cost per step nor
the peak depends on the number of steps.

    python benchmarks/big_image.py --octaves 2 --iterations 1     # both sizes, one step each
    python benchmarks/big_image.py --sizes 4000x2668               # default settings, whole dream
    python benchmarks/big_image.py --tile 0 --sizes 1200x800 --iterations 2
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


def child(src: str, options: dict) -> None:
    """Dream on ``src`` in this (fresh) process as the CLI does, and report it as JSON."""
    import torch

    from inceptionism import io
    from inceptionism.algorithm import tiling
    from inceptionism.config import make_config
    from inceptionism.session import Dreamer

    steps: list[dict] = []  # one per tiled gradient: octave shape, tile, windows, start time
    real = tiling.tiled_gradient

    def watched(step_grad, x, tile, margin, align, offset, *shift):
        h, w = x.shape[-2:]
        windows = len(tiling.spans(h, tile, margin, align, offset[0])) * len(
            tiling.spans(w, tile, margin, align, offset[1])
        )
        steps.append({"shape": [h, w], "tile": tile, "windows": windows, "t": time.perf_counter()})
        return real(step_grad, x, tile, margin, align, offset, *shift)

    tiling.tiled_gradient = watched
    image = io.load_image(src)
    h, w = image.rgb.shape[:2]
    cfg = make_config("default", **{k: v for k, v in options.items() if k != "device"})
    dreamer = Dreamer(config=cfg, device=options["device"])
    cfg = dreamer.config_for((h, w))  # the tile resolved for the full size, as the CLI does
    done: list[tuple[int, float]] = []
    t0 = time.perf_counter()
    for event in dreamer.steps(image.rgb):
        done.append((event.step, time.perf_counter()))
    wall = time.perf_counter() - t0
    # the full-size steps: from the first one's tiled gradient (or the previous step) to the end
    end = done[-1][1]
    full = [s for s in steps if s["shape"] == [h, w]]
    start = full[0]["t"] if full else (done[-2][1] if len(done) > 1 else t0)
    shapes = sorted({tuple(s["shape"]) for s in steps})
    tiles = {tuple(s["shape"]): s["tile"] for s in steps}
    gpu = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0.0
    print(
        json.dumps(
            {
                "wall": wall,
                "step": (end - start) / max(1, len(full)),
                "tile": cfg.tile,
                "tiles": [tiles[s] for s in shapes],
                "windows": sum(s["windows"] for s in full) / len(full) if full else 1,
                "schedule": f"{cfg.octaves}x{cfg.iterations}",
                "rss": peak_rss_mib(),
                "gpu": gpu,
            }
        )
    )


def dream(src: Path, options: dict) -> dict:
    """One dream in a fresh process (its peak memory is its own)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *sys.path[1:]])}
    cmd = [sys.executable, __file__, "--child", str(src), json.dumps(options)]
    done = subprocess.run(cmd, check=True, env=env, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        sys.path.insert(0, str(ROOT / "src"))
        return child(sys.argv[2], json.loads(sys.argv[3]))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="4000x2668,6000x4000", help="WxH[,WxH...] of the photos")
    p.add_argument("--tile", default="auto", help="tile of the dream (auto, 0 = off, or px)")
    p.add_argument("--device", default="auto")
    p.add_argument("--iterations", type=int, help="override the preset's iterations")
    p.add_argument("--octaves", type=int, help="override the preset's octaves")
    args = p.parse_args()
    options: dict = {
        "device": args.device,
        "tile": args.tile if args.tile == "auto" else int(args.tile),
    }
    if args.iterations is not None:
        options["iterations"] = args.iterations
    if args.octaves is not None:
        options["octaves"] = args.octaves
    rows = []
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.lower().split("x"))
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "big.png"
            make_photo(src, (w, h))
            rows.append(((w, h), dream(src, options)))
    print(
        "| size | tile per octave | octaves x iterations | windows per step | s per step "
        "| s per Mpx-step | wall time | peak RSS | peak GPU |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (w, h), r in rows:
        tiles = " / ".join(str(t or "off") for t in r["tiles"]) or "off"
        gpu = f"{r['gpu']:.0f} MiB" if r["gpu"] else "-"
        print(
            f"| {w}x{h} | {tiles} ({args.tile}) | {r['schedule']} | {r['windows']:.1f} "
            f"| {r['step']:.1f} | {r['step'] / (w * h / 1e6):.2f} | {r['wall']:.0f} s "
            f"| {r['rss']:.0f} MiB | {gpu} |"
        )


if __name__ == "__main__":
    main()
