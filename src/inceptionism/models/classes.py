"""ImageNet class names, so ``--class "tabby cat"`` works as well as ``--class 281``.

The 1000 names are torchvision's list (``data/imagenet_classes.txt``, index = line number).
Matching is forgiving, because nobody remembers that class 281 is called just "tabby": case and
punctuation are ignored, an exact name wins, then a name whose words are all in the query (or
the other way round); anything else is an error that lists the closest names.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from pathlib import Path

from inceptionism.errors import DreamError, quote

_FILE = Path(__file__).parent.parent / "data" / "imagenet_classes.txt"


@lru_cache(maxsize=1)
def names() -> tuple[str, ...]:
    """The 1000 ImageNet class names, in index order."""
    return tuple(line.strip() for line in _FILE.read_text(encoding="utf-8").splitlines())


def _words(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"[a-z0-9]+", text.casefold()))


def _listing(indexes: list[int]) -> str:
    return ", ".join(f"{names()[i]!r} ({i})" for i in indexes)


def lookup(spec: str | int, num_classes: int = 1000) -> int:
    """Class index for an index (``281``, ``"281"``) or a name (``"Tabby Cat"`` -> 281)."""
    text = str(spec).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        index = int(text)
        if not 0 <= index < num_classes:
            raise DreamError(f"class index {index} out of range (0..{num_classes - 1})")
        return index
    if num_classes != len(names()):
        raise DreamError(
            f"class names need a {len(names())}-class ImageNet model (this one has "
            f"{num_classes} classes); give the class as an index"
        )
    query = _words(text)
    if not query:
        raise DreamError(f"empty class name {quote(text)}")
    table = [_words(n) for n in names()]
    exact = [i for i, w in enumerate(table) if w == query]
    if exact:
        return exact[0]
    q = set(query)
    # The name's words all in the query ("tabby cat" -> "tabby"): prefer the most specific name.
    inside = [i for i, w in enumerate(table) if set(w) <= q]
    if inside:
        most = max(len(table[i]) for i in inside)
        inside = [i for i in inside if len(table[i]) == most]
    # Otherwise the query's words all in the name ("shark" -> "great white shark", ...).
    found = inside or [i for i, w in enumerate(table) if q <= set(w)]
    if len(found) == 1:
        return found[0]
    if found:
        more = f" and {len(found) - 8} more" if len(found) > 8 else ""
        raise DreamError(
            f"class {quote(text)} is ambiguous: {_listing(found[:8])}{more}; "
            "give the full name or index"
        )
    lowered = {n.casefold(): i for i, n in enumerate(names())}
    close = difflib.get_close_matches(" ".join(query), list(lowered), n=4, cutoff=0.6)
    hint = f"; closest: {_listing([lowered[c] for c in close])}" if close else ""
    raise DreamError(f"unknown class {quote(text)}{hint}", hint="see the list of class names")


def search(word: str = "") -> list[tuple[int, str]]:
    """(index, name) of the classes whose name contains ``word`` (all of them for "")."""
    w = word.casefold().strip()
    return [(i, n) for i, n in enumerate(names()) if w in n.casefold()]
