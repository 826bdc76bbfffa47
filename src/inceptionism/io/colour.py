"""Colour profiles: pixels in an embedded ICC profile's colour space converted to sRGB, the
space every result is saved in (without a profile), so colours do not shift."""

from __future__ import annotations

from functools import lru_cache
from io import BytesIO
from typing import Any

import numpy as np
from PIL import Image

try:
    from PIL import ImageCms
except ImportError:  # a Pillow built without LittleCMS: pixels go through unconverted
    ImageCms = None


def to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """RGB, grey or CMYK pixels -> sRGB through the embedded profile (if any), as an RGB image."""
    converted = _icc_to_srgb(img, icc)
    if converted is not None:
        return converted
    return img if img.mode == "RGB" else img.convert("RGB")


#: The ICC colour space each PIL mode's pixels are in.
_ICC_SPACE = {"RGB": "RGB", "CMYK": "CMYK", "L": "GRAY"}


def _icc_to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image | None:
    """Convert through the embedded colour profile (Display P3 phone photos, print CMYK, linear
    or wide-gamut scans, grey profiles) to sRGB; None when there is nothing to convert.

    The result is saved without a profile, i.e. read as sRGB, so skipping this would shift
    colours. The conversion is skipped only when the profile *does* what sRGB does (see
    :func:`_behaves_as_srgb`): its name proves nothing, a linear profile may be called "sRGB".
    Best effort: a missing, broken or mismatched profile falls back to Pillow's plain conversion.
    """
    if not icc or img.mode not in _ICC_SPACE or ImageCms is None:
        return None
    try:
        profile = _profile(icc)
        if profile is None or profile.profile.xcolor_space.strip() != _ICC_SPACE[img.mode]:
            return None
        if _behaves_as_srgb(icc, img.mode):
            return None  # already sRGB: converting would only add rounding
        return ImageCms.profileToProfile(img, profile, _srgb_profile(), outputMode="RGB")
    except Exception:  # any lcms/profile failure: fall back rather than refuse the picture
        return None


def grey_to_srgb(grey: np.ndarray, icc: bytes | None) -> np.ndarray:
    """High-precision grey (H, W) in 0..255 -> (H, W, 3) sRGB, through a grey ICC profile if any.

    LittleCMS through Pillow works on 8-bit grey, so the profile's tone curve is sampled at the
    256 levels and the pixels are interpolated along it: the 16-bit precision survives.
    """
    rgb = np.repeat(grey[..., None], 3, axis=2)
    ramp = Image.fromarray(np.arange(256, dtype=np.uint8)[None, :], "L")
    curve = _icc_to_srgb(ramp, icc)
    if curve is None:
        return rgb
    levels = np.arange(256, dtype=np.float32)
    table = np.asarray(curve, dtype=np.float32)[0]  # (256, 3)
    return np.stack([np.interp(grey, levels, table[:, c]) for c in range(3)], axis=-1).astype(
        np.float32
    )


def _profile(icc: bytes) -> Any:
    try:
        return ImageCms.ImageCmsProfile(BytesIO(icc))
    except Exception:  # a broken profile: treated as none
        return None


#: Test colours for :func:`_behaves_as_srgb`: every 8-bit grey and a 9x9x9 grid of colours
#: (the corners and faces of the gamut included), in one small image.
def _probe_colours() -> np.ndarray:
    steps = np.linspace(0, 255, 9).round().astype(np.uint8)
    grid = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), axis=-1).reshape(-1, 3)
    greys = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    return np.concatenate([grid, greys])[None]


@lru_cache(maxsize=32)
def _behaves_as_srgb(icc: bytes, mode: str) -> bool:
    """Whether converting through ``icc`` to sRGB leaves every test colour within one level.

    Judged by what the profile does (the sRGB, "sRGB IEC61966-2.1" and camera sRGB profiles all
    pass), never by its description: a linear-gamma profile named "sRGB" moves mid-grey by ~60
    levels and is converted.
    """
    probe = _probe_colours()
    if mode == "L":
        probe = probe[..., :1]
    elif mode != "RGB":
        return False  # CMYK numbers are not sRGB ones, whatever the profile
    src = Image.fromarray(np.ascontiguousarray(probe[..., 0] if mode == "L" else probe), mode)
    out = ImageCms.profileToProfile(src, _profile(icc), _srgb_profile(), outputMode="RGB")
    want = np.broadcast_to(probe, (*probe.shape[:2], 3)).astype(np.int16)
    return bool(np.abs(np.asarray(out, dtype=np.int16) - want).max() <= 1)


@lru_cache(maxsize=1)
def _srgb_profile() -> Any:
    return ImageCms.createProfile("sRGB")
