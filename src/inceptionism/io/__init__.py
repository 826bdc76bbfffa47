"""Input and output: images (``images``, with its parts ``pixels``, ``colour``, ``metadata``,
``outputs`` and ``failures``); video comes next to it."""

from .images import (
    MAX_PIXELS,
    METADATA_KEY,
    SUPPORTED_OUTPUT,
    LoadedImage,
    check_output_path,
    decode_image,
    default_output_path,
    encode_image,
    load_image,
    read_input,
    read_metadata,
    save_image,
    to_pil,
    write_encoded,
)

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
