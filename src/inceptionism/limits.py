"""Sane ranges for what a recipe may hold, wherever it came from.

A recipe read from an image's metadata is untrusted (see :mod:`inceptionism.safety`): a
crafted PNG may say ``iterations = 10**12`` (a dream that never ends), nest its JSON thousands
deep, or carry a 100 MB string. The numeric ranges live on each option in
:data:`inceptionism.options.OPTIONS`; this module holds the caps that are not one option's:
how long a text, how many entries, how deep a structure. They are generous for any real
recipe (a few dozen layers, names under a hundred characters, the 1000 ImageNet classes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import DreamError

#: Most gradient steps an octave may take: the presets take 10 to 20, the slowest published
#: recipes a few hundred; 10,000 steps of 100 octaves still end.
MAX_ITERATIONS = 10_000
#: Largest step size, in the model's input units (the presets' are 0.01 to 0.09).
MAX_STEP = 100.0
#: Largest octave scale: a scale of 10 already skips from 224 to 22 px in one octave.
MAX_OCTAVE_SCALE = 10.0
#: Largest image side a recipe may name (``max_side``, ``tile``, ``jitter``), in pixels:
#: the largest JPEG, and more than any GPU dreams untiled.
MAX_PIXELS_SIDE = 65_535
#: Largest blur of the gradient, sigma in pixels (the kernel grows with it).
MAX_SMOOTH = 256.0
#: Largest weight of a layer, class or guide, either sign (the gradient is normalised, so only
#: ratios matter: a million to one is already all of one term).
MAX_WEIGHT = 1e6
#: Most CPU threads a run may ask for.
MAX_THREADS = 1024
#: Longest text a setting may hold (a file name, a model or layer name with its channels).
MAX_TEXT = 4096
#: Most layers or classes one recipe may weigh (ImageNet has 1000 classes).
MAX_ENTRIES = 1000
#: Deepest nesting of a free-form setting (``extra``): a table of tables of lists.
MAX_DEPTH = 4


def check_text(value: str, what: str) -> str:
    """``value``, refused in one line when longer than :data:`MAX_TEXT` characters."""
    if len(value) > MAX_TEXT:
        raise DreamError(f"{what} is {len(value):,} characters long: at most {MAX_TEXT:,}")
    return value


def check_count(items: Any, what: str) -> Any:
    """``items`` (a list or mapping), refused when it has more than :data:`MAX_ENTRIES`."""
    if len(items) > MAX_ENTRIES:
        raise DreamError(f"{len(items):,} {what}: at most {MAX_ENTRIES:,}")
    return items


def check_structure(value: Any, what: str, depth: int = 0) -> None:
    """A free-form value (JSON-like) bounded in depth, entries and text; one line otherwise.

    It goes no deeper than :data:`MAX_DEPTH`, so a structure nested a million deep is refused
    at its fifth level, never recursed through.
    """
    if depth > MAX_DEPTH:
        raise DreamError(f"{what} is nested too deeply: at most {MAX_DEPTH} levels")
    if isinstance(value, str):
        check_text(value, what)
    elif isinstance(value, Mapping):
        check_count(value, f"entries in {what}")
        for key, item in value.items():
            if isinstance(key, str):
                check_text(key, what)
            check_structure(item, what, depth + 1)
    elif isinstance(value, (list, tuple)):
        check_count(value, f"entries in {what}")
        for item in value:
            check_structure(item, what, depth + 1)
