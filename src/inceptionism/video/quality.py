"""How good a dreamed clip is: temporal stability and dream strength (benchmarks and tests).

The warping error is Lai et al.'s (ECCV 2018) measure of flicker: how far each output frame is
from the previous output frame carried along the motion, where the motion (flow and occlusion
mask) comes from the *input* frames, so every method is judged by the same yardstick.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inceptionism.video import flow as vflow


def warping_errors(
    inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray], quality: str = "best"
) -> list[float]:
    """Per frame t >= 1: the masked mean of ``|out_t - warp(out_{t-1})|`` (0..255 levels)."""
    errors = []
    for t in range(1, len(outputs)):
        m = vflow.motion(inputs[t - 1], inputs[t], quality)
        carried = m.warp(np.asarray(outputs[t - 1], np.float32))
        diff = np.abs(np.asarray(outputs[t], np.float32) - carried).mean(-1)
        errors.append(float((diff * m.mask).sum() / max(m.mask.sum(), 1e-6)))
    return errors


def warping_error(
    inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray], quality: str = "best"
) -> float:
    """Mean over the clip of ``warping_errors``: lower is steadier."""
    return float(np.mean(warping_errors(inputs, outputs, quality)))


def strength(inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray]) -> float:
    """Mean ``|out_t - frame_t|``: how much dream there is (levels of 0..255)."""
    return float(
        np.mean(
            [
                np.abs(np.asarray(o, np.float32) - np.asarray(i, np.float32)).mean()
                for i, o in zip(inputs, outputs, strict=True)
            ]
        )
    )
