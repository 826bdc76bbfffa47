"""One file's dream as a pure job: the input file's bytes in, the output file's bytes out.

The job neither reads nor writes a path, so every executor runs the same code: the local batch
(and a single dream) in this process, and cluster workers on machines that do not see the
driver's disk. Whoever runs it reads the input and writes the result with the atomic writer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inceptionism import io
from inceptionism.errors import DreamError

if TYPE_CHECKING:
    from inceptionism.config import DreamConfig
    from inceptionism.session import Dreamer, DreamEvent


@dataclass(frozen=True)
class Dreamed:
    """A finished job: the encoded output file and the metadata embedded in it."""

    data: bytes
    metadata: dict[str, Any]
    warnings: tuple[str, ...] = ()  # the dream's one-line warnings (also in the metadata)


def dream_file(
    dreamer: Dreamer,
    data: bytes,
    name: str,
    output: str | os.PathLike,
    on_event: Callable[[DreamEvent], None] | None = None,
    on_start: Callable[[tuple[int, int]], None] | None = None,
) -> Dreamed:
    """Dream the image file whose bytes are ``data`` (``name`` labels it in messages) and
    encode the result for ``output`` (its extension picks the format). ``on_event`` sees
    every step, for progress bars, and ``on_start`` the decoded size (H, W) before the first.
    Bad input raises a one-line DreamError."""
    image = io.decode_image(data, name, max_side=dreamer.recipe.max_side)
    shape = image.rgb.shape[:2]
    if on_start is not None:
        on_start(shape)
    event = None
    for event in dreamer.steps(image):
        if on_event is not None:
            on_event(event)
    assert event is not None and event.result is not None
    warnings = tuple(event.warnings)
    metadata = dreamer.metadata(shape, warnings=warnings, threads=event.threads)
    metadata["input"] = Path(name).name  # which photo this is a dream of (not where it was)
    encoded = io.encode_image(output, event.result, image.alpha, metadata)
    return Dreamed(encoded, metadata, warnings)


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """A recipe as a stored one reads back (JSON types: lists, infinite floats as strings)."""
    return json.loads(json.dumps(io.images.standard_json(config), default=str))


def made_with(path: str | os.PathLike, recipe: DreamConfig) -> bool:
    """Whether ``path`` is a dream we made with ``recipe`` (an automatic tile size may differ:
    it depends on the worker's memory, not on the recipe)."""
    try:
        stored = io.read_metadata(Path(path)) if os.path.isfile(path) else None
    except DreamError:  # not an image at all: not ours
        return False
    if not isinstance(stored, dict) or not isinstance(stored.get("config"), dict):
        return False
    want, have = _comparable(recipe.to_dict()), dict(stored["config"])
    if want.get("tile") == "auto":
        want.pop("tile", None)
        have.pop("tile", None)
    return want == have
