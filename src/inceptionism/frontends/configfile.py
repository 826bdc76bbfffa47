"""Settings from files: ``--config FILE.toml``, ``--config-from DREAM.png`` and ``--print-config``.

A config file uses the ``deepdream dream`` option names as keys (``octaves = 6``,
``octave_scale = 1.4`` or ``octave-scale``, ``layer = ["block8=1"]`` or ``layers = {block8 =
1}``). The keys are read off the command's own parser, so every option added to the command is a
config key too, checked with the option's own type. Precedence: explicit flags > the file > the
preset > the reference defaults. ``--config-from`` takes the settings stored in a dream's
metadata instead, so the same input gives the same pixels again.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from inceptionism.config import DreamConfig
from inceptionism.errors import DreamError, unknown_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None  # type: ignore[assignment]

#: Options of ``deepdream dream`` that are about one run, not about the dream's settings.
NOT_SETTINGS = {"help", "input", "output", "config", "config_from", "print_config", "quiet"}
NOT_SETTINGS |= {"overwrite"}
NOT_SETTINGS |= {"ray", "workers", "shared_fs"}  # where a batch runs (jobs/cluster.py)
#: Key spellings accepted besides the option's own (DreamConfig's field name for --layer).
ALIASES = {"layers": "layer"}


def dream_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The ``dream`` subcommand's parser inside the ``deepdream`` parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices["dream"]
    raise LookupError("no dream subcommand")


def setting_actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Option dest -> action for every setting of ``deepdream dream``, in the parser's order."""
    return {
        a.dest: a
        for a in dream_parser(parser)._actions
        if a.option_strings and a.dest not in NOT_SETTINGS
    }


def explicit_dests(make_parser: Callable[[], argparse.ArgumentParser], argv: Sequence[str]) -> set:
    """The dests the command line set explicitly: parse again with every default suppressed."""
    parser = make_parser()
    for action in dream_parser(parser)._actions:
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(list(argv))))


# -- reading ----------------------------------------------------------------------------------


def read_toml(path: str | Path) -> dict[str, Any]:
    """The file's top-level table; one-line errors for a missing, unreadable or invalid file."""
    if tomllib is None:  # pragma: no cover - Python 3.10 without tomli
        raise DreamError("reading TOML config files needs Python 3.11+ or: pip install tomli")
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise DreamError(f"config file not found: {p}") from None
    except IsADirectoryError:
        raise DreamError(f"config {p} is a folder, not a TOML file") from None
    except UnicodeDecodeError:
        raise DreamError(f"config {p}: not a text (UTF-8) file") from None
    except OSError as e:
        raise DreamError(f"cannot read config {p}: {e.strerror or e}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DreamError(f"config {p}: invalid TOML: {' '.join(str(e).split())}") from None


def _numeric(kind: Callable[[str], Any]) -> bool:
    """Whether an option's type parses numbers (then a TOML string is the wrong type)."""
    try:
        return isinstance(kind("1.5"), float)
    except (argparse.ArgumentTypeError, ValueError, TypeError):
        return False


def _one(action: argparse.Action, value: Any) -> Any:
    """One value of an option, checked and converted as the option's type does on the CLI."""
    kind = action.type
    if isinstance(value, (bool, dict, list)):
        raise TypeError
    if kind is None:
        if not isinstance(value, str):
            raise TypeError
        out = value
    elif kind is int:
        if not isinstance(value, int):
            raise TypeError
        out = value
    elif isinstance(value, str):
        if _numeric(kind):  # type: ignore[arg-type]
            raise TypeError
        out = kind(value)  # type: ignore[operator]
    elif isinstance(value, (int, float)):
        out = kind(repr(value))  # type: ignore[operator]
        if isinstance(out, bool) or not isinstance(out, (int, float)):
            raise TypeError  # a number where the option wants a name (e.g. layer = 3)
    else:
        raise TypeError
    if action.choices is not None and out not in action.choices:
        choices = ", ".join(map(str, action.choices))
        raise argparse.ArgumentTypeError(f"invalid choice {out!r} (choose from {choices})")
    return out


def _expected(action: argparse.Action) -> str:
    if action.nargs == 0:
        return "true or false"
    kind = action.type
    if kind is None:
        one = "a string"
    elif kind is int:
        one = "a whole number"
    elif _numeric(kind):  # type: ignore[arg-type]
        one = "a number"
    else:
        try:
            takes_numbers = isinstance(kind("1"), int)  # type: ignore[operator]
        except (argparse.ArgumentTypeError, ValueError, TypeError):
            takes_numbers = False
        one = "a string or a whole number" if takes_numbers else "a string"
    return f"{one} or a list of them" if isinstance(action, argparse._AppendAction) else one


def convert(action: argparse.Action, value: Any) -> Any:
    """A TOML value for ``action``; raises TypeError for the wrong type."""
    if action.nargs == 0:  # a switch such as --quiet
        if not isinstance(value, bool):
            raise TypeError
        return value
    if isinstance(action, argparse._AppendAction):
        if action.dest in ("layer", "classes") and isinstance(value, dict):  # {block8 = 1.0}
            value = [f"{k}={_number(w)}" for k, w in value.items()]
        items = [_one(action, v) for v in (value if isinstance(value, list) else [value])]
        if isinstance(action, argparse._ExtendAction):  # each item is itself a list
            items = [x for item in items for x in item]
        return items or None
    return _one(action, value)


def _number(w: Any) -> str:
    if isinstance(w, bool) or not isinstance(w, (int, float)):
        raise TypeError
    return repr(w)


def settings_from(
    data: Mapping[str, Any], actions: Mapping[str, argparse.Action], label: str
) -> dict[str, Any]:
    """Option dest -> value for a table of settings (TOML keys as the options are spelled)."""
    known = [k for k in actions if k != "layer"] + ["layer", "layers"]
    out: dict[str, Any] = {}
    for key, value in data.items():
        dest = ALIASES.get(key.replace("-", "_"), key.replace("-", "_"))
        if dest not in actions:
            raise unknown_name(f"key in {label}", key, known)
        try:
            out[dest] = convert(actions[dest], value)
        except TypeError:
            got = type(value).__name__
            raise DreamError(
                f"{label}: {key} must be {_expected(actions[dest])}, got {got} {value!r}"
            ) from None
        except (argparse.ArgumentTypeError, ValueError) as e:
            raise DreamError(f"{label}: {key}: {e}") from None
    return out


def settings_from_dream(
    path: str | Path, actions: Mapping[str, argparse.Action]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(option values, other DreamConfig fields) stored in a dream's metadata by ``deepdream``."""
    from inceptionism.io import read_metadata

    label = f"settings of {path}"
    meta = read_metadata(path)
    config = meta.get("config") if isinstance(meta, dict) else None
    if not isinstance(config, dict):
        raise DreamError(
            f"{path} holds no deepdream settings (not made by deepdream, or its metadata was "
            "stripped)"
        )
    fields = {f for f in DreamConfig.__dataclass_fields__}
    table: dict[str, Any] = {}
    carried: dict[str, Any] = {}
    for key, value in config.items():
        if value is None or value == {}:
            continue  # unset (TOML has no null): the preset's or the default value applies
        dest = ALIASES.get(key, key)
        if dest in actions:
            table[dest] = value
        elif key in fields:
            carried[key] = value  # a setting with no option (e.g. ``extra``)
        else:
            raise DreamError(f"{label}: unknown setting {key!r} (made by a newer inceptionism?)")
    return settings_from(table, actions, label), carried


def apply(
    args: argparse.Namespace,
    argv: Sequence[str],
    make_parser: Callable[[], argparse.ArgumentParser],
) -> argparse.Namespace:
    """``args`` with the values of ``--config``/``--config-from`` where no flag set them."""
    args.config_fields = {}
    if not (args.config or args.config_from):
        return args
    actions = setting_actions(make_parser())
    if args.config_from:
        values, args.config_fields = settings_from_dream(args.config_from, actions)
    else:
        values = settings_from(read_toml(args.config), actions, f"config {args.config}")
    explicit = explicit_dests(make_parser, argv)
    for dest, value in values.items():
        if dest not in explicit:
            setattr(args, dest, value)
    return args


# -- writing ----------------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value)
    out = "".join(
        c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}"
        for c in text  # TOML basic string: escape quotes, backslashes, control characters
    )
    return f'"{out}"'


def effective(
    args: argparse.Namespace,
    config: DreamConfig,
    default_layers: Mapping[str, float],
    actions: Mapping[str, argparse.Action],
) -> dict[str, Any]:
    """Every setting as it will be used: the config's resolved values, else the option's."""
    fields = set(DreamConfig.__dataclass_fields__)
    out: dict[str, Any] = {}
    for dest in actions:
        if dest == "layer":
            steered = config.classes or config.guide  # then no default layers are added
            layers = config.layers or ({} if steered else default_layers)
            value: Any = [f"{n}={_short(w)}" for n, w in layers.items()] or None
        elif dest == "classes":
            value = [f"{n}={_short(w)}" for n, w in config.classes.items()] or None
        elif dest in fields:
            value = getattr(config, dest)
        else:
            value = getattr(args, dest, None)
        if value is not None:
            out[dest] = value
    return out


def _short(w: float) -> str:
    return f"{w:g}" if float(f"{w:g}") == w else repr(float(w))


def dumps(values: Mapping[str, Any]) -> str:
    """TOML that ``--config`` reads back to the same settings."""
    lines = ["# deepdream dream settings: use with deepdream dream --config FILE"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"
