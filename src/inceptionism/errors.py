"""User-facing errors.

Anything a user can cause (a bad file, an unknown layer, an impossible number) is raised as
:class:`DreamError`; the CLI prints its message as one line and exits non-zero, with no traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DreamError(Exception):
    """An error caused by the user's input, with a message that says how to fix it."""


#: The longest value an error message quotes in full; a longer one is cut (a 50 MB string read
#: from a file must not come back as a 50 MB error line).
QUOTE_LIMIT = 80


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)``, cut to about ``limit`` characters with ``...`` when longer."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit]) + "..."
    text = repr(value) if isinstance(value, str) else _short_repr(value, limit)
    return text if len(text) <= limit + 2 else text[:limit] + "..."


def _short_repr(value: object, limit: int) -> str:
    if isinstance(value, (list, tuple, dict)) and len(value) > limit:
        return f"<{type(value).__name__} of {len(value)} items>"
    try:
        return repr(value)
    except (ValueError, RecursionError):  # e.g. an int too long to print, a deep structure
        return f"<{type(value).__name__}>"


def unknown_name(kind: str, name: str, known: Iterable[str]) -> DreamError:
    """Error for an unknown model/layer/preset name: list what exists, suggest the closest."""
    known = list(known)
    # Fuzzy matching costs time and memory in the name's length: only for names a person typed.
    short = isinstance(name, str) and len(name) < 200
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5) if short else []
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listing = ", ".join(known) if len(known) <= 40 else ", ".join(known[:40]) + ", ..."
    return DreamError(f"unknown {kind} {quote(name)}{hint} (known: {listing})")
