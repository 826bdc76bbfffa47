"""Seams of ``deepdream video --ray``: the warping error across each seam against inside the chunks.

    PYTHONPATH=src python benchmarks/video_seams.py [--frames 48] [--size 160] [--chunks 4]
        [--runs 8:0,4:4,8:2,8:4,8:8,12:12,16:8] [--octaves 3] [--iterations 9]

Makes the clip of ``benchmarks/video.py`` (a camera panning and zooming over the bundled photo,
a disc crossing it), saves it as lossless PNG frames, dreams it once with the local
``deepdream video`` and then with ``--ray`` on a local Ray of 2 workers, cut into ``--chunks``
chunks, once per ``W:X`` in ``--runs`` (``--warm-up-frames W --crossfade-frames X``); the
outputs are PNG folders, so no encoder noise is measured.

For each run it prints the warping error (Lai et al. 2018, ``video/quality.py``: how far each
frame is from the one before carried along the input's motion) at each seam, the median of the
frame pairs inside the chunks, and their ratio (target: every seam at most 1.5x the median). A
seam's error is the worst pair it touches: with a crossfade of X frames, the X + 1 pairs from
the last unblended frame to the next chunk's first. The local row gives the same pairs of the
unsplit dream for reference. The last column is the price of a crossfade: two different dreams
mixed are fainter, so it gives the weakest blended frame's dream strength (``|out - in|``) over
the median frame's.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def read_frames(folder: Path) -> list[np.ndarray]:
    from PIL import Image

    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png"))]


def measured(inputs: list[np.ndarray], outputs: list[np.ndarray]) -> tuple[list, list]:
    """(warping error of each pair of frames, dream strength of each frame)."""
    from inceptionism.video.quality import strength, warping_errors

    strengths = [strength([a], [b]) for a, b in zip(inputs, outputs, strict=True)]
    return warping_errors(inputs, outputs), strengths


def seam_pairs(seams: list[int], crossfade: int) -> list[list[int]]:
    """For each seam (the index of a chunk's first own frame), the indices ``t`` of the pairs
    (t - 1, t) it touches: from the last unblended frame to the chunk's first."""
    return [list(range(s - crossfade, s + 1)) for s in seams]


def figures(errors: list[float], strengths: list[float], seams: list[int], crossfade: int) -> dict:
    """``errors[t - 1]`` is pair (t - 1, t)'s warping error, ``strengths[t]`` frame t's."""
    touched = seam_pairs(seams, crossfade)
    near = {t for pairs in touched for t in pairs}
    inside = [e for t, e in enumerate(errors, start=1) if t not in near]
    median = statistics.median(inside)
    at_seams = [max(errors[t - 1] for t in pairs) for pairs in touched]
    blended = {t for s in seams for t in range(s - crossfade, s)}
    usual = statistics.median(e for t, e in enumerate(strengths) if t not in blended)
    dip = min((strengths[t] for t in blended), default=usual) / usual
    return {"seams": at_seams, "median": median, "ratio": max(at_seams) / median, "dip": dip}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--size", type=int, default=160, help="frame width in px")
    p.add_argument("--chunks", type=int, default=4)
    p.add_argument(
        "--runs", default="8:0,4:4,8:2,8:4,8:8,12:12,16:8", help="W:X pairs, comma-separated"
    )
    p.add_argument("--octaves", type=int, default=3)
    p.add_argument("--iterations", type=int, default=9)
    args = p.parse_args(argv)

    import ray
    from PIL import Image
    from video import make_scene

    from inceptionism.frontends.cli import main as deepdream

    scene = make_scene(args.frames, args.size)
    h, w = scene[0].shape[:2]
    chunk = -(-len(scene) // args.chunks)
    seams = list(range(chunk, len(scene), chunk))
    runs = [tuple(int(v) for v in run.split(":")) for run in args.runs.split(",")]
    flags = ["--octaves", str(args.octaves), "--iterations", str(args.iterations)]
    flags += ["--device", "cpu", "-q"]
    print(
        f"clip: {len(scene)} frames {w}x{h} (benchmarks/video.py's pan, zoom, crossing disc); "
        f"{args.octaves} octaves x {args.iterations} steps; {len(seams) + 1} chunks of {chunk} "
        f"frames, seams before frames {', '.join(str(s) for s in seams)} (0-based)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for i, f in enumerate(scene):
            Image.fromarray(f).save(folder / f"{i:04d}.png")
        rows = []
        t0 = time.perf_counter()
        assert deepdream(["video", str(folder), "-o", f"{tmp}/local", *flags]) == 0
        outs = read_frames(Path(tmp) / "local")
        local = measured(scene, outs)
        rows.append(("local (no seams)", "", "", time.perf_counter() - t0, local, 0))
        sigterm = signal.getsignal(signal.SIGTERM)
        ray.init(num_cpus=2, _temp_dir=f"{tmp}/ray", include_dashboard=False, log_to_driver=False)
        signal.signal(signal.SIGTERM, sigterm)
        try:
            for warm_up, fade in runs:
                out = f"{tmp}/ray-{warm_up}-{fade}"
                split = ["--chunk-frames", str(chunk), "--warm-up-frames", str(warm_up)]
                split += ["--crossfade-frames", str(fade), "--ray", "--workers", "2"]
                t0 = time.perf_counter()
                assert deepdream(["video", str(folder), "-o", out, *flags, *split]) == 0
                outs = read_frames(Path(out))
                wall = time.perf_counter() - t0
                rows.append(("--ray", warm_up, fade, wall, measured(scene, outs), fade))
                print(f"  W={warm_up} X={fade}: {rows[-1][3]:.0f} s", file=sys.stderr)
        finally:
            ray.shutdown()

    print()
    names = " | ".join(f"seam {i + 1}" for i in range(len(seams)))
    print(
        f"| run | W | X | {names} | median inside | worst seam / median | wall s "
        "| weakest blend / median strength |"
    )
    print("|---|---:|---:|" + "---:|" * len(seams) + "---:|---:|---:|---:|")
    for name, warm_up, fade, wall, (errors, strengths), crossfade in rows:
        f = figures(errors, strengths, seams, crossfade)
        cells = " | ".join(f"{e:.2f}" for e in f["seams"])
        print(
            f"| {name} | {warm_up} | {fade} | {cells} | {f['median']:.2f} | {f['ratio']:.2f} "
            f"| {wall:.0f} | {f['dip']:.2f} |"
        )
    print("\ntarget: worst seam / median <= 1.5")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
