"""Fidelity to the reference algorithm on the real embedded model (efficientnet-lite0).

Settings as the issue asks: ``--preset seed --layer block8=1 --max-loss 1e9``, jitter 0. Short
schedules must equal a plain PyTorch transcription of the notebook pixel for pixel (PSNR >= 45
dB); the full 100-step schedule is chaotic, so it is compared by its final objective (5%).
"""

from __future__ import annotations

import pytest
import torch
from conftest import psnr, sample_array, to_pixels
from reference import deep_dream, features

from inceptionism.algorithm.engine import dream_tensor
from inceptionism.algorithm.objectives import layer_l2
from inceptionism.config import make_config

pytestmark = pytest.mark.slow


def both(lite0, octaves: int, iterations: int, long_side: int = 224, engine=None):
    """(input, the engine's dream, the reference's dream) as pixels on the CPU. The reference
    runs on ``lite0`` as loaded; the engine on ``engine`` (e.g. a GPU copy) if given."""
    engine = engine or lite0.fast("fp32")  # fidelity is float32's, whatever auto picks
    cfg = make_config(
        "seed", layers={"block8": 1.0}, max_loss=1e9, octaves=octaves, iterations=iterations
    )
    assert cfg.jitter == 0 and cfg.step == 0.01 and cfg.octave_scale == 1.2
    x = to_pixels(sample_array(long_side))
    ours = dream_tensor(engine, x.to(engine.device), cfg).cpu()
    feats = features(lite0.net, {"block8": lite0.layers["block8"]})
    ref = deep_dream(
        feats,
        {"block8": 1.0},
        lite0.preprocess(x),
        step=cfg.step,
        num_octave=octaves,
        octave_scale=cfg.octave_scale,
        iterations=iterations,
        max_loss=cfg.max_loss,
    )
    return x, ours, lite0.preprocess.invert(ref).clamp(0, 255)


def test_one_octave_of_three_steps_equals_reference(lite0):
    x, ours, ref = both(lite0, 1, 3)
    assert psnr(ours, x) < 45  # the dream did move the image
    assert psnr(ours, ref) >= 45


def test_two_octaves_of_one_step_equal_reference(lite0):
    _, ours, ref = both(lite0, 2, 1)
    assert psnr(ours, ref) >= 45


def test_full_reference_schedule_reaches_the_same_objective(lite0):
    x, ours, ref = both(lite0, 10, 10, long_side=240)
    obj = layer_l2("block8")
    with torch.no_grad():
        start, a, b = (
            obj(lite0.activations(lite0.preprocess(t), ["block8"])).item() for t in (x, ours, ref)
        )
    assert a > 2 * start
    assert a == pytest.approx(b, rel=0.05)
