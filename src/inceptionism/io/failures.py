"""What went wrong reading or writing a file, for one-line messages: the exceptions a malformed
file makes Pillow raise, and an OS error in its own words."""

from __future__ import annotations

import struct
import zlib

# Everything Pillow raises for a malformed or truncated file while parsing or decoding.
DECODE_ERRORS = (OSError, SyntaxError, EOFError, ValueError, struct.error, zlib.error, IndexError)


def reason(exc: BaseException) -> str:
    """One line, no traceback: the OS's own words where there are some."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return " ".join(text.split()) or type(exc).__name__
