"""Straight diagonal streaks, cross-judged strength, clipping and flat-area grain per Lite model.

    PYTHONPATH=src python benchmarks/streaks.py --photos DIR          # every photo in DIR
    PYTHONPATH=src python benchmarks/streaks.py --photos DIR --models efficientnet-lite1 \\
        --try jitter=0 --try lap_norm=0 --save /tmp/dreams       # switch one thing at a time

Issue 20: the default dreams of EfficientNet-Lite1/2 drew long, straight, glowing diagonal
lines. For each photo (shrunk to ``--max-side``, 512 px by default) and each model and setting
it dreams once and prints:

- **diag**: long straight diagonal segments (OpenCV's line-segment detector, at least
  ``MIN_LENGTH`` px, 20-70 degrees off the axes) in the dream minus those in the input.
- **cross**: the dream's strength judged by the *other* offline Lite models (each one's
  objective at its default layers, the registry's, on the dream over the same on the input;
  the mean of the others). A
  network scores its own dream 1.5-2x higher, so its own objective says little.
- **own**: the model's own objective at its default layers, dream over input (for comparison).
- **clipped %** and **flat HF** as in ``quality.py``: new pixels at 0 or 255, and the grain the
  dream added where the input was flat.

Photos are real ones, not in the repository (see benchmarks/README.md for where to get them).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import types
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from quality import clipped_share, flat_hf_added, objective_value, parse_try  # noqa: E402

from inceptionism.algorithm.engine import dream_tensor  # noqa: E402
from inceptionism.config import DreamConfig, make_config  # noqa: E402
from inceptionism.models import DreamModel, load_model  # noqa: E402
from inceptionism.models.efficientnet_lite import Conv2dSame  # noqa: E402

LITE = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
MIN_LENGTH = 40.0  # px at 512 px: the streaks of issue 20 run 60-300 px
ANGLES = (20.0, 70.0)  # degrees off the horizontal axis that count as diagonal


def diagonal_segments(rgb: np.ndarray, min_length: float = MIN_LENGTH) -> np.ndarray:
    """The straight segments (x0, y0, x1, y1 rows) of at least ``min_length`` px at 20-70
    degrees that OpenCV's line-segment detector finds in the luminance of ``rgb`` (H, W, 3)."""
    grey = cv2.cvtColor(np.clip(rgb, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    lines = cv2.createLineSegmentDetector().detect(grey)[0]
    if lines is None:
        return np.zeros((0, 4), np.float32)
    lines = lines.reshape(-1, 4)
    x0, y0, x1, y1 = lines.T
    length = np.hypot(x1 - x0, y1 - y0)
    angle = np.degrees(np.arctan2(np.abs(y1 - y0), np.abs(x1 - x0)))
    return lines[(length >= min_length) & (angle >= ANGLES[0]) & (angle <= ANGLES[1])]


def new_segments(before: np.ndarray, after: np.ndarray, near: int = 6) -> int:
    """Diagonal segments of ``after`` that do not lie along one of ``before``'s (more than half
    of the segment farther than ``near`` px from every segment of the input): the ones the
    dream drew, not the photo's own edges (a launch tower's truss) redrawn."""
    mask = np.zeros(before.shape[:2], np.uint8)
    for x0, y0, x1, y1 in diagonal_segments(before):
        cv2.line(mask, (round(x0), round(y0)), (round(x1), round(y1)), 1, 2 * near + 1)
    count = 0
    for x0, y0, x1, y1 in diagonal_segments(after):
        t = np.linspace(0, 1, 32)
        xs = np.clip((x0 + t * (x1 - x0)).round().astype(int), 0, mask.shape[1] - 1)
        ys = np.clip((y0 + t * (y1 - y0)).round().astype(int), 0, mask.shape[0] - 1)
        count += mask[ys, xs].mean() < 0.5
    return int(count)


def load_photos(folder: Path, max_side: int, only: str) -> dict[str, np.ndarray]:
    """Every image in ``folder`` whose name contains ``only``, shrunk to ``max_side``."""
    out = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png") or only not in path.name:
            continue
        im = Image.open(path).convert("RGB")
        im.thumbnail((max_side, max_side), Image.LANCZOS)
        out[path.stem] = np.asarray(im).astype(np.float32)
    return out


def symmetric_padding(model: DreamModel) -> None:
    """Experiment switch ``pad=symmetric``: the stride-2 convs pad k // 2 on every side (as
    PyTorch's own EfficientNets do) instead of TF's "same" (one more after than before)."""
    for module in model.net.modules():
        if isinstance(module, Conv2dSame) and module.stride[0] == 2:
            module.padding = (module.kernel_size[0] // 2,) * 2
            module.forward = types.MethodType(torch.nn.Conv2d.forward, module)


def setting(text: str) -> tuple[dict[str, Any], bool]:
    """``--try`` text as config overrides (``layer=block12`` is ``layers={"block12": 1}``,
    ``layer=block10+block12@0.5`` a mix) and
    whether it asks for symmetric padding (``pad=symmetric``)."""
    items = [i for i in text.split(",") if i and not i.startswith(("layer=", "pad="))]
    overrides = parse_try(",".join(items))
    for item in text.split(","):
        if item.startswith("layer="):  # layer=block10+block12@0.5: a mix, weight 1 by default
            parts = (p.partition("@") for p in item[6:].split("+"))
            overrides["layers"] = {k: float(w or 1) for k, _, w in parts}
    return overrides, "pad=symmetric" in text


def dream_rgb(model: DreamModel, config: DreamConfig, rgb: np.ndarray) -> np.ndarray:
    """The saved dream (rounded to 0..255 levels, as a PNG holds it)."""
    px = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float()
    out = dream_tensor(model, px, config)[0].permute(1, 2, 0).numpy()
    return out.round().clip(0, 255).astype(np.float32)


def measure(
    name: str, config: DreamConfig, rgb: np.ndarray, judges: dict[str, DreamModel], pad: bool
) -> tuple[dict[str, float], np.ndarray]:
    t = time.perf_counter()
    dreamer = judges[name]
    if pad:
        dreamer = load_model(name)
        symmetric_padding(dreamer)
    out = dream_rgb(dreamer, config, rgb)
    seconds = time.perf_counter() - t
    ratios = {}
    for judge, model in judges.items():
        # The judge's yardstick is the network's own default layers (the registry's), not what
        # a preset dreams on: lite0's default preset adds block8 (issue 20), its judge stays.
        cfg = make_config("default", model=judge, layers=dict(model.default_layers))
        ratios[judge] = objective_value(model, cfg, out) / objective_value(model, cfg, rgb)
    others = [r for j, r in ratios.items() if j != name]
    return {
        "diag": len(diagonal_segments(out)) - len(diagonal_segments(rgb)),
        "new": new_segments(rgb, out),
        "cross": float(np.mean(others)) if others else math.nan,
        "cross_min": min(others) if others else math.nan,
        "own": ratios[name],
        "clipped": 100 * max(0.0, clipped_share(out) - clipped_share(rgb)),
        "flat_hf": flat_hf_added(rgb, out),
        "seconds": seconds,
    }, out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--photos", type=Path, required=True, help="folder of real photos")
    p.add_argument("--models", default=",".join(LITE), help="comma-separated Lite models")
    p.add_argument("--max-side", type=int, default=512)
    p.add_argument("--only", default="", help="only the photos whose name contains this")
    p.add_argument("--try", dest="tries", action="append", default=[], metavar="K=V,...")
    p.add_argument("--no-default", action="store_true", help="only the --try settings")
    p.add_argument("--save", type=Path, help="write each dream here as a PNG")
    args = p.parse_args(argv)
    torch.manual_seed(0)
    judges = {m: load_model(m) for m in LITE}
    photos = load_photos(args.photos, args.max_side, args.only)
    settings = {} if args.no_default else {"default": ({}, False)}
    settings.update({t: setting(t) for t in args.tries})
    head = "photo | model | setting | diag +segs | new diag | cross | cross min | own | clipped %"
    print(f"| {head} | flat HF | s |\n" + "|---" * 11 + "|")
    for photo, rgb in photos.items():
        for name in args.models.split(","):
            for label, (overrides, pad) in settings.items():
                cfg = make_config("default", model=name, **overrides)
                m, out = measure(name, cfg, rgb, judges, pad)
                print(
                    f"| {photo} | {name[13:]} | {label} | {m['diag']:+d} | {m['new']} | "
                    f"{m['cross']:.2f} | {m['cross_min']:.2f} | {m['own']:.2f} | "
                    f"{m['clipped']:.2f} | {m['flat_hf']:.1f} | {m['seconds']:.0f} |",
                    flush=True,
                )
                if args.save:
                    args.save.mkdir(parents=True, exist_ok=True)
                    tag = label.replace("=", "").replace(",", "_").replace(":", "").replace("@", "")
                    file = args.save / f"{photo}-{name[13:]}-{tag}.png"
                    Image.fromarray(out.astype(np.uint8)).save(file)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
