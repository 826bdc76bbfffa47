"""benchmarks/streaks.py's measure of issue 20's streaks: long straight diagonals, new ones only."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

from streaks import diagonal_segments, new_segments


def picture(*lines: tuple[int, int, int, int]) -> np.ndarray:
    """A dark 160x200 RGB picture with bright 3 px lines drawn on it."""
    img = np.full((160, 200, 3), 20, np.uint8)
    for x0, y0, x1, y1 in lines:
        cv2.line(img, (x0, y0), (x1, y1), (230, 230, 230), 3)
    return img.astype(np.float32)


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
