"""What untrusted settings may do: the one rule for every reader of a dream's metadata.

The command line, ``--config`` TOML files and the user's own model files are trusted: they are
the user's words. An image is not, and neither is the metadata inside it: anyone can send a
picture whose settings say ``model = "evil.py:factory"`` (which would import and run
``evil.py``) or ``guide = "/dev/zero"`` (which would open a path the user never named).
Settings read from such a source pass through :func:`untrusted_settings` first, which keeps
the recipe and refuses what could run code or open a file. The CLI's ``--config-from`` uses it,
and so must any future reader (a web page loading a dream's settings, for example).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from .errors import DreamError, quote
from .models.custom import is_factory_name
from .models.registry import get_spec

#: Settings that name a file to open. From an untrusted source they are never used: the user
#: names such a file on the command line (or in a form) or it is not opened.
PATH_SETTINGS = frozenset({"guide", "weights", "config", "config_from", "output", "input"})
#: Settings that name a model: only a registered model may come from an untrusted source.
MODEL_SETTINGS = frozenset({"model"})


def untrusted_settings(
    settings: Mapping[str, Any], source: str, *, given: Collection[str] = ()
) -> dict[str, Any]:
    """``settings`` from an untrusted ``source`` (an image's metadata), safe to use.

    ``given`` names the settings the user gave themselves (flags on the command line): theirs
    win, so the untrusted value is dropped unseen. Otherwise a model must be a registered one
    (an own model, ``file.py:factory`` or ``module:factory``, is refused: it would import
    code), and a setting that names a file is refused (it would open a path the user never
    chose). Keys are compared with ``-`` read as ``_``. Raises :class:`DreamError` in one line.
    """
    mine = {g.replace("-", "_") for g in given}
    out: dict[str, Any] = {}
    for key, value in settings.items():
        name = str(key).replace("-", "_")
        if name in mine:
            continue  # the user's own value replaces it; never look at this one
        if value is None:
            out[key] = value
            continue
        if name in MODEL_SETTINGS:
            if not isinstance(value, str):
                raise DreamError(f"{source}: model must be a model name, got {quote(value)}")
            if is_factory_name(value) or "/" in value or "\\" in value:
                raise DreamError(
                    f"{source} names the own model {quote(value)}, which would run its code; "
                    "own models are named by the user (on the command line or in code), never by "
                    "an image",
                    hint="name it yourself with {model:FILE.py:FACTORY}",
                )
            get_spec(value)  # an unknown name fails here, listing the registered ones
        elif name in PATH_SETTINGS:
            raise DreamError(
                f"{source} names a {name.replace('_', ' ')} file {quote(value)}; files named "
                "in an image's metadata are never opened",
                hint=f"pass {{{name}:FILE}} yourself",
            )
        out[key] = value
    return out
