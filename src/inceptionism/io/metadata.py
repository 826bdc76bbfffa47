"""Dream parameters inside image files: written as JSON into PNG text chunks, EXIF and XMP, and
found again in any of them (other tools may strip some), reading only the file's headers."""

from __future__ import annotations

import contextlib
import html
import json
import math
import os
import re
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

from inceptionism.errors import DreamError

from .failures import DECODE_ERRORS

#: PNG text-chunk key, and marker inside EXIF/XMP, that identify our metadata.
METADATA_KEY = "inceptionism"

_EXIF_DESCRIPTION = 0x010E  # ImageDescription
_EXIF_SOFTWARE = 0x0131  # Software
_XMP_NS = "urn:inceptionism:xmp:1.0/"
_XMP_RE = re.compile(rb"<inceptionism:params>(.*?)</inceptionism:params>", re.DOTALL)
_JPEG_SEGMENT_LIMIT = 65000  # an EXIF/XMP block must fit in one 64 KiB JPEG APP1 segment


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


def metadata_json(metadata: dict) -> str:
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


def xmp_packet(text: str) -> bytes:
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


def metadata_options(fmt: str, text: str) -> dict[str, Any]:
    """Encoder settings that embed the metadata ``text`` where ``fmt`` keeps it: PNG text and
    XMP chunks, TIFF tags, EXIF and XMP in JPEG and WebP. BMP has nowhere: nothing."""
    opts: dict[str, Any] = {}
    if fmt == "BMP":
        return opts
    xmp = xmp_packet(text)
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


def find_metadata(img: Image.Image) -> dict | None:
    text = img.info.get(METADATA_KEY)  # PNG text chunk
    if isinstance(text, str):
        found = _parse_json(text)
        if isinstance(found, dict):
            return found
    if img.format != "PNG":  # PNG getexif() would decode the whole image; we never write it
        desc = None
        with contextlib.suppress(*DECODE_ERRORS, KeyError, TypeError):
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
