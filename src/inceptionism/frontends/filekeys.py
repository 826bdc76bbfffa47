"""The options schema as settings-file keys: TOML's side of :mod:`inceptionism.options`.

Every option a file may set (``FILE`` in its ``where``) is a key: its name, the key
``--print-config`` writes (``layer`` for layers), or its flag's spelling, with dashes or
underscores. Values are type-checked here with the file's words for them; their bounds are the
schema's, checked with the recipe (or at once for a run option, which no recipe checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inceptionism.errors import DreamError, unknown_name
from inceptionism.frontends.arguments import class_words, layer_word
from inceptionism.option_checks import checked_weight, is_bool
from inceptionism.options import FILE, Option, where


def _file_keys() -> dict[str, Option]:
    """Each spelling of a file key: the option's name, its key, its flag's, dashes for
    underscores."""
    keys: dict[str, Option] = {}
    for o in where(FILE):
        for k in (o.name, o.file_key, o.cli_flag[2:].replace("-", "_")):
            keys[k] = o
            keys[k.replace("_", "-")] = o
    return keys


def file_key_names() -> list[str]:
    """The keys a settings file may use (for the "did you mean" of an unknown one)."""
    names: list[str] = []
    for o in where(FILE):
        names += dict.fromkeys([o.file_key, o.name])
    return names


def from_file(data: Mapping[str, Any], label: str) -> dict[str, Any]:
    """Option name -> value (as the command line gives it) for a table of settings read from
    ``label`` (a TOML file, or a dream's metadata); one-line errors name the file and key."""
    keys = _file_keys()
    out: dict[str, Any] = {}
    for key, value in data.items():
        opt = keys.get(key) if isinstance(key, str) else None
        if opt is None:
            raise unknown_name(f"key in {label}", str(key), file_key_names())
        try:
            out[opt.name] = _file_value(opt, key, value)
            if not opt.recipe:  # no recipe checks it later: its range now
                out[opt.name] = opt.check(out[opt.name], key)
        except DreamError as e:
            raise DreamError(f"{label}: {e.message}", e.hint) from None
    return out


def _weights_value(opt: Option, key: str, value: Any) -> list[tuple[str, float]] | None:
    """Layers or classes from a file: a table of weights, or one word or a list of them."""
    if isinstance(value, Mapping):  # {block8 = 1.0}
        word = "layer" if opt.kind == "layers" else "class"
        return [(parse_key(opt, k), checked_weight(word, k, w)) for k, w in value.items()]
    items = value if isinstance(value, list) else [value]
    pairs: list[tuple[str, float]] = []
    for item in items:
        if opt.kind == "classes" and isinstance(item, int) and not is_bool(item):
            item = str(item)
        if not isinstance(item, str):
            raise opt.wrong_type(value, key, FILE)
        pairs += [layer_word(item)] if opt.kind == "layers" else class_words(item)
    return pairs or None


_NUMBER_KINDS = {
    "int": lambda v: isinstance(v, int) and not is_bool(v),
    "tile": lambda v: isinstance(v, int) and not is_bool(v),
    "float": lambda v: isinstance(v, (int, float)) and not is_bool(v),
    "bool": lambda v: isinstance(v, bool),
}


def _file_value(opt: Option, key: str, value: Any) -> Any:
    """A settings-file value in the form the command line gives it (a list of (name, weight)
    pairs for layers and classes), its type checked; bounds are checked with the recipe."""
    if opt.kind in ("layers", "classes"):
        return _weights_value(opt, key, value)
    if opt.kind in ("int", "float", "bool") or (opt.kind == "tile" and value != "auto"):
        if opt.kind == "tile" and isinstance(value, str):
            raise opt.invalid(value)
        if not _NUMBER_KINDS[opt.kind](value):
            raise opt.wrong_type(value, key, FILE)
        return float(value) if opt.kind == "float" else value
    if not isinstance(value, str):
        raise opt.wrong_type(value, key, FILE)
    return opt.check(value, key) if opt.kind in ("choice", "device") else value


def parse_key(opt: Option, key: str) -> str:
    """A table key of layers (``"block8:3"``) normalised as the command line does."""
    if opt.kind == "layers":
        return layer_word(key)[0]
    return " ".join(str(key).split())


def to_file(values: Mapping[str, Any]) -> dict[str, Any]:
    """Option name -> value, as the keys and values ``--print-config`` writes (weights as
    ``NAME=WEIGHT`` strings), in the options' order; None (unset) left out."""
    out: dict[str, Any] = {}
    for o in where(FILE):
        value = values.get(o.name)
        if o.kind in ("layers", "classes") and value is not None:
            value = [f"{n}={_short(w)}" for n, w in dict(value).items()] or None
        if value is not None:
            out[o.file_key] = value
    return out


def _short(w: float) -> str:
    return f"{w:g}" if float(f"{w:g}") == w else repr(float(w))
