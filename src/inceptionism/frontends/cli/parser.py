"""The ``deepdream`` parser: one module per command, each with ``add_parsers(sub)`` and its
``COMMANDS``; a new command is one more entry in :data:`COMMAND_MODULES`."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

import inceptionism.frontends.cli.atlas as atlas
import inceptionism.frontends.cli.dream as dream
import inceptionism.frontends.cli.listing as listing
import inceptionism.frontends.cli.live as live
import inceptionism.frontends.cli.studio as studio
import inceptionism.frontends.cli.video as video
import inceptionism.frontends.cli.zoom as zoom
from inceptionism import __version__
from inceptionism.frontends.cli.common import Parser, show_preset_values

#: The commands, in the order ``deepdream --help`` lists them.
COMMAND_MODULES = (dream, listing, studio, atlas, video, zoom, live)
#: The commands whose dream options' help shows the preset's values.
PRESET_COMMANDS = ("dream", "video", "zoom")

#: The photo every example dreams on: the bundled sample, as pasted from the repository's root.
SAMPLE = "src/inceptionism/data/chelsea.png"
#: ``--help`` examples of ``deepdream`` (key "") and of each command; each line runs as pasted
#: from the repository's root, in the order shown (tests/test_recipe_caps.py parses them all,
#: runs the listings and checks each dream example's settings as a dream would).
EXAMPLES: dict[str, tuple[str, ...]] = {
    "": (
        f"deepdream dream {SAMPLE} -o cat.png",
        "deepdream layers",
        f"deepdream atlas {SAMPLE} -o atlas.png",
        f"deepdream zoom {SAMPLE} -o zoom.mp4 --frames 24",
        "deepdream ui",
    ),
    "dream": (
        f"deepdream dream {SAMPLE} -o cat.png",
        f"deepdream dream {SAMPLE} -o eyes.png --layer block6 --max-side 320",
        f"deepdream dream {SAMPLE} -o dogs.png --class 'golden retriever'",
        f"deepdream dream {SAMPLE} -o seed.png --preset seed --octaves 6",
        f"deepdream dream {SAMPLE} -o again.png --config-from cat.png",
        f"deepdream dream {SAMPLE} --preset seed --print-config > seed.toml",
    ),
    "layers": ("deepdream layers", "deepdream layers --model inception-v3"),
    "models": ("deepdream models",),
    "classes": ("deepdream classes", "deepdream classes cat"),
    "atlas": (
        f"deepdream atlas {SAMPLE} -o atlas.png",
        f"deepdream atlas {SAMPLE} -o block6.png --layer block6 --channels 0-7",
    ),
    "ui": ("deepdream ui", "deepdream ui --port 8080 --device cpu"),
    "zoom": (
        f"deepdream zoom {SAMPLE} -o zoom.mp4 --frames 24",
        f"deepdream zoom {SAMPLE} -o spin.gif --frames 24 --rotate 15 --max-side 256",
    ),
    "video": (
        f"deepdream zoom {SAMPLE} -o zoom.mp4 --frames 24   # a clip to dream on",
        "deepdream video zoom.mp4 -o dreamed.mp4",
        "deepdream video zoom.mp4 -o seed.mp4 --preset seed --octaves 2 --coherence 0.8",
    ),
}


def commands() -> dict[str, Callable[[argparse.Namespace], int]]:
    """Each command's function, by name."""
    return {name: run for module in COMMAND_MODULES for name, run in module.COMMANDS.items()}


def build_parser(
    given_only: bool = False, preset: str | None = None, model: str | None = None
) -> argparse.ArgumentParser:
    """The ``deepdream`` parser. ``given_only``: the ``dream`` command's defaults left out, so
    that parsing tells which options the command line set (they win over settings files).
    ``preset``/``model``: whose values ``dream --help`` shows as each option's default."""
    p = Parser(prog="deepdream", description="Deep Dream (Inceptionism) on photos.")
    p.add_argument("--version", action="version", version=f"inceptionism {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in COMMAND_MODULES:
        if module is dream:
            dream.add_parsers(sub, given_only)
        else:
            module.add_parsers(sub)
    if not given_only:
        for name in PRESET_COMMANDS:
            show_preset_values(sub.choices[name], preset, model)
    _add_examples(p, sub.choices)
    return p


def _add_examples(p: argparse.ArgumentParser, commands: dict[str, argparse.ArgumentParser]) -> None:
    """An "examples:" epilog under ``deepdream --help`` and each command's ``--help``."""
    for name, parser in [("", p), *commands.items()]:
        lines = EXAMPLES.get(name)
        if lines:
            parser.epilog = "examples:\n" + "\n".join(f"  {line}" for line in lines)
            parser.formatter_class = _ExamplesFormatter


class _ExamplesFormatter(argparse.HelpFormatter):
    """Wraps descriptions as usual but keeps the examples one command a line, as pasted."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def help_context(argv: Sequence[str]) -> tuple[str | None, str | None]:
    """(preset, model) named on a command line that asks for help, for the values it shows."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--preset")
    pre.add_argument("--model")
    known, _ = pre.parse_known_args(list(argv))
    return known.preset, known.model
