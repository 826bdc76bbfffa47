"""Does a long zoom keep its colours, and keep dreaming? Saturation, clipping, strength a frame.

    PYTHONPATH=src python benchmarks/zoom_colour.py [--frames 200] [--max-side 256] [--device cpu]

Zooms into the bundled photo with the default settings (``deepdream zoom`` with ``--zoom 1.6
--rotate 4 --fps 12``, the docs' example) and prints, every ``--every`` frames and at the end:
the mean HSV saturation and the share of clipped pixels (a channel at 0 or 255), each against
frame 8's (targets: within 1.2x), the clipped share itself (target: at most 3%), and the
dream's strength as the judge (EfficientNet-Lite1, a network that did not dream) sees it: its
objective on the frame over its objective on the photo (a zoom that fades to plain falls to 1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PHOTO = ROOT / "src" / "inceptionism" / "data" / "chelsea.png"


def saturation(rgb: np.ndarray) -> float:
    """Mean HSV saturation, 0..1."""
    f = rgb.astype(np.float32)
    hi, lo = f.max(-1), f.min(-1)
    return float(np.where(hi > 0, (hi - lo) / np.maximum(hi, 1e-6), 0).mean())


def clipped(rgb: np.ndarray) -> float:
    """Share of pixels with a channel at 0 or 255."""
    return float(((rgb <= 0) | (rgb >= 255)).any(-1).mean())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--max-side", type=int, default=256)
    p.add_argument("--every", type=int, default=16)
    p.add_argument("--device", default="cpu")
    p.add_argument("--save", metavar="DIR", help="save every --every'th frame as PNG")
    args = p.parse_args(argv)

    from PIL import Image

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from video_real import Judge

    from inceptionism import zoom_frames
    from inceptionism.io import load_image

    judge = Judge()
    photo = load_image(PHOTO, max_side=args.max_side).rgb
    base = judge._value(photo)
    print(f"photo: saturation {saturation(photo):.3f}, clipped {100 * clipped(photo):.1f}%")
    print("| frame | saturation | x frame 8 | clipped % | x frame 8 | judged strength |")
    print("|---:|---:|---:|---:|---:|---:|")
    ref = None
    worst = {"sat": 0.0, "clip": 0.0, "clipped": 0.0, "low": np.inf}
    stream = zoom_frames(
        PHOTO, frames=args.frames, fps=12, zoom=1.6, rotate=4, max_side=args.max_side,
        device=args.device,
    )  # fmt: skip
    for i, rgb in enumerate(stream):
        s, c = saturation(rgb), clipped(rgb)
        if i == 8:
            ref = (s, max(c, 1e-4))
        if ref is not None:
            worst["sat"] = max(worst["sat"], s / ref[0])
            worst["clip"] = max(worst["clip"], c / ref[1])
            worst["clipped"] = max(worst["clipped"], c)
        if i % args.every == 0 or i == 8 or i == args.frames - 1:
            lift = judge._value(rgb) / base
            if i >= 8:
                worst["low"] = min(worst["low"], lift)
            rs = f"{s / ref[0]:.2f}" if ref else "-"
            rc = f"{c / ref[1]:.2f}" if ref else "-"
            print(f"| {i} | {s:.3f} | {rs} | {100 * c:.1f} | {rc} | {lift:.2f} |", flush=True)
            if args.save:
                Path(args.save).mkdir(parents=True, exist_ok=True)
                Image.fromarray(rgb).save(Path(args.save) / f"zoom_{i:03d}.png")
    print(
        f"worst after frame 8: saturation {worst['sat']:.2f}x frame 8's, clipped share "
        f"{worst['clip']:.2f}x, {100 * worst['clipped']:.1f}% clipped; lowest judged strength "
        f"{worst['low']:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
