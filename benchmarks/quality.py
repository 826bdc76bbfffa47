"""How clean is a dream? Strength, blow-out and grain of two presets on photo-like images.

    PYTHONPATH=src python benchmarks/quality.py                  # old default against new
    PYTHONPATH=src python benchmarks/quality.py --try lap_norm=6,step=0.025 --max-side 320

For each image (the bundled sample, docs/coffee.jpg, and three photo-like pictures made here
with the flat areas real photos have: a night sky, a studio portrait, a landscape) and each
setting, it dreams once and prints:

- **strength**: the model's own objective (the config's, at its default layers) on the dream,
  divided by the same on the input. What the dream is for; 1.0 = nothing happened.
- **clipped %**: the share of pixels with a channel at 0 or 255 in the saved dream, beyond the
  input's own share. Blown-out patches.
- **flat HF**: the energy (mean square, in levels^2) of a 3x3 Laplacian of the luminance that
  the dream added where the input was flat (local standard deviation under 3 levels in a 7x7
  window). The rainbow grain in skies and backgrounds.

"old default" is the `default` preset as it was before the Laplacian normalisation went in
(kept here verbatim, so the comparison stays reproducible); "new default" is the preset now.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import inceptionism  # noqa: E402
from inceptionism.algorithm.objectives import objective_for  # noqa: E402
from inceptionism.config import DreamConfig, make_config  # noqa: E402
from inceptionism.models import DreamModel, load_model  # noqa: E402

# The `default` preset for the EfficientNet-Lite models before issue 11 (config.py at 24a6fae).
OLD_DEFAULT: dict[str, Any] = {
    "octaves": 4,
    "octave_scale": 1.4,
    "iterations": 15,
    "step": 0.02,
    "max_loss": math.inf,
    "jitter": 32,
    "clip": True,
}
FLAT_STD = 3.0  # levels: a 7x7 window this smooth in the input counts as a flat area


def _noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Smooth random field in 0..1: random values on a coarse grid, resized with bicubic."""
    small = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8))
    return np.asarray(small.resize((w, h), Image.BICUBIC), np.float32) / 255


def night_sky(rng: np.random.Generator) -> np.ndarray:
    """A rocket on its pad at dusk: a dark navy gradient sky (most of the picture), a lit body."""
    h, w = 300, 400
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    sky = (1 - t) * np.array([8, 14, 48], np.float32) + t * np.array([30, 48, 96], np.float32)
    img = Image.fromarray(np.broadcast_to(sky, (h, w, 3)).astype(np.uint8))
    d = ImageDraw.Draw(img)
    d.rectangle((185, 80, 215, 250), fill=(215, 215, 210))
    d.polygon([(185, 80), (215, 80), (200, 45)], fill=(190, 60, 40))
    d.ellipse((180, 245, 220, 290), fill=(255, 190, 90))
    d.rectangle((0, 270, w, h), fill=(20, 18, 16))
    img = img.filter(ImageFilter.GaussianBlur(1.2))
    a = np.asarray(img, np.float32) + rng.normal(0, 1.0, (h, w, 3))  # sensor noise
    return a.clip(0, 255)


def portrait(rng: np.random.Generator) -> np.ndarray:
    """A studio portrait: an even grey-beige backdrop around a face, hair and a shirt."""
    h, w = 400, 300
    x = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    y = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    vignette = 1 - 0.12 * (x**2 + y**2)
    back = vignette[..., None] * np.array([196, 184, 166], np.float32)
    img = Image.fromarray(back.astype(np.uint8))
    d = ImageDraw.Draw(img)
    d.rectangle((60, 300, 240, 400), fill=(40, 60, 110))
    d.ellipse((85, 70, 215, 230), fill=(60, 40, 30))
    d.ellipse((100, 100, 200, 250), fill=(224, 178, 150))
    for ex in (125, 160):
        d.ellipse((ex, 150, ex + 16, 160), fill=(60, 45, 40))
    d.arc((125, 190, 175, 220), 20, 160, fill=(150, 70, 70), width=3)
    img = img.filter(ImageFilter.GaussianBlur(1.5))
    return (np.asarray(img, np.float32) + rng.normal(0, 0.8, (h, w, 3))).clip(0, 255)


def landscape(rng: np.random.Generator) -> np.ndarray:
    """Clear sky over textured fields: a flat blue gradient above, grass and trees below."""
    h, w = 300, 450
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    sky = (1 - t) * np.array([70, 120, 200], np.float32) + t * np.array([170, 200, 230], np.float32)
    img = np.broadcast_to(sky, (h, w, 3)).copy()
    horizon = (150 + 20 * _noise(rng, 1, w, 6)[0]).astype(int)
    rows = np.arange(h)[:, None]
    ground = rows >= horizon[None, :]
    tex = 0.6 * _noise(rng, h, w, 40) + 0.4 * rng.random((h, w)).astype(np.float32)
    grass = np.stack([60 + 60 * tex, 100 + 70 * tex, 30 + 30 * tex], -1)
    img[ground] = grass[ground]
    return (img + rng.normal(0, 0.8, (h, w, 3))).clip(0, 255)


def images(max_side: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out = {
        "chelsea (bundled)": Image.open(ROOT / "src/inceptionism/data/chelsea.png"),
        "coffee (docs/coffee.jpg)": Image.open(ROOT / "docs/coffee.jpg"),
        "night sky (made)": Image.fromarray(night_sky(rng).round().astype(np.uint8)),
        "portrait (made)": Image.fromarray(portrait(rng).round().astype(np.uint8)),
        "landscape (made)": Image.fromarray(landscape(rng).round().astype(np.uint8)),
    }
    arrays = {}
    for name, im in out.items():
        im = im.convert("RGB")
        im.thumbnail((max_side, max_side), Image.LANCZOS)
        arrays[name] = np.asarray(im).astype(np.float32)
    return arrays


def objective_value(model: DreamModel, config: DreamConfig, rgb: np.ndarray) -> float:
    fast = model.fast()
    objective = objective_for(config, fast)
    px = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        return float(objective(fast.activations(fast.preprocess(px), objective.layers)))


def clipped_share(rgb: np.ndarray) -> float:
    return float(((rgb <= 0) | (rgb >= 255)).any(-1).mean())


def _luma(rgb: np.ndarray) -> torch.Tensor:
    y = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    return torch.from_numpy(np.ascontiguousarray(y, np.float32))[None, None]


def flat_mask(rgb: np.ndarray) -> torch.Tensor:
    y = _luma(rgb)
    mean = F.avg_pool2d(y, 7, 1, 3, count_include_pad=False)
    var = F.avg_pool2d(y * y, 7, 1, 3, count_include_pad=False) - mean**2
    return var.clamp_min(0).sqrt()[0, 0] < FLAT_STD


def laplacian_energy(rgb: np.ndarray) -> torch.Tensor:
    k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])[None, None]
    y = F.pad(_luma(rgb), (1, 1, 1, 1), mode="replicate")
    return F.conv2d(y, k)[0, 0] ** 2


def flat_hf_added(before: np.ndarray, after: np.ndarray) -> float:
    mask = flat_mask(before)
    if not mask.any():
        return float("nan")
    return float((laplacian_energy(after) - laplacian_energy(before))[mask].mean())


def measure(model: DreamModel, config: DreamConfig, rgb: np.ndarray) -> dict[str, float]:
    t = time.perf_counter()
    out = np.asarray(inceptionism.dream(rgb, config, model=model, device="cpu"), np.float32)
    seconds = time.perf_counter() - t
    return {
        "strength": objective_value(model, config, out) / objective_value(model, config, rgb),
        "clipped": 100 * max(0.0, clipped_share(out) - clipped_share(rgb)),
        "flat_hf": flat_hf_added(rgb, out),
        "flat_share": 100 * float(flat_mask(rgb).float().mean()),
        "seconds": seconds,
    }


def parse_try(text: str) -> dict[str, Any]:
    """``key=value,...`` overrides of the new default (numbers, true/false, inf)."""
    out: dict[str, Any] = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        v: Any = value
        if value in ("true", "false"):
            v = value == "true"
        else:
            try:
                v = int(value)
            except ValueError:
                v = float(value)
        out[key.strip().replace("-", "_")] = v
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="efficientnet-lite0")
    p.add_argument("--max-side", type=int, default=400, help="images shrunk to this (px)")
    p.add_argument(
        "--try",
        dest="tries",
        action="append",
        default=[],
        metavar="K=V,...",
        help="another setting to measure: overrides of the new default (repeatable)",
    )
    p.add_argument("--only", default="", help="only the images whose name contains this")
    args = p.parse_args(argv)
    torch.manual_seed(0)
    model = load_model(args.model)
    settings = {
        "old default": make_config(None, model=args.model, **OLD_DEFAULT),
        "new default": make_config("default", model=args.model),
    }
    for text in args.tries:
        settings[f"try {text}"] = make_config("default", model=args.model, **parse_try(text))
    for name, cfg in settings.items():
        print(f"# {name}: {preset_summary(cfg)}")
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for image_name, rgb in images(args.max_side).items():
        if args.only not in image_name:
            continue
        rows[image_name] = {s: measure(model, cfg, rgb) for s, cfg in settings.items()}
    print(table(rows, list(settings)))
    return 0


def preset_summary(cfg: DreamConfig) -> str:
    keys = ("octaves", "octave_scale", "iterations", "step", "jitter", "smooth", "lap_norm")
    keys += ("clip_knee",)
    return ", ".join(f"{k} {getattr(cfg, k):g}" for k in keys) + f", clip {cfg.clip}"


def table(rows: dict[str, dict[str, dict[str, float]]], names: list[str]) -> str:
    head = "| image | flat area | setting | strength | clipped % | flat HF (levels^2) | s |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    for image_name, by_setting in rows.items():
        for s in names:
            m = by_setting[s]
            lines.append(
                f"| {image_name} | {m['flat_share']:.0f}% | {s} | {m['strength']:.2f} | "
                f"{m['clipped']:.2f} | {m['flat_hf']:.1f} | {m['seconds']:.1f} |"
            )
    old = names[0]
    lines.append("")
    lines.append(f"Mean over the images, relative to the {old}:")
    for s in names[1:]:
        strength = np.mean([r[s]["strength"] / r[old]["strength"] for r in rows.values()])
        hf = [r[s]["flat_hf"] / r[old]["flat_hf"] for r in rows.values() if r[old]["flat_hf"] > 0]
        clipped = max(r[s]["clipped"] for r in rows.values())
        lines.append(
            f"- {s}: strength {100 * strength:.0f}%, flat-area HF {100 * np.mean(hf):.0f}%, "
            f"newly clipped at most {clipped:.2f}% of the pixels"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
