"""The Laplacian normalisation in strips (big gradients): the whole-image numbers, bit for bit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from inceptionism.algorithm import shaping
from inceptionism.algorithm.shaping import (
    lap_normalize,
    lap_split,
    lap_split_strips,
    smooth_cascade,
)

SRC = Path(__file__).resolve().parents[1] / "src"
SHAPES = [(5, 7), (8, 8), (33, 50), (64, 97), (101, 64), (120, 161)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_strips_equal_the_whole_image(monkeypatch, shape, dtype):
    grad = torch.randn(1, 3, *shape, generator=torch.Generator().manual_seed(3), dtype=dtype)
    kept = grad.clone()
    whole = lap_normalize(grad, 4)
    monkeypatch.setattr(shaping, "LAP_STRIPS_ABOVE", 0)  # every size takes the strip path
    for strip_pixels in (64, 700, 10**6):  # strips of 8 rows, of a few rows more, one strip
        monkeypatch.setattr(shaping, "STRIP_PIXELS", strip_pixels)
        assert torch.equal(lap_normalize(grad, 4), whole)
        lo, hi = lap_split(grad)
        lo_s, hi_s = lap_split_strips(grad)
        assert torch.equal(lo_s, lo) and torch.equal(hi_s, hi)
    assert torch.equal(grad, kept)  # the caller's gradient is never scaled in place


@pytest.mark.parametrize("shape", SHAPES)
def test_the_smoothing_blur_in_strips_equals_the_whole_image(monkeypatch, shape):
    """``smooth``'s Gaussians run strip by strip on big gradients: the same numbers, bit for bit."""
    grad = torch.randn(1, 3, *shape, generator=torch.Generator().manual_seed(4))
    whole = smooth_cascade(grad, 1.0)
    monkeypatch.setattr(shaping, "LAP_STRIPS_ABOVE", 0)
    for strip_pixels in (64, 700, 10**6):
        monkeypatch.setattr(shaping, "STRIP_PIXELS", strip_pixels)
        assert torch.equal(smooth_cascade(grad, 1.0), whole)


def test_small_gradients_keep_the_whole_image_path():
    """Goldens and every dream under 2 Mpx run the original code, unchanged by construction."""
    assert shaping.LAP_STRIPS_ABOVE > 1024 * 1024


@pytest.mark.slow
def test_a_4000x2668_gradient_needs_a_third_of_the_memory():
    """Peak memory (VmHWM) of one call on the full-size gradient of a 4000x2668 dream, in a
    fresh process: 1.24 GB more than the gradient when whole, about 0.47 GB in strips."""
    code = textwrap.dedent(
        """
        import sys, torch
        from inceptionism.algorithm import shaping
        def status(key):
            return next(int(v.split()[1]) for v in open("/proc/self/status") if v.startswith(key))
        grad = torch.randn(1, 3, 2668, 4000)
        before = status("VmRSS:")
        shaping.lap_normalize(grad, 4)
        print((status("VmHWM:") - before) / 1024)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(SRC)}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) < 600  # MiB above the gradient; 1237 before the strips
