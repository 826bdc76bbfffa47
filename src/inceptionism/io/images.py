"""Image input and output.

Loading turns anything a user is likely to hand us (a photo in any common format and mode, a PIL
image, a numpy array) into one shape the dreamer understands: float32 RGB in 0..255 plus an
optional uint8 alpha channel that is carried through untouched. Saving is atomic and embeds the
dream's parameters so a result can be reproduced from its file alone. Every problem a user can
cause is reported as a one-line :class:`~inceptionism.errors.DreamError` that names the file.
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import os
import re
import struct
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import ExifTags, Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from inceptionism.errors import DreamError

from . import files

__all__ = [
    "MAX_PIXELS",
    "METADATA_KEY",
    "SUPPORTED_OUTPUT",
    "LoadedImage",
    "check_output_path",
    "decode_image",
    "default_output_path",
    "encode_image",
    "load_image",
    "read_input",
    "read_metadata",
    "save_image",
    "to_pil",
    "write_encoded",
]

#: Refuse to decode images larger than this many pixels: a tiny file can claim a huge size
#: (a "decompression bomb") and exhaust memory long before the dream would start.
MAX_PIXELS = 100_000_000

#: Output extensions (lower case) and the Pillow format each one writes.
_FORMAT_BY_EXT = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
SUPPORTED_OUTPUT = set(_FORMAT_BY_EXT)

#: Formats that cannot store an alpha channel: alpha is dropped when saving to them.
_NO_ALPHA = {"JPEG", "BMP"}

#: PNG text-chunk key, and marker inside EXIF/XMP, that identify our metadata.
METADATA_KEY = "inceptionism"

# Raster formats we are willing to decode. A whitelist keeps odd plugins (EPS runs Ghostscript,
# for instance) away from untrusted input; MPO is how Pillow opens many camera JPEGs.
_INPUT_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "TIFF", "BMP", "DIB", "GIF", "AVIF", "PPM", "QOI")
_INPUT_NAMES = "JPEG, PNG, WebP, TIFF, BMP or GIF"

# Everything Pillow raises for a malformed or truncated file while parsing or decoding.
_DECODE_ERRORS = (OSError, SyntaxError, EOFError, ValueError, struct.error, zlib.error, IndexError)

_EXIF_DESCRIPTION = 0x010E  # ImageDescription
_EXIF_SOFTWARE = 0x0131  # Software
_XMP_NS = "urn:inceptionism:xmp:1.0/"
_XMP_RE = re.compile(rb"<inceptionism:params>(.*?)</inceptionism:params>", re.DOTALL)
_JPEG_SEGMENT_LIMIT = 65000  # an EXIF/XMP block must fit in one 64 KiB JPEG APP1 segment

# Decoded pixels on their way to float: an 8-bit RGB image (resized cheaply by PIL) or, for
# high-precision sources, a float32 (H, W, 3) array; plus the alpha channel, if any.
_Pixels = tuple[Image.Image | np.ndarray, np.ndarray | None]


@dataclass
class LoadedImage:
    """A decoded image in the form the dreamer works on.

    ``rgb`` is (H, W, 3) float32 in 0..255 (16-bit sources keep their extra precision as
    fractions); ``alpha`` is the (H, W) uint8 alpha channel if the source had transparency, so it
    can be re-attached to the dreamed result unchanged; ``source`` names the input in messages.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    source: str

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), the order PIL and users speak in."""
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])


# --------------------------------------------------------------------------------------------
# loading


def load_image(
    source: str | os.PathLike | Image.Image | np.ndarray, max_side: int | None = None
) -> LoadedImage:
    """Load a file, PIL image or array as float RGB (+ alpha), optionally shrunk to ``max_side``.

    Files are fully decoded here (so a truncated file fails now, not halfway through a dream),
    EXIF orientation is applied, and any colour mode becomes RGB. The input is only ever read.
    """
    max_side = _check_max_side(max_side)
    if isinstance(source, np.ndarray):
        label = "<array>"
        rgb, alpha = _from_array(source, label)
    elif isinstance(source, Image.Image):
        label = "<PIL image>"
        rgb, alpha = _from_pil(_prepare_pil(source, label), label)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = str(path)
        rgb, alpha = _from_pil(_read_file(path, max_side), label)
    else:
        raise DreamError(
            f"cannot load an image from a {type(source).__name__}; "
            "pass a file path, a PIL image or a numpy array"
        )
    rgb, alpha = _fit(rgb, alpha, max_side)
    if isinstance(rgb, Image.Image):
        rgb = np.asarray(rgb, dtype=np.float32)
    return LoadedImage(rgb=np.ascontiguousarray(rgb, dtype=np.float32), alpha=alpha, source=label)


def _check_max_side(max_side: int | None) -> int | None:
    if max_side is None:
        return None
    if isinstance(max_side, bool) or not isinstance(max_side, (int, np.integer)) or max_side < 1:
        raise DreamError(f"max_side must be a positive whole number of pixels, got {max_side!r}")
    return int(max_side)


def _check_input_file(path: Path) -> None:
    """Fail early, with a specific message, on the usual ways a path is not a readable image."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DreamError(f"input image not found: {path}") from None
    except PermissionError:
        raise DreamError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise DreamError(f"cannot read {path}: {_reason(exc)}") from None
    if path.is_dir():
        raise DreamError(f"{path} is a folder, not an image file")
    if not path.is_file():
        raise DreamError(f"{path} is not a regular file")
    if st.st_size == 0:
        raise DreamError(f"{path} is empty (0 bytes), not an image")


def _open_binary(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")  # the caller closes it with `with`
    except PermissionError:
        raise DreamError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise DreamError(f"cannot read {path}: {_reason(exc)}") from None


@lru_cache(maxsize=1)
def _input_formats() -> tuple[str, ...]:
    Image.init()
    return tuple(f for f in _INPUT_FORMATS if f in Image.OPEN)


def _open_pil(fh: BinaryIO, label: str) -> Image.Image:
    """Identify the image and read its header only; refuse bombs before any pixel is decoded."""
    try:
        img = Image.open(fh, formats=_input_formats())
    except Image.DecompressionBombError:
        raise DreamError(_bomb_message(label, None)) from None
    except UnidentifiedImageError:
        msg = f"{label} is not a supported image file (expected {_INPUT_NAMES})"
        raise DreamError(msg) from None
    except _DECODE_ERRORS as exc:
        raise DreamError(f"{label}: image is truncated or corrupt ({_reason(exc)})") from None
    _check_pixels(img.size, label)
    return img


def _read_file(path: Path, max_side: int | None) -> Image.Image:
    _check_input_file(path)
    with _open_binary(path) as fh, warnings.catch_warnings():
        # Our own MAX_PIXELS check replaces Pillow's warning; its hard error is still caught.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        img = _open_pil(fh, str(path))
        if max_side is not None and max(img.size) > max_side:
            # JPEG can decode at 1/2, 1/4 or 1/8 scale directly: much faster and lighter than
            # decoding a large photo at full size only to shrink it. Never below the target size.
            img.draft(None, _scaled_size(img.size, max_side))
        return _decode(img, str(path))


def _prepare_pil(img: Image.Image, label: str) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        _check_pixels(img.size, label)
        return _decode(img, label)


def _decode(img: Image.Image, label: str) -> Image.Image:
    """Force a full decode (truncated data must fail here) and apply EXIF orientation."""
    try:
        img.load()
    except Image.DecompressionBombError:
        raise DreamError(_bomb_message(label, img.size)) from None
    except MemoryError:
        msg = f"{label}: not enough memory to decode a {_dims(img.size)} image"
        raise DreamError(msg) from None
    except _DECODE_ERRORS as exc:
        raise DreamError(f"{label}: image data is truncated or corrupt ({_reason(exc)})") from None
    return _apply_orientation(img)


def _apply_orientation(img: Image.Image) -> Image.Image:
    """Rotate/flip as the camera's EXIF tag says, so the dream runs on the upright picture."""
    try:
        orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
        if orientation in (None, 1):
            return img
        return ImageOps.exif_transpose(img)
    except (*_DECODE_ERRORS, KeyError, TypeError):
        return img  # corrupt EXIF should not stop a picture from loading; keep it as stored


def _check_pixels(size: tuple[int, int], label: str) -> None:
    w, h = size
    if w <= 0 or h <= 0:
        raise DreamError(f"{label}: image has no pixels ({w}x{h})")
    if w * h > MAX_PIXELS:
        raise DreamError(_bomb_message(label, size))


def _bomb_message(label: str, size: tuple[int, int] | None) -> str:
    what = f"is {_dims(size)}" if size else "claims an enormous size"
    return (
        f"{label} {what}, over the {MAX_PIXELS // 1_000_000} megapixel limit "
        "(possible decompression bomb); shrink it before dreaming"
    )


def _dims(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]} ({size[0] * size[1] / 1e6:.0f} megapixels)"


_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


def _from_pil(img: Image.Image, label: str) -> _Pixels:
    """Any PIL mode -> (8-bit RGB image, or float RGB array for high-precision modes; alpha)."""
    try:
        return _convert_pil(img, label)
    except (ValueError, OSError) as exc:
        raise DreamError(
            f"{label}: cannot convert colour mode {img.mode} to RGB ({_reason(exc)})"
        ) from None


def _has_alpha(img: Image.Image) -> bool:
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info:
        return True
    palette = img.palette if img.mode == "P" else None
    return palette is not None and palette.mode.endswith("A")


def _convert_pil(img: Image.Image, label: str) -> _Pixels:
    icc = img.info.get("icc_profile")
    if img.mode in _SIXTEEN_BIT:
        raw = np.asarray(img)
        grey = np.clip(raw.astype(np.float32), 0, 65535) * np.float32(255 / 65535)
        alpha = None
        transparent = img.info.get("transparency")
        if isinstance(transparent, int):  # 16-bit PNG tRNS: one grey value means "transparent"
            alpha = np.where(raw == transparent, 0, 255).astype(np.uint8)
        return _grey_to_srgb(grey, icc), alpha
    if img.mode == "F":
        return _grey_to_srgb(_scale_float(np.asarray(img, dtype=np.float32), label), icc), None
    if img.mode == "1":
        img = img.convert("L")
    if _has_alpha(img):
        rgba = img.convert("RGBA")
        alpha = np.array(rgba.getchannel("A"), dtype=np.uint8)
        colour = img.convert("L") if img.mode in ("L", "LA") else rgba.convert("RGB")
        return _to_srgb(colour, icc), alpha
    return _to_srgb(img if img.mode in ("RGB", "L", "CMYK") else img.convert("RGB"), icc), None


def _to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
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
    if not icc or img.mode not in _ICC_SPACE:
        return None
    try:
        from PIL import ImageCms

        profile = _profile(icc)
        if profile is None or profile.profile.xcolor_space.strip() != _ICC_SPACE[img.mode]:
            return None
        if _behaves_as_srgb(icc, img.mode):
            return None  # already sRGB: converting would only add rounding
        return ImageCms.profileToProfile(img, profile, _srgb_profile(), outputMode="RGB")
    except Exception:  # any lcms/profile failure: fall back rather than refuse the picture
        return None


def _grey_to_srgb(grey: np.ndarray, icc: bytes | None) -> np.ndarray:
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
    from PIL import ImageCms

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
    from PIL import ImageCms

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
    from PIL import ImageCms

    return ImageCms.createProfile("sRGB")


def _scale_float(arr: np.ndarray, label: str) -> np.ndarray:
    """Floats with max <= 1.5 are taken as 0..1 (the usual ML convention), else as 0..255."""
    if not np.isfinite(arr).all():
        raise DreamError(f"{label}: image contains NaN or infinite values")
    scale = 255.0 if arr.size and float(arr.max()) <= 1.5 else 1.0
    return np.clip(arr.astype(np.float32) * np.float32(scale), 0, 255)


def _from_array(arr: np.ndarray, label: str) -> tuple[np.ndarray, np.ndarray | None]:
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


def _scaled_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    w, h = size
    scale = max_side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def _fit(rgb: Image.Image | np.ndarray, alpha: np.ndarray | None, max_side: int | None) -> _Pixels:
    """Shrink so the long side is at most ``max_side`` (LANCZOS); alpha is resized the same way.

    RGB and alpha are resized independently (not premultiplied) so colour under transparent
    pixels survives, matching how the alpha is re-attached unchanged after dreaming.
    """
    size = rgb.size if isinstance(rgb, Image.Image) else (rgb.shape[1], rgb.shape[0])
    if max_side is None or max(size) <= max_side:
        return rgb, alpha
    new = _scaled_size(size, max_side)
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


# --------------------------------------------------------------------------------------------
# saving


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


def save_image(
    path: str | os.PathLike,
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    metadata: dict | None = None,
    *,
    overwrite: bool = True,
) -> Path:
    """Write the image atomically (format from the extension), embedding ``metadata``.

    The file appears complete or not at all: data goes to a temporary file in the same folder,
    which replaces the target only after a successful write, so a crash or full disk never
    leaves a corrupt result or clobbers an earlier one. JPEG and BMP cannot hold alpha, so it is
    dropped there; BMP cannot hold metadata either. Never writes over anything but a regular
    file; with ``overwrite=False`` an existing file is never replaced (DreamError), even one
    that appeared while we were writing.
    """
    out = Path(path)
    if out.is_dir():
        _check_output_folder(out)  # says it is a folder
    fmt = _output_format(out)
    img = to_pil(rgb, alpha)  # validate the arrays before touching the disk
    if fmt in _NO_ALPHA and img.mode == "RGBA":
        img = img.convert("RGB")
    options = _save_options(fmt, img, _metadata_json(metadata) if metadata is not None else None)
    _check_output_folder(out)
    files.check_replaceable(out, None, overwrite=True)  # a device node or FIFO: refused
    _atomic_save(img, out, fmt, options, overwrite)
    return out


def _output_format(path: Path) -> str:
    fmt = _FORMAT_BY_EXT.get(path.suffix.lower())
    if fmt is None:
        what = f"extension {path.suffix!r}" if path.suffix else "no extension"
        raise DreamError(
            f"cannot save {path}: {what} is not supported "
            f"(use one of {', '.join(sorted(SUPPORTED_OUTPUT))})"
        )
    return fmt


def _check_output_folder(out: Path) -> Path:
    parent = out.parent
    if out.is_dir():
        raise DreamError(f"output {out} is a folder; give a file name such as {out / 'dream.png'}")
    if not parent.exists():
        raise DreamError(f"output folder {parent} does not exist (create it first)")
    if not parent.is_dir():
        raise DreamError(f"cannot save {out}: {parent} is not a folder")
    return parent


def _json_default(obj: Any) -> Any:
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"metadata value of type {type(obj).__name__} is not JSON-serialisable")


def standard_json(value: Any) -> Any:
    """``value`` with infinite floats as the strings ``"inf"``/``"-inf"``: standard JSON has no
    Infinity (Python's ``json`` writes it, most other readers refuse it). ``max_loss = inf``
    (off) is the one infinite setting; readers of the settings turn the string back."""
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, dict):
        return {k: standard_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [standard_json(v) for v in value]
    return value


def _metadata_json(metadata: dict) -> str:
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
    # ASCII-only JSON fits every container: PNG tEXt/zTXt (Latin-1), EXIF ASCII tags, XMP.
    return json.dumps(
        standard_json(metadata),
        ensure_ascii=True,
        separators=(",", ":"),
        default=_json_default,
        allow_nan=False,
    )


def _xmp_packet(text: str) -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        f'  <rdf:Description rdf:about="" xmlns:inceptionism="{_XMP_NS}">\n'
        f"   <inceptionism:params>{html.escape(text, quote=False)}</inceptionism:params>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="r"?>'
    ).encode()


def _exif_bytes(text: str) -> bytes:
    exif = Image.Exif()
    exif[_EXIF_DESCRIPTION] = json.dumps({METADATA_KEY: json.loads(text)}, separators=(",", ":"))
    exif[_EXIF_SOFTWARE] = METADATA_KEY
    return exif.tobytes()


def _save_options(fmt: str, img: Image.Image, text: str | None) -> dict[str, Any]:
    """Encoder settings per format, including where the metadata goes."""
    opts: dict[str, Any] = {}
    if fmt == "JPEG":
        # 4:4:4 chroma: dreams are full of fine, saturated colour detail that 4:2:0 would smear.
        opts.update(quality=95, subsampling=0)
    elif fmt == "WEBP":
        if img.mode == "RGBA":
            opts.update(lossless=True, exact=True)  # exact: keep RGB under transparent pixels
        else:
            opts.update(quality=95)
    elif fmt == "TIFF":
        opts.update(compression="tiff_lzw")
    if text is None or fmt == "BMP":
        return opts
    xmp = _xmp_packet(text)
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text(METADATA_KEY, text, zip=True)
        info.add_itxt("XML:com.adobe.xmp", xmp.decode(), zip=True)
        opts["pnginfo"] = info
    elif fmt == "TIFF":
        desc = json.dumps({METADATA_KEY: json.loads(text)}, separators=(",", ":"))
        opts["tiffinfo"] = {270: desc, 305: METADATA_KEY, 700: xmp}
    else:  # JPEG, WEBP
        exif = _exif_bytes(text)
        if fmt == "JPEG" and max(len(exif), len(xmp)) > _JPEG_SEGMENT_LIMIT:
            raise DreamError(
                f"dream parameters are too large to embed in a JPEG ({len(exif)} bytes); "
                "save as .png instead"
            )
        opts.update(exif=exif, xmp=xmp)
    return opts


def _atomic_save(
    img: Image.Image, out: Path, fmt: str, options: dict[str, Any], overwrite: bool = True
) -> None:
    parent = out.parent
    prefix = files.temp_prefix(out.name, files.OUTPUT_TEMP_SUFFIX, parent)
    files.remove_stale_temps(parent, prefix, files.OUTPUT_TEMP_SUFFIX)  # left by a killed run
    try:
        tmp = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, kept past the block
            mode="wb", dir=parent, prefix=prefix, suffix=files.OUTPUT_TEMP_SUFFIX, delete=False
        )
    except PermissionError:
        raise DreamError(f"cannot write to folder {parent}: permission denied") from None
    except OSError as exc:
        raise DreamError(f"cannot write to folder {parent}: {_reason(exc)}") from None
    tmp_path = Path(tmp.name)
    try:
        with tmp:
            img.save(tmp, format=fmt, **options)
            tmp.flush()
            os.fsync(tmp.fileno())
        # NamedTemporaryFile is private (0600); give the result normal permissions instead.
        with contextlib.suppress(OSError):
            os.chmod(tmp_path, _new_file_mode(out))
        _publish(tmp_path, out, overwrite)
    except OSError as exc:
        raise DreamError(f"could not write {out}: {_reason(exc)}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink()  # after a rename it is gone; after a link it is a second name


def _publish(tmp: Path, out: Path, overwrite: bool) -> None:
    """Give the finished temporary file its name: a rename, or a hard link where an existing
    file must not be replaced (the link fails if the name exists, atomically)."""
    if not overwrite:
        try:
            os.link(tmp, out)
            return
        except FileExistsError:
            raise files.output_exists(out) from None
        except OSError:  # no hard links here (FAT, some network shares): check, then rename
            if os.path.lexists(out):
                raise files.output_exists(out) from None
    files.check_replaceable(out, None, overwrite=True)  # not a device node or FIFO
    os.replace(tmp, out)


def _new_file_mode(out: Path) -> int:
    """Keep an overwritten file's permissions; otherwise what a plain open() would create."""
    with contextlib.suppress(OSError):
        return os.stat(out).st_mode & 0o7777
    return 0o666 & ~_umask()


def _umask() -> int:
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # no /proc: read it the portable way (set and restore)
    os.umask(mask)
    return mask


# --------------------------------------------------------------------------------------------
# metadata and paths


def read_metadata(path: str | os.PathLike) -> dict | None:
    """The parameters dict ``save_image`` embedded in ``path``, or None if it has none of ours.

    Reads only headers, never the pixels, so it is cheap even for large images.
    """
    p = Path(path)
    _check_input_file(p)
    with _open_binary(p) as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        img = _open_pil(fh, str(p))
        return _find_metadata(img)


def _find_metadata(img: Image.Image) -> dict | None:
    text = img.info.get(METADATA_KEY)  # PNG text chunk
    if isinstance(text, str):
        found = _parse_json(text)
        if isinstance(found, dict):
            return found
    if img.format != "PNG":  # PNG getexif() would decode the whole image; we never write it
        desc = None
        with contextlib.suppress(*_DECODE_ERRORS, KeyError, TypeError):
            desc = img.getexif().get(_EXIF_DESCRIPTION)
        found = _unwrap(_parse_json(desc))
        if found is not None:
            return found
    xmp = img.info.get("xmp") or img.info.get("XML:com.adobe.xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8", "replace")
    if isinstance(xmp, bytes) and (match := _XMP_RE.search(xmp)):
        found = _parse_json(html.unescape(match.group(1).decode("utf-8", "replace")))
        if isinstance(found, dict):
            return found
    return None


def _parse_json(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value.strip("\x00 \n"))
    except (ValueError, RecursionError):  # RecursionError: a crafted, deeply nested value
        return None


def _unwrap(value: Any) -> dict | None:
    """EXIF descriptions can be anyone's; ours is ``{"inceptionism": {...}}``."""
    if isinstance(value, dict) and isinstance(value.get(METADATA_KEY), dict):
        return value[METADATA_KEY]
    return None


def default_output_path(input_path: str | os.PathLike) -> Path:
    """``dir/photo.jpg`` -> ``dir/photo.dream.png``: beside the input, lossless, never the input."""
    p = Path(input_path)
    return p.with_name(f"{p.stem}.dream.png")


def check_output_path(
    path: str | os.PathLike,
    input_path: str | os.PathLike | None = None,
    *,
    inputs: files.RunInputs | None = None,
    overwrite: bool = True,
) -> Path:
    """Validate where the result will go *before* the slow dream runs, not after it.

    Checks that it is not a folder, the extension, that the folder exists and a file can be
    created in it (a real probe: permissions, read-only disks, name length), that the output
    would not write over the input photo (or any of ``inputs``) or over something that is not a
    regular file, and, unless ``overwrite``, that it does not exist.
    """
    out = Path(path)
    files.check_name_length(out)
    if out.is_dir():
        _check_output_folder(out)  # says it is a folder
    _output_format(out)
    parent = _check_output_folder(out)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DreamError(f"cannot write to folder {parent}: permission denied")
    if input_path is not None and _same_file(out, Path(input_path)):
        raise DreamError(
            f"output {out} is the input file; choose another output path so the original "
            "is not overwritten"
        )
    files.check_replaceable(out, inputs, overwrite)
    _probe_folder(out)
    return out


def _probe_folder(out: Path) -> None:
    """Create and remove a temporary file as the save will: fail now, not after the dream."""
    prefix = files.temp_prefix(out.name, files.OUTPUT_TEMP_SUFFIX, out.parent)
    try:
        with tempfile.NamedTemporaryFile(
            dir=out.parent, prefix=prefix, suffix=files.OUTPUT_TEMP_SUFFIX
        ):
            pass
    except PermissionError:
        raise DreamError(f"cannot write to folder {out.parent}: permission denied") from None
    except OSError as exc:
        raise DreamError(f"cannot write {out}: {_reason(exc)}") from None


def _same_file(a: Path, b: Path) -> bool:
    with contextlib.suppress(OSError):
        if a.exists() and b.exists():
            return os.path.samefile(a, b)  # also catches hard links and case-insensitive names
    try:
        return os.path.normcase(a.resolve()) == os.path.normcase(b.resolve())
    except (OSError, RuntimeError):
        return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def _reason(exc: BaseException) -> str:
    """One line, no traceback: the OS's own words where there are some."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return " ".join(text.split()) or type(exc).__name__


# --------------------------------------------------------------------------------------------
# bytes in, bytes out: a file's job can run where the file is not (a cluster worker)


def read_input(path: str | os.PathLike) -> bytes:
    """The bytes of an input image file, with the same one-line errors as :func:`load_image`
    (missing, a folder, empty, unreadable). Only ever reads."""
    p = Path(path)
    _check_input_file(p)
    with _open_binary(p) as fh:
        try:
            return fh.read()
        except OSError as exc:
            raise DreamError(f"cannot read {p}: {_reason(exc)}") from None


def decode_image(data: bytes, label: str, max_side: int | None = None) -> LoadedImage:
    """:func:`load_image` for a file's bytes (``label`` names it in messages): the same checks,
    decoding and shrinking, so the same file gives the same pixels either way."""
    max_side = _check_max_side(max_side)
    if not data:
        raise DreamError(f"{label} is empty (0 bytes), not an image")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        img = _open_pil(BytesIO(data), label)
        if max_side is not None and max(img.size) > max_side:
            img.draft(None, _scaled_size(img.size, max_side))
        img = _decode(img, label)
    rgb, alpha = _fit(*_from_pil(img, label), max_side)
    if isinstance(rgb, Image.Image):
        rgb = np.asarray(rgb, dtype=np.float32)
    return LoadedImage(rgb=np.ascontiguousarray(rgb, dtype=np.float32), alpha=alpha, source=label)


def encode_image(
    path: str | os.PathLike,
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    metadata: dict | None = None,
) -> bytes:
    """The bytes :func:`save_image` would write to ``path`` (format from its extension)."""
    fmt = _output_format(Path(path))
    img = to_pil(rgb, alpha)
    if fmt in _NO_ALPHA and img.mode == "RGBA":
        img = img.convert("RGB")
    options = _save_options(fmt, img, _metadata_json(metadata) if metadata is not None else None)
    buf = BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


class _Encoded:
    """Already-encoded file bytes that the atomic writer saves as it would save an image."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def save(self, fh: BinaryIO, format: str | None = None, **_options: Any) -> None:
        fh.write(self.data)


def write_encoded(path: str | os.PathLike, data: bytes, *, overwrite: bool = True) -> Path:
    """Write :func:`encode_image`'s bytes to ``path`` with the atomic writer of
    :func:`save_image`, under its rules: the file appears complete or not at all, only a
    regular file is ever replaced, and with ``overwrite=False`` no existing file is."""
    out = Path(path)
    if out.is_dir():
        _check_output_folder(out)  # says it is a folder
    fmt = _output_format(out)
    _check_output_folder(out)
    files.check_replaceable(out, None, overwrite=True)  # a device node or FIFO: refused
    _atomic_save(_Encoded(data), out, fmt, {}, overwrite)  # type: ignore[arg-type]
    return out
