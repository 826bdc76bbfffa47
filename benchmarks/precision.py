"""float32 or bfloat16 per model: what each costs a step, what each dream looks like.

    PYTHONPATH=src python benchmarks/precision.py speed                      # all models
    PYTHONPATH=src python benchmarks/precision.py speed --models inception-v3 --sizes 432x768
    PYTHONPATH=src python benchmarks/precision.py quality --photos DIR       # lite0/1/2
    PYTHONPATH=src python benchmarks/precision.py --quick                    # smoke test

Issue 22: ``--precision auto`` (the default) runs bfloat16 where the device has it natively and
it pays for that model (``models.precision.AUTO_BF16``). This script makes that table.

**speed**: per model (random weights: the same speed as the real ones; only the Lite models
have real weights offline), set up as a dream sets it up (``fast``), its default layers and
objective: seconds per gradient step in float32 and in bfloat16 at each ``--sizes`` (H x W),
the two alternating over ``--rounds`` rounds (a busy spell on a shared machine hits both
alike), median of the steps, and the ratio; then the model's whole default dream of the largest
size (its octaves' steps summed), what the speed alone says (bf16 where the largest size and the
dream are both ``BF16_MIN_SPEEDUP`` faster) and what ``auto`` picks here from the table.

**quality** (the Lite models, real weights; photos at ``--max-side``): per model and photo, the
default dream in float32 (seed 0), in bfloat16 (seed 0) and in float32 with each of ``--seeds``
(1 and 2): the seeds' changes from seed 0 are the yardstick for bfloat16's (the ascent is
chaotic: two float32 seeds are as far apart as float32 and bfloat16).

- **strength**: cross-judged as ``streaks.py`` does (the other Lite models' default objective on
  the dream over the same on the input, mean);
- **clipped %** and **flat HF** (``quality.py``): new pixels at 0 or 255, and grain added where
  the input was flat;
- **PSNR**: float32 seed 0 against bfloat16, and against each other seed.

Then per model the verdict (``quality``): bfloat16 looks the same where its mean change over the
photos lies inside the range of the float32 seeds' changes.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import inceptionism  # noqa: E402, F401  (first: the OpenMP spin setting, before torch)

# isort: split
import numpy as np  # noqa: E402
import torch  # noqa: E402
from quality import clipped_share, flat_hf_added, objective_value  # noqa: E402
from streaks import load_photos  # noqa: E402

from inceptionism import Dreamer, runtime  # noqa: E402
from inceptionism.algorithm.engine import loss_and_gradient, pyramid  # noqa: E402
from inceptionism.algorithm.objectives import objective_for  # noqa: E402
from inceptionism.algorithm.plan import make_plan  # noqa: E402
from inceptionism.config import make_config  # noqa: E402
from inceptionism.models import DreamModel, get_spec, load_model  # noqa: E402
from inceptionism.models.precision import BF16_MIN_SPEEDUP, auto_precision, native_bf16  # noqa: E402
from inceptionism.options import MODEL_NAMES  # noqa: E402

LITE = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
PRECISIONS = ("fp32", "bf16")


def step_times(
    name: str, shapes: list[tuple[int, int]], steps: int, rounds: int
) -> dict[tuple[int, int], dict[str, float]]:
    """Median seconds per gradient step of ``name``'s default objective at each of ``shapes``,
    fp32 and bf16 alternating (after one warm step each: a shape's first use sets oneDNN up)."""
    loaded = get_spec(name).random(0)
    objective = objective_for(make_config(model=name), loaded)
    models = {p: loaded.fast(p) for p in PRECISIONS}
    out = {}
    for shape in shapes:
        x = torch.rand(1, 3, *shape) * 2 - 1
        times: dict[str, list[float]] = {p: [] for p in PRECISIONS}
        for p in PRECISIONS:
            loss_and_gradient(models[p], objective, x)
        for _ in range(rounds):
            for p in PRECISIONS:
                for _ in range(steps):
                    t = time.perf_counter()
                    loss_and_gradient(models[p], objective, x)
                    times[p].append(time.perf_counter() - t)
        out[shape] = {p: statistics.median(v) for p, v in times.items()}
    return out


def dream_octaves(name: str, shape: tuple[int, int]) -> list[tuple[int, int]]:
    """The octave shapes the model's default dream of an image of ``shape`` runs."""
    loaded = get_spec(name).random(0)
    config = make_config(model=name)
    plan = make_plan(loaded, objective_for(config, loaded), precision="fp32")
    return pyramid(shape, config, plan.min_side)


def speed_row(name: str, sizes: list[tuple[int, int]], steps: int, rounds: int) -> str:
    """One model's row: per step at each size, the whole default dream of the largest (the
    sum over its octaves: they take as many steps each), the pick; see ``speed``."""
    octaves = dream_octaves(name, sizes[-1])
    t = step_times(name, sorted({*sizes, *octaves}), steps, rounds)
    cells = [
        f"{t[s]['fp32']:.3f} | {t[s]['bf16']:.3f} | {t[s]['fp32'] / t[s]['bf16']:.2f}"
        for s in sizes
    ]
    dream = {p: sum(t[s][p] for s in octaves) for p in PRECISIONS}
    ratios = [t[s]["fp32"] / t[s]["bf16"] for s in sizes] + [dream["fp32"] / dream["bf16"]]
    here = native_bf16(torch.device("cpu"))
    pick = "bf16" if here and min(ratios[1:]) >= BF16_MIN_SPEEDUP else "fp32"
    table = auto_precision(name, "cpu", here)
    return (
        f"| {name} | {' | '.join(cells)} | {len(octaves)} | {ratios[-1]:.2f} | {pick} | {table} "
        f"| {os.getloadavg()[0]:.1f} |"
    )


def speed(models: list[str], sizes: list[tuple[int, int]], steps: int, rounds: int) -> None:
    """The speed table (see the module's docstring)."""
    here = native_bf16(torch.device("cpu"))
    print(
        f"# torch {torch.__version__}, {torch.get_num_threads()} threads, native bf16: {here}, "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    cells = " | ".join(f"{h}x{w} fp32 s | bf16 s | x" for h, w in sizes)
    big = "x".join(map(str, sizes[-1]))
    print(
        f"| model | {cells} | octaves of a {big} dream | dream x | speed says | auto (table) "
        "| load |"
    )
    print("|---|" + "---|---|---|" * len(sizes) + "---|---|---|---|---|", flush=True)
    with runtime.keep_freed_memory():
        for name in models:
            print(speed_row(name, sizes, steps, rounds), flush=True)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two 0..255 images."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


def dream_saved(model: DreamModel, precision: str, seed: int, rgb: np.ndarray) -> np.ndarray:
    """The default dream of ``rgb`` as a PNG holds it (0..255 levels), at ``precision``."""
    cfg = make_config("default", model=model.name, seed=seed)
    out = Dreamer(model, cfg, device="cpu", precision=precision).dream(rgb)
    return np.asarray(out).round().clip(0, 255).astype(np.float32)


def judged(name: str, out: np.ndarray, rgb: np.ndarray, judges: dict[str, DreamModel]) -> dict:
    """Cross-judged strength (the other Lite models, mean), new clipping and flat-area grain."""
    others = []
    for judge, model in judges.items():
        if judge != name:
            cfg = make_config("default", model=judge)
            others.append(objective_value(model, cfg, out) / objective_value(model, cfg, rgb))
    return {
        "strength": float(np.mean(others)),
        "clipped": 100 * max(0.0, clipped_share(out) - clipped_share(rgb)),
        "flat_hf": flat_hf_added(rgb, out),
    }


MEASURES = ("strength", "flat_hf", "clipped")


def changes(m: dict[str, dict], label: str) -> dict[str, float]:
    """How run ``label`` differs from float32 seed 0: strength and flat-area grain in per cent
    of seed 0's, new clipping in percentage points."""
    out = {k: 100 * (m[label][k] / m["fp32"][k] - 1) for k in ("strength", "flat_hf")}
    return {**out, "clipped": m[label]["clipped"] - m["fp32"]["clipped"]}


def relative(m: dict[str, dict], seeds: list[str]) -> tuple[dict, list[dict], bool]:
    """bf16's and each other float32 seed's changes from float32 seed 0 (``changes``), and
    whether bf16 is, on this photo, no worse than every float32 seed on all three (strength at
    least the lowest, grain and clipping at most the highest: strict, see ``quality``)."""
    bf16, others = changes(m, "bf16"), [changes(m, k) for k in seeds]
    lowest = min(0.0, *(o["strength"] for o in others))
    strict = bf16["strength"] >= lowest and all(
        bf16[k] <= max(0.0, *(o[k] for o in others)) for k in ("flat_hf", "clipped")
    )
    return bf16, others, strict


def quality_row(
    name: str, rgb: np.ndarray, seeds: list[int], judges: dict[str, DreamModel]
) -> tuple[list[str], tuple[dict, list[dict]], bool]:
    """One model on one photo: the table's cells, bf16's and the other seeds' changes, and the
    strict verdict (see ``relative``)."""
    others = [f"s{n}" for n in seeds]
    runs, seconds = {}, {}
    for label, precision, seed in [("fp32", "fp32", 0), ("bf16", "bf16", 0)] + [
        (f"s{n}", "fp32", n) for n in seeds
    ]:
        t = time.perf_counter()
        runs[label] = dream_saved(judges[name], precision, seed, rgb)
        seconds[label] = time.perf_counter() - t
    m = {k: judged(name, v, rgb, judges) for k, v in runs.items()}
    bf16, seed_changes, strict = relative(m, others)
    cells = [
        f"{m['fp32']['strength']:.2f}",
        f"{bf16['strength']:+.1f}%",
        ", ".join(f"{c['strength']:+.1f}%" for c in seed_changes),
        " / ".join(f"{m[k]['clipped']:.2f}" for k in m),
        " / ".join(f"{m[k]['flat_hf']:.0f}" for k in m),
        f"{psnr(runs['fp32'], runs['bf16']):.1f}",
        ", ".join(f"{psnr(runs['fp32'], runs[k]):.1f}" for k in others),
        "yes" if strict else "no",
        f"{seconds['fp32']:.0f} / {seconds['bf16']:.0f}",
    ]
    return cells, (bf16, seed_changes), strict


def quality(models: list[str], photos: dict[str, np.ndarray], seeds: list[int]) -> None:
    """The quality table (see the module's docstring), then per model the verdict.

    bf16 looks the same where its mean change over the photos is inside the range of the
    float32 seeds' changes over all photos: strength no lower than the lowest seed's, grain and
    clipping no higher than the highest. The strict per-photo test (bf16 no worse than every
    one of a photo's few float32 seeds, on all three) is printed too, but a dream drawn from the
    same spread as three float32 ones passes it only (3/4)^3 = 42% of the time: no verdict.
    """
    judges = {m: load_model(m) for m in LITE}
    print(f"# load {os.getloadavg()[0]:.1f}; fp32 seeds {seeds} against seed 0 are the yardstick")
    print(
        "| photo | model | strength fp32 | bf16 vs fp32 | other seeds vs fp32 | clipped % fp32 / "
        "bf16 / seeds | flat HF fp32 / bf16 / seeds | PSNR fp32-bf16 dB | PSNR fp32 seeds dB "
        "| strict | s fp32 / bf16 |"
    )
    print("|---" * 11 + "|", flush=True)
    found: dict[str, list] = {name: [] for name in models}
    for photo, rgb in photos.items():
        for name in models:
            cells, (bf16, others), strict = quality_row(name, rgb, seeds, judges)
            found[name].append((bf16, others, strict))
            print(f"| {photo} | {name[13:]} | " + " | ".join(cells) + " |", flush=True)
    for name, rows in found.items():
        print(f"# {name}: {verdict_line(rows)}", flush=True)


def verdict_line(rows: list[tuple[dict, list[dict], bool]]) -> str:
    """One model's verdict over its photos (see ``quality``)."""
    parts, same = [], True
    for k in MEASURES:
        mean = float(np.mean([bf16[k] for bf16, _, _ in rows]))
        spread = [o[k] for _, others, _ in rows for o in others]
        lo, hi = min(spread), max(spread)
        same = same and (mean >= min(lo, 0.0) if k == "strength" else mean <= max(hi, 0.0))
        unit = "pp" if k == "clipped" else "%"
        parts.append(f"{k} bf16 mean {mean:+.2f}{unit} (seeds {lo:+.2f}..{hi:+.2f})")
    strict = sum(s for _, _, s in rows)
    return (
        "; ".join(parts) + f"; strict on {strict}/{len(rows)} photos; "
        f"looks the same: {'yes' if same else 'no'}"
    )


def shape_of(text: str) -> tuple[int, int]:
    h, _, w = text.partition("x")
    return int(h), int(w)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", nargs="?", choices=("speed", "quality", "both"), default="both")
    p.add_argument("--models", help="comma-separated (default: all for speed, Lite for quality)")
    p.add_argument("--sizes", default="256x256,432x768", help="H x W, comma-separated")
    p.add_argument("--steps", type=int, default=3, help="steps per round and precision")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--photos", type=Path, help="folder of real photos (quality)")
    p.add_argument("--only", default="", help="only the photos whose name contains this")
    p.add_argument("--max-side", type=int, default=512)
    p.add_argument("--seeds", default="1,2", help="float32 seeds compared with seed 0 (quality)")
    p.add_argument("--quick", action="store_true", help="tiny smoke run of both tables")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.steps, args.rounds = "72x96", 1, 1
    sizes = [shape_of(s) for s in args.sizes.split(",")]
    if args.what in ("speed", "both"):
        models = args.models.split(",") if args.models else list(MODEL_NAMES)
        speed(models[:1] if args.quick else models, sizes, args.steps, args.rounds)
    if args.what in ("quality", "both"):
        models = args.models.split(",") if args.models else list(LITE)
        if args.quick:
            photos = {"chelsea": load_photos(ROOT / "src/inceptionism/data", 128, "chelsea")}
            photos = photos["chelsea"]
        elif args.photos is None:
            p.error("quality needs --photos DIR (real photos: see benchmarks/README.md)")
        else:
            photos = load_photos(args.photos, args.max_side, args.only)
        seeds = [int(n) for n in args.seeds.split(",")]
        quality([m for m in models if m in LITE][: 1 if args.quick else None], photos, seeds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
