"""Input and output: images (``images``); video comes next to it."""

from .images import (
    MAX_PIXELS,
    METADATA_KEY,
    SUPPORTED_OUTPUT,
    LoadedImage,
    check_output_path,
    default_output_path,
    load_image,
    read_metadata,
    save_image,
    to_pil,
)

__all__ = [
    "MAX_PIXELS",
    "METADATA_KEY",
    "SUPPORTED_OUTPUT",
    "LoadedImage",
    "check_output_path",
    "default_output_path",
    "load_image",
    "read_metadata",
    "save_image",
    "to_pil",
]
