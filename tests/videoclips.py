"""Real video files for the tests, made with PyAV: a texture moving by known pixels per frame.

The texture is smooth noise (many corners and edges at several scales), so optical flow has
something to lock onto; ``shift`` is the motion in pixels per frame, (dx, dy).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Colourful noise at several scales, uint8 (H, W, 3)."""
    import cv2

    rng = np.random.default_rng(seed)
    out = np.zeros((height, width, 3), np.float32)
    for cell, weight in ((4, 0.3), (12, 0.4), (32, 0.3)):
        small = rng.random((height // cell + 2, width // cell + 2, 3)).astype(np.float32)
        big = cv2.resize(
            small, (width + 2 * cell, height + 2 * cell), interpolation=cv2.INTER_CUBIC
        )
        out += weight * big[cell : cell + height, cell : cell + width]
    return np.clip(out * 255, 0, 255).astype(np.uint8)


def moving_frames(
    n: int, size: tuple[int, int], shift: tuple[float, float], seed: int = 0
) -> list[np.ndarray]:
    """``n`` frames (W, H = size) of one texture panned by ``shift`` px per frame (sub-pixel ok)."""
    import cv2

    w, h = size
    margin = int(np.ceil(max(abs(shift[0]), abs(shift[1])) * n)) + 4
    big = texture(h + 2 * margin, w + 2 * margin, seed)
    frames = []
    for i in range(n):
        m = np.float32([[1, 0, -margin + shift[0] * i], [0, 1, -margin + shift[1] * i]])
        frames.append(cv2.warpAffine(big, m, (w, h), flags=cv2.INTER_CUBIC))
    return frames


def write_clip(
    path: Path,
    frames: list[np.ndarray],
    rate: Fraction | int = 24,
    *,
    audio: bool = True,
    codec: str = "libx264",
    rotation: int = 0,
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
) -> Path:
    """Encode ``frames`` (and a 440 Hz AAC tone as long as them) into ``path``."""
    import av

    rate = Fraction(rate)
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=rate)
        vs.width, vs.height = (h, w) if rotation in (90, 270) else (w, h)
        vs.pix_fmt = {"gif": "rgb8", "ffv1": "yuv444p"}.get(codec, "yuv420p")
        if time_base is not None:
            vs.time_base = time_base
            vs.codec_context.time_base = time_base
        if rotation:
            vs.set_display_rotation(rotation)
        a = None
        if audio:
            a = out.add_stream("aac", rate=44100)
            a.layout = "mono"
        for i, rgb in enumerate(frames):
            stored = np.ascontiguousarray(np.rot90(rgb, -(rotation // 90))) if rotation else rgb
            f = av.VideoFrame.from_ndarray(stored, format="rgb24")
            f.pts = pts[i] if pts is not None else i
            if time_base is not None and pts is None:
                f.pts = round(i / (rate * time_base))
            if time_base is not None:
                f.time_base = time_base
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
        if a is not None:
            seconds = len(frames) / float(rate)
            samples = int(44100 * seconds)
            t = np.arange(samples) / 44100
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            for k in range(0, samples, 1024):
                af = av.AudioFrame.from_ndarray(tone[:, k : k + 1024], format="fltp", layout="mono")
                af.sample_rate = 44100
                af.pts = k
                for p in a.encode(af):
                    out.mux(p)
            for p in a.encode(None):
                out.mux(p)
    return path
