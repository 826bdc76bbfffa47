"""Pixels: any PIL mode or numpy array as float RGB in 0..255 plus an optional uint8 alpha
channel, shrunk to a size, and back to an 8-bit PIL image for saving."""

from __future__ import annotations

import numpy as np
from PIL import Image

from inceptionism.errors import DreamError

from .colour import grey_to_srgb, to_srgb
from .failures import reason

# Decoded pixels on their way to float: an 8-bit RGB image (resized cheaply by PIL) or, for
# high-precision sources, a float32 (H, W, 3) array; plus the alpha channel, if any.
Pixels = tuple[Image.Image | np.ndarray, np.ndarray | None]

_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


def from_pil(img: Image.Image, label: str) -> Pixels:
    """Any PIL mode -> (8-bit RGB image, or float RGB array for high-precision modes; alpha)."""
    try:
        return _convert_pil(img, label)
    except (ValueError, OSError) as exc:
        raise DreamError(
            f"{label}: cannot convert colour mode {img.mode} to RGB ({reason(exc)})"
        ) from None


def _has_alpha(img: Image.Image) -> bool:
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info:
        return True
    palette = img.palette if img.mode == "P" else None
    return palette is not None and palette.mode.endswith("A")


def _convert_pil(img: Image.Image, label: str) -> Pixels:
    icc = img.info.get("icc_profile")
    if img.mode in _SIXTEEN_BIT:
        raw = np.asarray(img)
        grey = np.clip(raw.astype(np.float32), 0, 65535) * np.float32(255 / 65535)
        alpha = None
        transparent = img.info.get("transparency")
        if isinstance(transparent, int):  # 16-bit PNG tRNS: one grey value means "transparent"
            alpha = np.where(raw == transparent, 0, 255).astype(np.uint8)
        return grey_to_srgb(grey, icc), alpha
    if img.mode == "F":
        return grey_to_srgb(_scale_float(np.asarray(img, dtype=np.float32), label), icc), None
    if img.mode == "1":
        img = img.convert("L")
    if _has_alpha(img):
        rgba = img.convert("RGBA")
        alpha = np.array(rgba.getchannel("A"), dtype=np.uint8)
        colour = img.convert("L") if img.mode in ("L", "LA") else rgba.convert("RGB")
        return to_srgb(colour, icc), alpha
    return to_srgb(img if img.mode in ("RGB", "L", "CMYK") else img.convert("RGB"), icc), None


def _scale_float(arr: np.ndarray, label: str) -> np.ndarray:
    """Floats with max <= 1.5 are taken as 0..1 (the usual ML convention), else as 0..255."""
    if not np.isfinite(arr).all():
        raise DreamError(f"{label}: image contains NaN or infinite values")
    scale = 255.0 if arr.size and float(arr.max()) <= 1.5 else 1.0
    return np.clip(arr.astype(np.float32) * np.float32(scale), 0, 255)


def from_array(arr: np.ndarray, label: str) -> tuple[np.ndarray, np.ndarray | None]:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise DreamError(f"{label}: expected an HxW, HxWx3 or HxWx4 array, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DreamError(f"{label}: image has no pixels (shape {arr.shape})")
    kind = arr.dtype.kind
    if kind == "f":
        data = _scale_float(arr, label)
    elif kind in "ui":
        if arr.dtype == np.uint16:
            data = arr.astype(np.float32) * np.float32(255 / 65535)
        else:
            if arr.dtype != np.uint8 and (arr.min() < 0 or arr.max() > 255):
                raise DreamError(
                    f"{label}: integer pixel values must lie in 0..255 "
                    f"(got {arr.min()}..{arr.max()}; use uint16 for 16-bit data)"
                )
            data = arr.astype(np.float32)
    else:
        raise DreamError(f"{label}: unsupported array dtype {arr.dtype} (use uint8 or float)")
    if data.ndim == 2:
        return np.repeat(data[..., None], 3, axis=2), None
    alpha = np.rint(data[..., 3]).astype(np.uint8) if data.shape[2] == 4 else None
    return np.array(data[..., :3], dtype=np.float32), alpha


def scaled_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    w, h = size
    scale = max_side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def fit(rgb: Image.Image | np.ndarray, alpha: np.ndarray | None, max_side: int | None) -> Pixels:
    """Shrink so the long side is at most ``max_side`` (LANCZOS); alpha is resized the same way.

    RGB and alpha are resized independently (not premultiplied) so colour under transparent
    pixels survives, matching how the alpha is re-attached unchanged after dreaming.
    """
    size = rgb.size if isinstance(rgb, Image.Image) else (rgb.shape[1], rgb.shape[0])
    if max_side is None or max(size) <= max_side:
        return rgb, alpha
    new = scaled_size(size, max_side)
    if isinstance(rgb, Image.Image):
        rgb = rgb.resize(new, Image.Resampling.LANCZOS)
    else:  # float data: resize each channel as a 32-bit float image to keep 16-bit precision
        channels = [
            np.asarray(
                Image.fromarray(np.ascontiguousarray(rgb[..., c])).resize(
                    new, Image.Resampling.LANCZOS
                )
            )
            for c in range(3)
        ]
        rgb = np.clip(np.stack(channels, axis=-1), 0, 255)
    if alpha is not None:
        alpha = np.asarray(Image.fromarray(alpha).resize(new, Image.Resampling.LANCZOS)).copy()
    return rgb, alpha


def to_pil(rgb: np.ndarray, alpha: np.ndarray | None = None) -> Image.Image:
    """Float 0..255 (H, W, 3) [+ (H, W) alpha] -> uint8 RGB/RGBA image, rounded and clipped."""
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DreamError(f"expected an (H, W, 3) RGB array, got shape {arr.shape}")
    rgb8 = _to_uint8(arr, "RGB")
    if alpha is None:
        return Image.fromarray(rgb8)
    a = np.asarray(alpha)
    if a.shape != arr.shape[:2]:
        raise DreamError(f"alpha shape {a.shape} does not match the image size {arr.shape[:2]}")
    return Image.fromarray(np.dstack([rgb8, _to_uint8(a, "alpha")]))


def _to_uint8(arr: np.ndarray, what: str) -> np.ndarray:
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype.kind not in "fiu":
        raise DreamError(f"{what} array has unsupported dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise DreamError(f"{what} array contains NaN or infinite values")
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)
