"""User-facing errors, in words any front end can show.

Anything a user can cause (a bad file, an unknown layer, an impossible number) is raised as
:class:`DreamError`: a one-line ``message`` saying what is wrong, and an optional ``hint`` saying
how to fix it. A hint names options as ``{name}`` or ``{name:VALUE}`` (the option's name in
:data:`inceptionism.options.OPTIONS`, and what to give it), and each front end spells them its
own way: the CLI as ``--weights FILE``, Python as ``weights=FILE``, a web page as its field's
label. ``str(error)`` is the Python spelling. Out-of-memory errors are recognised by their
type and translated here, once.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Iterable

#: How a front end names an option in a hint: ``spell(option_name, value)`` (value may be "").
Spelling = Callable[[str, str], str]


def python_spelling(option: str, value: str = "") -> str:
    """How a Python user names an option: the keyword of ``inceptionism.dream``."""
    if option == "class_names":  # not an option: where the names are listed
        return "inceptionism.models.classes.search()"
    return f"{option}={value}"


class _Option:
    def __init__(self, name: str, spell: Spelling) -> None:
        self.name, self.spell = name, spell

    def __format__(self, value: str) -> str:
        return self.spell(self.name, value)


class _Spelled(dict):
    def __init__(self, spell: Spelling) -> None:
        super().__init__()
        self.spell = spell

    def __missing__(self, key: str) -> _Option:
        return _Option(key, self.spell)


class DreamError(Exception):
    """An error caused by the user's input: what is wrong (``message``) and how to fix it
    (``hint``, with options written ``{name}``; see :meth:`render`)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)  # both in args: the error pickles whole (worker pools)
        self.message = message
        self.hint = hint

    def render(self, spell: Spelling = python_spelling) -> str:
        """The message and the hint in one line, each ``{option:VALUE}`` written by ``spell``."""
        if not self.hint:
            return self.message
        return f"{self.message}; {self.hint.format_map(_Spelled(spell))}"

    def __str__(self) -> str:
        return self.render()


class Cancelled(DreamError):
    """The dream was stopped (its cancel flag was set, or its ``steps()`` were closed)."""

    def __init__(self, message: str = "dream cancelled", hint: str | None = None) -> None:
        super().__init__(message, hint)


class OptionError(DreamError):
    """A DreamError whose message names options too, as ``{name}``: a run's own options
    (``{workers}``, ``{overwrite}``) that only its front end knows how to spell. A value put
    into the message goes through :func:`literal`, so that its braces stay as they are."""

    def render(self, spell: Spelling = python_spelling) -> str:
        text = self.message.format_map(_Spelled(spell))
        return f"{text}; {self.hint.format_map(_Spelled(spell))}" if self.hint else text


def literal(value: object) -> str:
    """``value`` as text that a ``{name}`` template keeps as it is (a path with braces)."""
    return str(value).replace("{", "{{").replace("}", "}}")


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


#: Up to this many known names are listed in full; longer lists give the closest and ``see``.
LISTED = 12


def unknown_name(kind: str, name: str, known: Iterable[str], see: str | None = None) -> DreamError:
    """Error for an unknown model/layer/preset name: suggest the closest names, and list what
    exists when that is short (else point to ``see``, e.g. ``deepdream layers``): one line a
    person reads at a glance, not all 19 layers of a model."""
    known = list(dict.fromkeys(known))
    # Fuzzy matching costs time and memory in the name's length: only for names a person typed.
    short = isinstance(name, str) and len(name) < 200
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5) if short else []
    folded = {_fold(k): k for k in known}
    if short and _fold(name) in folded and folded[_fold(name)] not in close:
        close.insert(0, folded[_fold(name)])
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    if len(known) <= LISTED:
        listing = f" (known: {', '.join(known)})"
    elif see:
        listing = f" (all of them: {see})"
    else:
        listing = f" (known: {', '.join(known[:LISTED])}, ...)"
    return DreamError(f"unknown {kind} {quote(name)}{hint}{listing}")


def _fold(name: str) -> str:
    """A name with case and punctuation ignored: ``EfficientNet-Lite0`` ~ ``efficientnet_lite0``."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def match_name(name: str, known: Iterable[str]) -> str | None:
    """The known name ``name`` means, matched as class names are: exactly, else with case and
    punctuation ignored when that picks exactly one. None if neither."""
    known = list(known)
    if name in known:
        return name
    hits = [k for k in known if _fold(k) == _fold(name)]
    return hits[0] if len(hits) == 1 else None


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is the host or a device running out of memory (by type, not text)."""
    if isinstance(error, MemoryError):
        return True
    torch = sys.modules.get("torch")  # no torch imported: it cannot be torch's error
    oom = getattr(torch, "OutOfMemoryError", None) if torch is not None else None
    return oom is not None and isinstance(error, oom)


def out_of_memory() -> DreamError:
    """The one message for running out of memory, with what to change."""
    return DreamError(
        "out of memory",
        hint="try a smaller {max_side:PX} or {tile:PX}",
    )


def user_error(error: BaseException) -> DreamError | None:
    """``error`` as a user-facing :class:`DreamError` (itself, out of memory, or a file the
    system refused), or None when it is a bug to show as one."""
    if isinstance(error, DreamError):
        return error
    if is_out_of_memory(error):
        return out_of_memory()
    if isinstance(error, OSError):
        return DreamError(f"{error.strerror or error}: {error.filename or ''}".rstrip(": "))
    return None
