"""Remake the dreamed pictures in docs/ from the commands their pages show for them.

    PYTHONPATH=src python docs/make_pictures.py            # all of them
    PYTHONPATH=src python docs/make_pictures.py steer_clip # some

Each picture is the output of real ``deepdream dream`` commands (run as ``python -m
inceptionism`` in a fresh process, from the repository root, outputs in a temporary folder),
put side by side or cropped as its caption says, and saved as JPEG. So a change that gives the
documented commands other pixels is one run of this script away from honest pictures again.
``docs/coffee.jpg`` is a photo (CC0), not made here; so is ``docs/hubble_deep_field.jpg``
(the Hubble Deep Field, NASA, public domain, as scikit-image ships it; resized to 512x446).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SAMPLE = "src/inceptionism/data/chelsea.png"
GAP = 8  # white pixels between pictures set side by side
WORK = Path(tempfile.mkdtemp(prefix="pictures-"))


def dream(*words: str, source: str = SAMPLE) -> Image.Image:
    """The output of ``deepdream dream SOURCE WORDS...`` (run from the repository root)."""
    out = WORK / f"{len(list(WORK.iterdir()))}.png"
    cmd = [sys.executable, "-m", "inceptionism", "dream", source, "-o", str(out), "-q", *words]
    print("deepdream dream", source, *words, flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)
    return Image.open(out).convert("RGB")


def side_by_side(*images: Image.Image) -> Image.Image:
    w = sum(im.width for im in images) + GAP * (len(images) - 1)
    h = max(im.height for im in images)
    out = Image.new("RGB", (w, h), "white")
    x = 0
    for im in images:
        out.paste(im, (x, 0))
        x += im.width + GAP
    return out


def before_after() -> Image.Image:
    """The README's hero: the sample, and ``deepdream dream chelsea.png`` (the Quick start)."""
    return side_by_side(Image.open(ROOT / SAMPLE).convert("RGB"), dream())


def offline_models() -> Image.Image:
    return side_by_side(*(dream("--model", f"efficientnet-lite{n}") for n in range(3)))


def steer_clip() -> Image.Image:
    """The nose at full size, enlarged 2x: --no-clip (left) and the default (right)."""
    box = (174, 180, 352, 300)  # the nose and mouth of the sample

    def detail(im: Image.Image) -> Image.Image:
        crop = im.crop(box)
        return crop.resize((crop.width * 2, crop.height * 2), Image.NEAREST)

    return side_by_side(detail(dream("--no-clip")), detail(dream()))


def tiled_crop() -> Image.Image:
    """A 600x400 crop of a dream made with 256 px tiles (the sample upscaled to 900x600)."""
    big = WORK / "chelsea-900.png"
    Image.open(ROOT / SAMPLE).convert("RGB").resize((900, 600), Image.LANCZOS).save(big)
    return dream("--tile", "256", source=str(big)).crop((150, 100, 750, 500))


# The default preset before issue 11 on lite0, as flags that undo every value of lite0's entry
# now (issue 20: layers, octaves, steps, smooth, lap-norm, knee); docs/presets.md shows them.
OLD_DEFAULT = (
    "--layer", "block10", "--octaves", "4", "--octave-scale", "1.4", "--iterations", "15",
    "--step", "0.02", "--smooth", "0", "--lap-norm", "0", "--clip-knee", "0",
)  # fmt: skip


def default_old_new() -> Image.Image:
    """The default preset before issue 11 (its numbers as flags) and now, on docs/coffee.jpg."""
    old = dream(*OLD_DEFAULT, source="docs/coffee.jpg")
    return side_by_side(old, dream(source="docs/coffee.jpg"))


def dark_sky() -> Image.Image:
    """A starfield on lite0: the default (a green lawn) and ``--preserve-colors``."""
    sky = "docs/hubble_deep_field.jpg"
    return side_by_side(dream(source=sky), dream("--preserve-colors", source=sky))


PICTURES: dict[str, Callable[[], Image.Image]] = {
    "before_after": before_after,
    "offline_models": offline_models,
    "steer_channel": lambda: dream("--layer", "block10:3"),
    "steer_class": lambda: dream("--class", "goldfish", "--smooth", "2"),
    "steer_guide": lambda: dream("--guide", "docs/coffee.jpg"),
    "steer_smooth": lambda: dream("--smooth", "2"),
    "steer_preserve_colors": lambda: dream("--preserve-colors"),
    "steer_clip": steer_clip,
    "tiled_crop": tiled_crop,
    "default_old_new": default_old_new,
    "dark_sky": dark_sky,
}


def main(names: list[str]) -> int:
    for name in names or list(PICTURES):
        if name not in PICTURES:
            print(f"unknown picture {name!r}; known: {', '.join(PICTURES)}", file=sys.stderr)
            return 2
        path = DOCS / f"{name}.jpg"
        PICTURES[name]().save(path, quality=90, optimize=True)
        print(path, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
