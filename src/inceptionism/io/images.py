"""Image input and output.

Loading turns anything a user is likely to hand us (a photo in any common format and mode, a PIL
image, a numpy array) into one shape the dreamer understands: float32 RGB in 0..255 plus an
optional uint8 alpha channel that is carried through untouched. Saving is atomic and embeds the
dream's parameters so a result can be reproduced from its file alone. Every problem a user can
cause is reported as a one-line :class:`~inceptionism.errors.DreamError` that names the file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from inceptionism.errors import DreamError

from .failures import DECODE_ERRORS, reason
from .files import (
    OUTPUT_TEMP_SUFFIX,
    check_replaceable,
    output_exists,
    remove_stale_temps,
    temp_prefix,
)
from .metadata import METADATA_KEY, find_metadata, standard_json
from .outputs import (
    SUPPORTED_OUTPUT,
    check_output_folder,
    check_output_path,
    default_output_path,
    encodable,
    output_format,
)
from .pixels import fit, from_array, from_pil, scaled_size, to_pil

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
    "standard_json",
    "to_pil",
    "write_encoded",
]


#: Refuse to decode images larger than this many pixels: a tiny file can claim a huge size
#: (a "decompression bomb") and exhaust memory long before the dream would start.
MAX_PIXELS = 100_000_000

# Raster formats we are willing to decode. A whitelist keeps odd plugins (EPS runs Ghostscript,
# for instance) away from untrusted input; MPO is how Pillow opens many camera JPEGs.
_INPUT_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "TIFF", "BMP", "DIB", "GIF", "AVIF", "PPM", "QOI")
_INPUT_NAMES = "JPEG, PNG, WebP, TIFF, BMP or GIF"


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
        rgb, alpha = from_array(source, label)
    elif isinstance(source, Image.Image):
        label = "<PIL image>"
        rgb, alpha = from_pil(_prepare_pil(source, label), label)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = str(path)
        rgb, alpha = from_pil(_read_file(path, max_side), label)
    else:
        raise DreamError(
            f"cannot load an image from a {type(source).__name__}; "
            "pass a file path, a PIL image or a numpy array"
        )
    rgb, alpha = fit(rgb, alpha, max_side)
    return _loaded(rgb, alpha, label)


def _loaded(rgb: Image.Image | np.ndarray, alpha: np.ndarray | None, label: str) -> LoadedImage:
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
        raise DreamError(f"cannot read {path}: {reason(exc)}") from None
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
        raise DreamError(f"cannot read {path}: {reason(exc)}") from None


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
    except DECODE_ERRORS as exc:
        raise DreamError(f"{label}: image is truncated or corrupt ({reason(exc)})") from None
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
            img.draft(None, scaled_size(img.size, max_side))
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
    except DECODE_ERRORS as exc:
        raise DreamError(f"{label}: image data is truncated or corrupt ({reason(exc)})") from None
    return _apply_orientation(img)


def _apply_orientation(img: Image.Image) -> Image.Image:
    """Rotate/flip as the camera's EXIF tag says, so the dream runs on the upright picture."""
    try:
        orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
        if orientation in (None, 1):
            return img
        return ImageOps.exif_transpose(img)
    except (*DECODE_ERRORS, KeyError, TypeError):
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


# --------------------------------------------------------------------------------------------
# saving


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
        check_output_folder(out)  # says it is a folder
    fmt = output_format(out)
    img, options = encodable(fmt, rgb, alpha, metadata)  # checked before touching the disk
    check_output_folder(out)
    check_replaceable(out, None, overwrite=True)  # a device node or FIFO: refused
    _atomic_save(img, out, fmt, options, overwrite)
    return out


def _atomic_save(
    img: Image.Image, out: Path, fmt: str, options: dict[str, Any], overwrite: bool = True
) -> None:
    parent = out.parent
    prefix = temp_prefix(out.name, OUTPUT_TEMP_SUFFIX, parent)
    remove_stale_temps(parent, prefix, OUTPUT_TEMP_SUFFIX)  # left by a killed run
    try:
        tmp = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, kept past the block
            mode="wb", dir=parent, prefix=prefix, suffix=OUTPUT_TEMP_SUFFIX, delete=False
        )
    except PermissionError:
        raise DreamError(f"cannot write to folder {parent}: permission denied") from None
    except OSError as exc:
        raise DreamError(f"cannot write to folder {parent}: {reason(exc)}") from None
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
        raise DreamError(f"could not write {out}: {reason(exc)}") from None
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
            raise output_exists(out) from None
        except OSError:  # no hard links here (FAT, some network shares): check, then rename
            if os.path.lexists(out):
                raise output_exists(out) from None
    check_replaceable(out, None, overwrite=True)  # not a device node or FIFO
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
# metadata


def read_metadata(path: str | os.PathLike) -> dict | None:
    """The parameters dict ``save_image`` embedded in ``path``, or None if it has none of ours.

    Reads only headers, never the pixels, so it is cheap even for large images.
    """
    p = Path(path)
    _check_input_file(p)
    with _open_binary(p) as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        img = _open_pil(fh, str(p))
        return find_metadata(img)


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
            raise DreamError(f"cannot read {p}: {reason(exc)}") from None


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
            img.draft(None, scaled_size(img.size, max_side))
        img = _decode(img, label)
    rgb, alpha = fit(*from_pil(img, label), max_side)
    return _loaded(rgb, alpha, label)


def encode_image(
    path: str | os.PathLike,
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    metadata: dict | None = None,
) -> bytes:
    """The bytes :func:`save_image` would write to ``path`` (format from its extension)."""
    fmt = output_format(Path(path))
    img, options = encodable(fmt, rgb, alpha, metadata)
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
        check_output_folder(out)  # says it is a folder
    fmt = output_format(out)
    check_output_folder(out)
    check_replaceable(out, None, overwrite=True)  # a device node or FIFO: refused
    _atomic_save(_Encoded(data), out, fmt, {}, overwrite)  # type: ignore[arg-type]
    return out
