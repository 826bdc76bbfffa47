"""Ours against the peer: ``deepdream`` against the reference notebook on TensorFlow, same work.

    PYTHONPATH=src python benchmarks/peers/run.py --peer-python /path/to/tf-venv/bin/python

The same photo (the bundled sample scaled to cover each size and centre-cropped), the reference's
four InceptionV3 layers ``mixed2: 2, mixed3: 0.5, mixed4: 1, mixed5: 2``, its schedule (10
octaves of 1.2, 10 steps of 0.01, no jitter) with ``max_loss`` off on both sides, random weights
on both sides (ours: ``inception-v3``'s ``ModelSpec.random(0)`` saved to a file and passed with
``--weights``; the peer: Keras' default initialisation). Each run is a whole process: ``ours.py``
(the ``deepdream dream`` command) and ``tf_notebook.py`` (the peer, run by ``--peer-python``, an
environment with ``requirements.txt``), alternating, the first of each pair swapped every pair.
Each reports its dream's wall time, its counted steps and its peak RSS; start-up is launch to the
dream's start (imports, model built). The table gives the median of ``--repeat`` runs per side,
and the precision ours ran in (read from its output's metadata: ``auto``, the default, resolved
per model and CPU, see ``models.precision.AUTO_BF16``). Each ``--ours-args`` is a set of rows;
by default two: the default precision, and ``--precision fp32`` beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LAYERS = {"mixed2": 2.0, "mixed3": 0.5, "mixed4": 1.0, "mixed5": 2.0}
SCHEDULE = {"octaves": 10, "octave-scale": 1.2, "iterations": 10, "step": 0.01}
SIZES = [(1024, 575), (768, 432)]


def write_inputs(tmp: Path, sizes: list[tuple[int, int]]) -> tuple[dict, Path]:
    """The photos (PNG, one per size) and our random inception-v3 weights file."""
    sys.path[:0] = [str(ROOT / "src"), str(ROOT / "benchmarks")]
    import torch
    from PIL import Image
    from run import sample_pixels  # benchmarks/run.py: the suite's photo

    from inceptionism.models import get_spec

    photos = {}
    for w, h in sizes:
        photos[(w, h)] = tmp / f"photo-{w}x{h}.png"
        Image.fromarray(sample_pixels((w, h)).astype("uint8")).save(photos[(w, h)])
    weights = tmp / "inception-v3-random.pth"
    torch.save(get_spec("inception-v3").random(0).net.state_dict(), weights)
    return photos, weights


def ours_command(
    photo: Path, out: Path, weights: Path, threads: int | None, octaves: int, iterations: int
) -> list[str]:
    layers = [a for n, w in LAYERS.items() for a in ("--layer", f"{n}={w}")]
    cmd = [sys.executable, str(HERE / "ours.py"), str(photo), "-o", str(out)]
    cmd += ["--model", "inception-v3", "--weights", str(weights), *layers, "--preset", "seed"]
    cmd += ["--octaves", str(octaves), "--octave-scale", str(SCHEDULE["octave-scale"])]
    cmd += ["--iterations", str(iterations), "--step", str(SCHEDULE["step"])]
    cmd += ["--max-loss", "inf", "--jitter", "0", "--quiet"]
    return cmd + (["--threads", str(threads)] if threads else [])


def peer_command(
    python: str, photo: Path, out: Path, threads: int | None, octaves: int, iterations: int
) -> list[str]:
    cmd = [python, str(HERE / "tf_notebook.py"), str(photo), "--output", str(out)]
    cmd += ["--octaves", str(octaves), "--iterations", str(iterations)]
    return cmd + (["--threads", str(threads)] if threads else [])


def run_one(cmd: list[str], timeout: float) -> dict[str, Any]:
    """One whole process; its JSON line, with ``startup_s`` (launch to the dream's start)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    launched = time.time()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        raise RuntimeError(f"{cmd[1]} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    got = json.loads(lines[-1])
    got["startup_s"] = got["ready_at"] - launched
    got["process_s"] = time.time() - launched
    return got


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    mid = sorted(runs, key=lambda r: r["wall_s"])[(len(runs) - 1) // 2]
    return {
        **mid,
        "walls_s": [r["wall_s"] for r in runs],
        "startup_s": statistics.median(r["startup_s"] for r in runs),
        "rss_peak_mb": max(r["rss_peak_mb"] for r in runs),
    }


HEADER = (
    "| size | threads | ours' extra flags | ours' precision | steps ours / peer | ours s "
    "| peer s | speed-up "
    "| peak RSS MB ours / peer "
    "| start-up s ours / peer |"
)


def table(rows: list[dict[str, Any]]) -> str:
    lines = [HEADER, "|" + "---|" * 10]
    for r in rows:
        o, p = r["ours"], r["peer"]
        lines.append(
            f"| {r['size']} | {r['threads']} | {r['ours_args'] or '(none)'} "
            f"| {o.get('precision', '?')} | {o['steps']} / {p['steps']} | {o['wall_s']:.2f} "
            f"| {p['wall_s']:.2f} | **{p['wall_s'] / o['wall_s']:.2f}x** "
            f"| {o['rss_peak_mb']:.0f} / {p['rss_peak_mb']:.0f} "
            f"| {o['startup_s']:.1f} / {p['startup_s']:.1f} |"
        )
    return "\n".join(lines)


def pair_row(
    args: argparse.Namespace,
    tmp: Path,
    inputs: tuple[Path, Path],
    size: tuple[int, int],
    t: int | None,
    ours_args: str,
) -> dict[str, Any]:
    """One row: ``--repeat`` pairs of whole processes at ``size`` on ``t`` threads (None: each
    side's default), ours with ``ours_args`` too, the first of each pair swapped every pair."""
    (w, h), (photo, weights) = size, inputs
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "peer": []}
    tag = abs(hash(ours_args))
    for r in range(args.repeat):
        out = {k: tmp / f"{k}-{w}x{h}-{t}-{tag}-{r}.png" for k in runs}
        cmds = {
            "ours": ours_command(photo, out["ours"], weights, t, args.octaves, args.iterations)
            + shlex.split(ours_args),
            "peer": peer_command(
                args.peer_python, photo, out["peer"], t, args.octaves, args.iterations
            ),
        }
        for side in ("ours", "peer") if r % 2 == 0 else ("peer", "ours"):
            got = run_one(cmds[side], args.timeout)
            runs[side].append(got)
            print(
                f"# {w}x{h} threads {t or 'default'} {ours_args or '(default)'} {side} {r + 1}: "
                f"{got['wall_s']:.2f} s, {got['steps']} steps, {got.get('precision', '')} "
                f"{got['rss_peak_mb']:.0f} MB, start-up {got['startup_s']:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    return {
        "size": f"{w}x{h}",
        "threads": t or "default",
        "ours_args": ours_args,
        **{k: median_run(v) for k, v in runs.items()},
        "runs": runs,
    }


def parse_size(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(w), int(h)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--peer-python",
        default=os.environ.get("PEER_PYTHON", sys.executable),
        help="Python of an environment with requirements.txt (default: $PEER_PYTHON or this one)",
    )
    p.add_argument("--sizes", default="1024x575,768x432", help="comma-separated WxH")
    p.add_argument(
        "--threads", default="default,1", help="comma-separated: 'default' (each side's own) or N"
    )
    p.add_argument("--repeat", type=int, default=3, help="pairs per row (median shown)")
    p.add_argument("--octaves", type=int, default=SCHEDULE["octaves"], help="smoke runs: fewer")
    p.add_argument("--iterations", type=int, default=SCHEDULE["iterations"])
    p.add_argument("--timeout", type=float, default=1200, help="seconds per process")
    p.add_argument("--json", metavar="PATH", help="also write every run here")
    p.add_argument(
        "--ours-args",
        action="append",
        help="extra deepdream flags for a set of rows, e.g. '--precision fp32'; repeat for more "
        "sets ('' = none; default: '' and '--precision fp32')",
    )
    args = p.parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    threads = [None if t == "default" else int(t) for t in args.threads.split(",")]
    sets = args.ours_args if args.ours_args is not None else ["", "--precision fp32"]
    command = "python benchmarks/peers/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"# {command}\n# {os.popen('uptime').read().strip()}", file=sys.stderr, flush=True)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        photos, weights = write_inputs(tmp, sizes)
        for ours_args in sets:
            for w, h in sizes:
                for t in threads:
                    rows.append(
                        pair_row(args, tmp, (photos[(w, h)], weights), (w, h), t, ours_args)
                    )
                    if args.json:  # after every row: a run cut short still leaves its rows
                        Path(args.json).write_text(json.dumps({"command": command, "rows": rows}))
    print(f"# {os.popen('uptime').read().strip()}", file=sys.stderr)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
