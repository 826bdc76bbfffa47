"""Settings from files: ``--config FILE.toml``, ``--config-from DREAM.png`` and ``--print-config``.

A config file uses the ``deepdream dream`` option names as keys (``octaves = 6``,
``octave_scale = 1.4`` or ``octave-scale``, ``layer = ["block8=1"]`` or ``layers = {block8 =
1}``). The keys, their types and messages come from the options schema
(:mod:`inceptionism.options`, adapted by :mod:`inceptionism.frontends.filekeys`), so every
dream option is a config key too. Precedence:
explicit flags > the file > the preset > the reference defaults. ``--config-from`` takes the
settings stored in a dream's metadata instead, so the same input gives the same pixels again.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inceptionism import options, runtime
from inceptionism.config import DreamConfig, from_metadata
from inceptionism.errors import DreamError, quote
from inceptionism.frontends import filekeys
from inceptionism.io import read_metadata
from inceptionism.safety import untrusted_settings
from inceptionism.threads import thread_schedule

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None  # type: ignore[assignment]

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
        raise DreamError(f"config {p}: invalid TOML: {_cut(' '.join(str(e).split()))}") from None
    except RecursionError:  # tables or arrays nested thousands deep
        raise DreamError(f"config {p}: invalid TOML: nested too deeply") from None


def _cut(text: str, limit: int = 300) -> str:
    """A message that may quote a value from a file, cut to one readable line."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit] + "..."


def settings_from(data: Mapping[str, Any], label: str) -> dict[str, Any]:
    """Option name -> value for a table of settings (keys as the options are spelled)."""
    return filekeys.from_file(data, label)


@dataclass(frozen=True)
class DreamRecord:
    """What a dream made by ``deepdream`` recorded in its metadata, read once and checked (an
    image is untrusted): the option values, the other DreamConfig fields, the CPU threads each
    octave ran on and the precision its model ran in (None where it recorded none: a GPU dream,
    an older version)."""

    values: dict[str, Any]
    carried: dict[str, Any]
    threads: tuple[int, ...] | None
    precision: str | None


def read_dream_record(path: str | Path, given: Collection[str] = ()) -> DreamRecord:
    """The settings a dream recorded, to make it again. Its settings go through
    :func:`inceptionism.safety.untrusted_settings` (no own models, no file paths); ``given``
    are the options the command line set (they win)."""
    meta = read_metadata(path)
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise DreamError(
            f"{path} holds no deepdream settings (not made by deepdream, or its metadata was "
            "stripped)"
        )
    values, carried = _recorded_settings(meta["config"], f"settings of {path}", given)
    threads = meta.get("threads")
    if threads is not None:
        threads = thread_schedule(threads, f"threads in {path}")
    return DreamRecord(values, carried, threads, _recorded_precision(meta.get("precision"), path))


def _recorded_settings(
    config: dict[str, Any], label: str, given: Collection[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(option values, other DreamConfig fields) of a dream's recorded ``config``."""
    config = untrusted_settings(config, label, given=given)
    fields = set(DreamConfig.__dataclass_fields__)
    table: dict[str, Any] = {}
    carried: dict[str, Any] = {}
    for key, value in config.items():
        if value is None or value == {}:
            continue  # unset (TOML has no null): the preset's or the default value applies
        if key in options.OPTION and options.OPTION[key].recipe:
            table[key] = from_metadata(key, value)
        elif key in fields:
            carried[key] = value  # a setting with no option (e.g. ``extra``)
        else:
            raise DreamError(
                f"{label}: unknown setting {quote(key)} (made by a newer inceptionism?)"
            )
    return settings_from(table, label), carried


def _recorded_precision(value: Any, path: str | Path) -> str | None:
    """A dream's recorded precision, checked: a known name, never ``auto`` (a dream records
    what ``auto`` resolved to)."""
    if value is None:
        return None
    try:
        value = options.check("precision", value)
    except DreamError as e:
        raise DreamError(f"precision in {path}: {e}") from None
    if value == "auto":
        raise DreamError(f"precision in {path}: a dream records the precision it ran in, not auto")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config`` and ``--config-from``, one or the other (for every dreaming command)."""
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--config", metavar="FILE.toml", help="settings file (flags override it)")
    src.add_argument(
        "--config-from", metavar="DREAM", help="the settings stored in a dream made by deepdream"
    )


def apply(args: argparse.Namespace, given: Collection[str]) -> argparse.Namespace:
    """``args`` with the values of ``--config``/``--config-from`` for the options the command
    line did not set (``given``: the options it did)."""
    args.config_fields = {}
    if not (args.config or args.config_from):
        return args
    if args.config_from:
        record = read_dream_record(args.config_from, given)
        values, args.config_fields = record.values, record.carried
        if "threads" not in given:  # --threads N is the user's word; else the dream's counts
            runtime.replay_threads(record.threads)
        if "precision" not in given:  # the arithmetic that made its pixels, unless told
            args.precision = record.precision or args.precision
    else:
        values = settings_from(read_toml(args.config), f"config {args.config}")
    for name, value in values.items():
        if name not in given:
            setattr(args, name, value)
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
    args: argparse.Namespace, config: DreamConfig, default_layers: Mapping[str, float]
) -> dict[str, Any]:
    """Every setting as it will be used (file keys): the recipe's resolved values (the model's
    default layers spelled out unless the dream is steered), the run's from the options."""
    values = {o.name: getattr(config, o.name) for o in options.RECIPE}
    values["layers"] = config.effective_layers(default_layers)
    values.update({o.name: getattr(args, o.name, None) for o in options.RUN})
    return filekeys.to_file(values)


def dumps(values: Mapping[str, Any]) -> str:
    """TOML that ``--config`` reads back to the same settings."""
    lines = ["# deepdream dream settings: use with deepdream dream --config FILE"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"
