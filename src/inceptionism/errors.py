"""User-facing errors.

Anything a user can cause (a bad file, an unknown layer, an impossible number) is raised as
:class:`DreamError`; the CLI prints its message as one line and exits non-zero, with no traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DreamError(Exception):
    """An error caused by the user's input, with a message that says how to fix it."""


def unknown_name(kind: str, name: str, known: Iterable[str]) -> DreamError:
    """Error for an unknown model/layer/preset name: list what exists, suggest the closest."""
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listing = ", ".join(known) if len(known) <= 40 else ", ".join(known[:40]) + ", ..."
    return DreamError(f"unknown {kind} {name!r}{hint} (known: {listing})")
