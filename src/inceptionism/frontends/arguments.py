"""The options schema as command-line flags: argparse's side of :mod:`inceptionism.options`.

Each option's flag, help, metavar and type come from its declaration; a word is read here
(:func:`parse_word`, argparse's ``type``) and its value checked by the schema, so a flag gets
the same message as a file key or a Python keyword. Settings files read their
``NAME=WEIGHT`` words with the same :func:`layer_word` and :func:`class_words`.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterable
from typing import Any

from inceptionism.algorithm.objectives import parse_layer
from inceptionism.errors import DreamError, quote
from inceptionism.options import CLI, OPTION, RECIPE, Option, summed, where


def parse_word(option: Option, text: str) -> Any:
    """A command-line word as ``option``'s value; argparse's message on a bad one."""
    try:
        if option.kind == "layers":
            return layer_word(text)
        if option.kind == "classes":
            return class_words(text)
        value = _from_text(option, text)
        return option.check(value) if option.kind == "choice" else value
    except DreamError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def word_parser(option: Option) -> Callable[[str], Any]:
    """:func:`parse_word` for ``option``, as argparse's ``type`` (named like the option); or the
    command's own reading where the option declares one (``Option.word``)."""
    if option.word:
        return _WORD_READERS[option.word]

    def parse(text: str) -> Any:
        return parse_word(option, text)

    return parse


def _finite_word(text: str) -> float:
    """A finite number, else argparse's message (the camera of ``deepdream zoom``)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return v


def _xy_word(text: str) -> tuple[float, float]:
    """``X,Y`` in pixels per second, two finite numbers (``deepdream zoom --translate``)."""
    parts = text.split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"need X,Y in pixels per second, got {text!r}")
    return _finite_word(parts[0]), _finite_word(parts[1])


#: The readings an option may declare as its ``word`` (``int``: argparse's own, its message
#: ``invalid int value``).
_WORD_READERS: dict[str, Callable[[str], Any]] = {
    "int": int,
    "finite": _finite_word,
    "xy": _xy_word,
}


def _from_text(option: Option, text: str) -> Any:
    if option.kind == "int":
        try:
            return int(text)
        except ValueError:
            raise DreamError(f"not a whole number: {quote(text)}") from None
    if option.kind == "float":
        return finite_number(text)
    if option.kind == "pair":
        parts = text.split(",")
        if len(parts) != 2:
            raise DreamError(f"need two numbers X,Y, got {quote(text)}")
        return finite_number(parts[0]), finite_number(parts[1])
    if option.kind == "tile":
        if text == "auto":
            return text
        try:
            return int(text)  # its bounds: checked with the recipe, as from anywhere else
        except ValueError:
            raise DreamError(f"not 'auto' or a whole number: {quote(text)}") from None
    return text


def finite_number(text: str) -> float:
    """A number word (``inf`` allowed: the schema checks finiteness), never NaN."""
    try:
        v = float(text)
    except ValueError:
        raise DreamError(f"not a number: {quote(text)}") from None
    if math.isnan(v):
        raise DreamError(f"not a number: {quote(text)}")
    return v


def layer_word(text: str) -> tuple[str, float]:
    """``NAME[:CHANNEL[,CHANNEL...]][=WEIGHT]``, the key normalised (``block8:17,40``)."""
    spec, _, weight = text.partition("=")
    if not spec:
        raise DreamError(f"empty layer name in {quote(text)}")
    name, chans = parse_layer(spec)
    key = f"{name}:{','.join(map(str, chans))}" if chans else name
    return key, finite_number(weight) if weight else 1.0


def class_words(text: str) -> list[tuple[str, float]]:
    """``NAME_OR_INDEX[=WEIGHT][,...]``: names are checked against the model later."""
    out = []
    for item in text.split(","):
        spec, _, weight = item.partition("=")
        if not spec.strip():
            raise DreamError(f"empty class in {quote(text)}")
        out.append((" ".join(spec.split()), finite_number(weight) if weight else 1.0))
    return out


def add_arguments(
    parser: argparse.ArgumentParser,
    *,
    defaults: bool = True,
    options: Iterable[Option] | None = None,
) -> None:
    """One flag per command-line option, help from the schema. Recipe options default to None
    (not given: the preset's or the file's value applies), except ``preset``; run options to
    their default; a command's own default for a dream option (``atlas``'s tile side) stays.
    ``defaults=False`` leaves defaults to the parser (to tell what was given). ``options``:
    other declarations than the dream's (``command_options.SCHEMA[command]``)."""
    for o in where(CLI) if options is None else (o for o in options if CLI in o.where):
        names = [o.short, o.cli_flag] if o.short else [o.cli_flag]
        kw = _flag_keywords(o)
        if not defaults:
            kw.pop("default")
        if o.positional:  # named by its dest; its word may be left out where it has a default
            del kw["dest"]
            parser.add_argument(o.name, nargs=None if o.default is None else "?", **kw)
        else:
            parser.add_argument(*names, **kw)


def _flag_keywords(o: Option) -> dict[str, Any]:
    """``add_argument``'s keywords for one option's flag."""
    kw: dict[str, Any] = {"dest": o.name, "help": o.help}
    if o.kind == "bool":
        kw["action"] = argparse.BooleanOptionalAction if o.recipe else "store_true"
        kw["default"] = None if o.recipe else o.default
        return kw
    own_default = o.name not in OPTION or o.default != OPTION[o.name].default
    kw["default"] = o.default if (not o.recipe or o.name == "preset" or own_default) else None
    kw["type"] = word_parser(o)
    if o.bare is not None:  # the word may be left out: `--ray` alone
        kw.update(nargs="?", const=o.bare)
    if o.metavar:
        kw["metavar"] = o.metavar
    if o.required:
        kw["required"] = True
    if o.kind == "layers":
        kw["action"] = "append"
    elif o.kind == "classes":
        kw["action"] = "extend"
    return kw


def recipe_values(namespace: Any) -> dict[str, Any]:
    """The recipe options set in an argparse namespace (None: not given), weights summed."""
    out = {}
    for o in RECIPE:
        value = getattr(namespace, o.name, None)
        if o.kind in ("layers", "classes"):
            value = summed(value)
        out[o.name] = value
    return out
