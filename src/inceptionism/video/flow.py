"""Optical flow between input frames, and where it can be trusted.

OpenCV's DIS flow (no weights to download) on greyscale frames of at most 540 lines, scaled back
up. The dream of frame t-1 is carried onto frame t with the *backward* flow (for every pixel of
t, where it was in t-1). It cannot be trusted where something was hidden in t-1 (occlusion),
at the edges of moving objects, or where the pixel came from outside the picture; those places
are found with the forward-backward check of Ruder, Dosovitskiy and Brox (2016), the flow's
own gradient and the frame border, and the mask is softened so no seam shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inceptionism.errors import DreamError
from inceptionism.extras import require_extra
from inceptionism.options import FLOW_QUALITIES

QUALITIES = FLOW_QUALITIES  # declared with the video options
MAX_FLOW_LINES = 540  # flow is smooth: more lines cost time and add nothing to the warp
# Ruder et al. 2016, eq. 6/7 (pixel units of the full-size frame).
CONSISTENCY_RELATIVE = 0.01
CONSISTENCY_ABSOLUTE = 0.5
BOUNDARY_RELATIVE = 0.01
BOUNDARY_ABSOLUTE = 0.002
# The picture's own check (issue 20, benchmarks/video_real.py): mean RGB levels between frame
# t and frame t-1 carried by the flow, plus what a 1 px flow error makes on an edge there
# (COLOUR_SLACK x the picture's gradient, levels per px: fine fur and a see-through screen
# otherwise fail it wholesale and the dream there fades); and the radius (px per 540 lines)
# the failures are grown by. 16 / 1 / 3 took ghosting from 0.42 / 0.58 to 0.22 / 0.34 on the
# two real clips (independent frames: 0.04 / 0.03).
COLOUR_TOLERANCE = 16.0
COLOUR_SLACK = 1.0
COLOUR_RADIUS = 3.0


def _cv2():
    """OpenCV, or one line naming the extra to install."""
    return require_extra("cv2", "video", "video")


def _dis(quality: str):
    cv2 = _cv2()
    presets = {
        "fast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
        "medium": cv2.DISOPTICAL_FLOW_PRESET_FAST,
        "best": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
    }
    if quality not in presets:
        raise DreamError(f"unknown flow quality {quality!r} (choose {', '.join(QUALITIES)})")
    dis = cv2.DISOpticalFlow_create(presets[quality])
    if quality == "best":
        dis.setVariationalRefinementIterations(10)
    return dis


@dataclass
class Motion:
    """How frame t relates to frame t-1.

    ``backward``: (H, W, 2) float32, for each pixel of frame t the offset to where it was in
    frame t-1; ``mask``: (H, W) float32 in 0..1, 1 where that is reliable.
    """

    backward: np.ndarray
    mask: np.ndarray

    def warp(self, image: np.ndarray) -> np.ndarray:
        """Carry an image of frame t-1 (e.g. its dream detail) onto frame t."""
        cv2 = _cv2()
        h, w = self.backward.shape[:2]
        grid = _grid(h, w)
        mx = grid[0] + self.backward[..., 0]
        my = grid[1] + self.backward[..., 1]
        return cv2.remap(
            image, mx, my, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
        )

    @property
    def reliable(self) -> float:
        """Share of the picture the flow explains (a scene cut explains almost nothing)."""
        return float(self.mask.mean())


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return xs, ys


def _grey(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    cv2 = _cv2()
    img = rgb if rgb.dtype == np.uint8 else np.clip(rgb, 0, 255).astype(np.uint8)
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    if grey.shape[::-1] != size:
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return grey


def flow_size(h: int, w: int) -> tuple[int, int]:
    """(W, H) of the grid the flow and its checks run on: at most MAX_FLOW_LINES lines."""
    scale = min(1.0, MAX_FLOW_LINES / min(h, w))
    return max(8, round(w * scale)), max(8, round(h * scale))


def motion(prev: np.ndarray, cur: np.ndarray, quality: str = "medium") -> Motion:
    """Flow and reliability mask from input frame ``prev`` (t-1) to ``cur`` (t), RGB arrays."""
    cv2 = _cv2()
    h, w = cur.shape[:2]
    size = flow_size(h, w)
    scale = min(1.0, MAX_FLOW_LINES / min(h, w))
    sx, sy = w / size[0], h / size[1]
    a, b = _grey(prev, size), _grey(cur, size)
    dis = _dis(quality)
    fwd = dis.calc(a, b, None)  # a(x) ~ b(x + fwd)
    bwd = dis.calc(b, a, None)  # b(x) ~ a(x + bwd)
    units = np.float32([sx, sy])  # small-grid offsets -> full-size pixels
    fwd_px, bwd_px = fwd * units, bwd * units
    unreliable = _unreliable(bwd_px, fwd_px, units)
    mask = _soften(unreliable, max(1.0, 1.5 / scale))
    if size != (w, h):
        bwd_px = cv2.resize(bwd_px, (w, h), interpolation=cv2.INTER_LINEAR)
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
    return Motion(backward=np.ascontiguousarray(bwd_px), mask=np.clip(mask, 0, 1))


def colour_checked(
    m: Motion, prev: np.ndarray, cur: np.ndarray, tolerance: float = COLOUR_TOLERANCE
) -> Motion:
    """``m`` with its mask also 0 where input frame t-1, carried by the flow, does not look like
    frame t (mean RGB difference over ``tolerance`` levels after a 1 px blur, more on edges:
    ``COLOUR_SLACK``), grown a little.

    The forward-backward check passes a flow that is wrong the same way both ways (near zero on
    a head that turned, a face that rose behind a lamp); there the carried dream would stay on a
    picture that is no longer there: a ghost. The picture itself says so (Lai et al. 2018 weigh
    their training loss by the same photometric check). Frames of more lines than the flow's
    grid are checked on that grid, as the flow is (its errors are no finer), and the mask
    scaled back up: on two cores 39 ms rather than 64 at 1280x720, 35 rather than 130 at
    1920x1080 (issue 21's 720p live; frames of at most 540 lines are checked as before).
    """
    cv2 = _cv2()
    h, w = cur.shape[:2]
    size = flow_size(h, w)
    if size == (w, h):
        return Motion(m.backward, np.minimum(m.mask, _colour_mask(m, prev, cur, tolerance)))
    units = np.float32([w / size[0], h / size[1]])
    grid = Motion(cv2.resize(m.backward, size, interpolation=cv2.INTER_AREA) / units, m.mask)
    a, b = (cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in (prev, cur))
    ok = cv2.resize(_colour_mask(grid, a, b, tolerance), (w, h), interpolation=cv2.INTER_LINEAR)
    return Motion(m.backward, np.minimum(m.mask, ok))


def _colour_mask(m: Motion, prev: np.ndarray, cur: np.ndarray, tolerance: float) -> np.ndarray:
    """1 where frame t-1 carried by ``m`` looks like frame t, 0 where not (grown, softened)."""
    cv2 = _cv2()
    carried = m.warp(np.asarray(prev, np.float32))
    now = np.asarray(cur, np.float32)
    error = cv2.GaussianBlur(np.abs(carried - now).mean(-1), (0, 0), sigmaX=1.0)
    grey = cv2.GaussianBlur(now.mean(-1), (0, 0), sigmaX=1.0)
    gy, gx = np.gradient(grey)
    slack = COLOUR_SLACK * cv2.GaussianBlur(np.hypot(gx, gy), (0, 0), sigmaX=1.0)
    return _soften(error > tolerance + slack, COLOUR_RADIUS)


def _unreliable(bwd_px: np.ndarray, fwd_px: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Pixels of frame t whose backward flow fails a check (bool, on the flow's small grid).

    The flows are in full-size pixels on the small grid; ``units`` is full-size pixels per
    small-grid pixel, (x, y).
    """
    cv2 = _cv2()
    h, w = bwd_px.shape[:2]
    xs, ys = _grid(h, w)
    bx = xs + bwd_px[..., 0] / units[0]  # where each pixel of t was in t-1, on the small grid
    by = ys + bwd_px[..., 1] / units[1]
    outside = (bx < 0) | (bx > w - 1) | (by < 0) | (by > h - 1)
    # Forward flow at the place each pixel came from: it should point straight back.
    fwd_there = cv2.remap(fwd_px, bx, by, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    total = fwd_there + bwd_px
    lhs = (total**2).sum(-1)
    rhs = CONSISTENCY_RELATIVE * ((fwd_there**2).sum(-1) + (bwd_px**2).sum(-1))
    occluded = lhs >= rhs + CONSISTENCY_ABSOLUTE
    # Motion boundaries: the flow changes fast (gradients per full-size pixel).
    grad2 = np.zeros((h, w), np.float32)
    for c in range(2):
        gy, gx = np.gradient(bwd_px[..., c])
        grad2 += (gx / units[0]) ** 2 + (gy / units[1]) ** 2
    boundary = grad2 > BOUNDARY_RELATIVE * (bwd_px**2).sum(-1) + BOUNDARY_ABSOLUTE
    return occluded | boundary | outside


def _soften(unreliable: np.ndarray, radius: float) -> np.ndarray:
    """1 where reliable, 0 where not, with the bad areas grown a little and the edge blurred."""
    cv2 = _cv2()
    k = max(1, round(radius))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    grown = cv2.dilate(unreliable.astype(np.uint8), kernel)
    return 1.0 - cv2.GaussianBlur(grown.astype(np.float32), (0, 0), sigmaX=radius)
