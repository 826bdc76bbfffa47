"""What every ``deepdream`` command shares: the one-line usage errors, the exit codes, and the
wording of options in messages (the library names them ``{option}``; the command line spells
them as flags)."""

from __future__ import annotations

import argparse
import math
import sys

from tqdm import tqdm

from inceptionism import options
from inceptionism.config import DEFAULT_PRESET, make_config
from inceptionism.errors import DreamError
from inceptionism.options import cli_spelling

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: Options with a short flag that messages use (``-o DIR``), not the long one.
SHORT_FLAGS = {"output": "-o"}


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(
            f"deepdream: error: {message} (see deepdream {self._sub} --help)"
            if getattr(self, "_sub", "")
            else f"deepdream: error: {message}",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_USAGE)


def spell(option: str, value: str = "") -> str:
    """An option as the ``deepdream`` command names it in a message: ``--weights FILE``."""
    if option in SHORT_FLAGS:
        return f"{SHORT_FLAGS[option]} {value}" if value else SHORT_FLAGS[option]
    return cli_spelling(option, value)


def message(error: DreamError) -> str:
    """A library error in this command's terms (its hint names our flags)."""
    return error.render(spell)


def missing_input(command: str) -> int:
    """The usage error of a command run without its input (argparse's own wording), where
    argparse could not tell: ``--ray`` may have taken the input as its address."""
    print(
        "deepdream: error: the following arguments are required: input "
        f"(see deepdream {command} --help)",
        file=sys.stderr,
    )
    return EXIT_USAGE


def note(text: str) -> None:
    """Something the user should know (audio dropped, a pixel cropped): one line, not an error."""
    tqdm.write(f"deepdream: note: {text}", file=sys.stderr)


def show_preset_values(
    parser: argparse.ArgumentParser, preset: str | None, model: str | None
) -> None:
    """Each recipe option's help ends with the value the preset gives it for the model (what
    leaving the flag out means), e.g. ``[default preset, efficientnet-lite0: 0.015]``."""
    try:
        cfg = make_config(preset or DEFAULT_PRESET, model=model)
    except DreamError:
        return  # an unknown preset or model: the dream itself will say so
    where = f"{cfg.preset} preset, {cfg.model}"
    for action in parser._actions:
        o = options.OPTION.get(action.dest)
        if o is None or not o.recipe or o.name in ("model", "preset", "layers", "classes"):
            continue
        value = getattr(cfg, o.name)
        if value is None or action.help is None:
            continue
        if isinstance(value, bool):
            shown = "on" if value else "off"
        elif isinstance(value, float) and math.isinf(value):
            shown = "inf (off)"
        else:
            shown = f"{value:g}" if isinstance(value, float) else str(value)
        action.help = f"{action.help} [{where}: {shown}]"
