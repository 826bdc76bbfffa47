"""Where and how a result is written: the output format from the extension, the encoder
settings, and the checks on an output path made before the slow dream runs, not after it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from inceptionism.errors import DreamError

from .failures import reason
from .files import OUTPUT_TEMP_SUFFIX, RunInputs, check_name_length, check_replaceable, temp_prefix
from .metadata import metadata_json, metadata_options
from .pixels import to_pil

#: Output extensions (lower case) and the Pillow format each one writes.
FORMAT_BY_EXT = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
SUPPORTED_OUTPUT = set(FORMAT_BY_EXT)

#: Formats that cannot store an alpha channel: alpha is dropped when saving to them.
NO_ALPHA = {"JPEG", "BMP"}


def output_format(path: Path) -> str:
    fmt = FORMAT_BY_EXT.get(path.suffix.lower())
    if fmt is None:
        what = f"extension {path.suffix!r}" if path.suffix else "no extension"
        raise DreamError(
            f"cannot save {path}: {what} is not supported "
            f"(use one of {', '.join(sorted(SUPPORTED_OUTPUT))})"
        )
    return fmt


def check_output_folder(out: Path) -> Path:
    parent = out.parent
    if out.is_dir():
        raise DreamError(f"output {out} is a folder; give a file name such as {out / 'dream.png'}")
    if not parent.exists():
        raise DreamError(f"output folder {parent} does not exist (create it first)")
    if not parent.is_dir():
        raise DreamError(f"cannot save {out}: {parent} is not a folder")
    return parent


def save_options(fmt: str, img: Image.Image, text: str | None) -> dict[str, Any]:
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
    if text is not None:
        opts.update(metadata_options(fmt, text))
    return opts


def encodable(
    fmt: str, rgb: np.ndarray, alpha: np.ndarray | None, metadata: dict | None
) -> tuple[Image.Image, dict[str, Any]]:
    """The 8-bit image to write as ``fmt`` (alpha dropped where the format cannot hold it) and
    its encoder settings with ``metadata`` embedded: what a save writes, checked up front."""
    img = to_pil(rgb, alpha)
    if fmt in NO_ALPHA and img.mode == "RGBA":
        img = img.convert("RGB")
    return img, save_options(fmt, img, metadata_json(metadata) if metadata is not None else None)


def default_output_path(input_path: str | os.PathLike) -> Path:
    """``dir/photo.jpg`` -> ``dir/photo.dream.png``: beside the input, lossless, never the input."""
    p = Path(input_path)
    return p.with_name(f"{p.stem}.dream.png")


def check_output_path(
    path: str | os.PathLike,
    input_path: str | os.PathLike | None = None,
    *,
    inputs: RunInputs | None = None,
    overwrite: bool = True,
) -> Path:
    """Validate where the result will go *before* the slow dream runs, not after it.

    Checks that it is not a folder, the extension, that the folder exists and a file can be
    created in it (a real probe: permissions, read-only disks, name length), that the output
    would not write over the input photo (or any of ``inputs``) or over something that is not a
    regular file, and, unless ``overwrite``, that it does not exist.
    """
    out = Path(path)
    check_name_length(out)
    if out.is_dir():
        check_output_folder(out)  # says it is a folder
    output_format(out)
    parent = check_output_folder(out)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DreamError(f"cannot write to folder {parent}: permission denied")
    if input_path is not None and _same_file(out, Path(input_path)):
        raise DreamError(
            f"output {out} is the input file; choose another output path so the original "
            "is not overwritten"
        )
    check_replaceable(out, inputs, overwrite)
    _probe_folder(out)
    return out


def _probe_folder(out: Path) -> None:
    """Create and remove a temporary file as the save will: fail now, not after the dream."""
    prefix = temp_prefix(out.name, OUTPUT_TEMP_SUFFIX, out.parent)
    try:
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=prefix, suffix=OUTPUT_TEMP_SUFFIX):
            pass
    except PermissionError:
        raise DreamError(f"cannot write to folder {out.parent}: permission denied") from None
    except OSError as exc:
        raise DreamError(f"cannot write {out}: {reason(exc)}") from None


def _same_file(a: Path, b: Path) -> bool:
    with contextlib.suppress(OSError):
        if a.exists() and b.exists():
            return os.path.samefile(a, b)  # also catches hard links and case-insensitive names
    try:
        return os.path.normcase(a.resolve()) == os.path.normcase(b.resolve())
    except (OSError, RuntimeError):
        return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))
