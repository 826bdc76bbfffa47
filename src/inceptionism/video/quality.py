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


def _highpass(image: np.ndarray, sigma: float) -> np.ndarray:
    """The fine texture of ``image``: itself less a Gaussian blur of it (float32)."""
    cv2 = vflow._cv2()
    img = np.asarray(image, np.float32)
    return img - cv2.GaussianBlur(img, (0, 0), sigmaX=sigma)


def fine_flicker(
    inputs: Sequence[np.ndarray],
    outputs: Sequence[np.ndarray],
    quality: str = "best",
    sigma: float = 1.5,
) -> float:
    """The warping error of the outputs' fine texture alone (finer than ``sigma`` px): the
    "boiling" of grain from frame to frame, which the full warping error dilutes in the
    picture's broad shapes."""
    fine = [_highpass(o, sigma) for o in outputs]
    return warping_error(inputs, fine, quality)


CHANGED_BELOW = 0.3  # local correlation of the input's fine structure, in place: it changed
CHANGE_WINDOW = 9  # px, the window of that correlation


def changed_in_place(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Where the picture itself is no longer what it was (bool (H, W)): the fine structure of
    ``cur`` and of ``prev`` at the same place correlate under ``CHANGED_BELOW`` over a
    ``CHANGE_WINDOW`` px window (a head moved away, something was revealed)."""
    cv2 = vflow._cv2()
    a, b = _highpass(cur, 3.0).mean(-1), _highpass(prev, 3.0).mean(-1)
    k = (CHANGE_WINDOW, CHANGE_WINDOW)
    cross, aa, bb = cv2.blur(a * b, k), cv2.blur(a * a, k), cv2.blur(b * b, k)
    return cross < CHANGED_BELOW * np.sqrt(aa * bb + 1e-6)


def ghosting(
    inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray], quality: str = "best"
) -> float:
    """How much of the last frame's dream stays where the flow fails and the picture changed:
    per frame, the correlation of the dream's detail (``out - in``) with the last frame's detail
    *left in place*, over the pixels the flow cannot explain whose own picture changed in
    place; 0 when they are dreamed afresh, near 1 for a ghost. Mean over the frames that have
    such pixels.

    Where the picture did not change in place (most of a failed flow's pixels on real footage:
    the rings it draws around a moving head cover the still background too), a dream carried
    along and one left in place are the same thing, so those pixels say nothing about ghosts
    (issue 20: counting them scored a perfect carry 0.76, above independent frames' 0.24)."""
    scores = []
    for t in range(1, len(outputs)):
        m = vflow.motion(inputs[t - 1], inputs[t], quality)
        bad = (m.mask < 0.5) & changed_in_place(inputs[t - 1], inputs[t])
        if bad.mean() < 0.001:
            continue
        now = _highpass(np.float32(outputs[t]) - np.float32(inputs[t]), 3.0)[bad].ravel()
        before = _highpass(np.float32(outputs[t - 1]) - np.float32(inputs[t - 1]), 3.0)
        old = before[bad].ravel()
        denom = float(np.sqrt((now**2).sum() * (old**2).sum()))
        scores.append(float((now * old).sum()) / denom if denom > 0 else 0.0)
    return float(np.mean(scores)) if scores else 0.0
