"""The option reference of the docs (``docs/options.md``), generated from the schema.

One Markdown table per command (``command_options.SCHEMA``): each option's Python keyword, flag,
settings-file key, valid values, default and help, as the front ends take them. Regenerate the
page after changing an option (a test fails while it is stale), from the checkout's root::

    python -m inceptionism.frontends.reference > docs/options.md
"""

from __future__ import annotations

import math
from typing import Any

from inceptionism.command_options import SCHEMA
from inceptionism.config import defaults
from inceptionism.options import CLI, FILE, OPTION, PYTHON, Option

REGENERATE = "python -m inceptionism.frontends.reference > docs/options.md"

#: What each table is, and which Python function takes its keywords.
_TITLES = {
    "dream": ("`deepdream dream`", "`inceptionism.dream`, `make_config`, `DreamConfig`"),
    "video": ("`deepdream video`", "`dream_video`, `video_frames`"),
    "zoom": ("`deepdream zoom`", "`dream_zoom` (and the dream options)"),
    "atlas": ("`deepdream atlas`", None),
    "ui": ("`deepdream ui` (the web studio)", None),
    "live": ("`deepdream live` (and the dream options)", None),
    "ray": ("`deepdream dream --ray`", None),
    "video-ray": ("`deepdream video --ray`", None),
}

_INTRO = f"""# Option reference

Every option of every command, generated from the options schema (`inceptionism.options` and
`inceptionism.command_options`), the one place options are declared: the flags, the settings-file
keys (`--config`, see [Command line](command-line.md)), the Python keywords and these tables all
come from it. A dash means the option is not taken that way.

The defaults of the dream options are the `default` preset's on the default model
([Presets](presets.md) lists the others). This page is made by
`{REGENERATE}`; do not edit it by hand.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _value(value: Any) -> str:
    """A default as a user writes it."""
    if value is None or value == {}:
        return "—"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and math.isinf(value):
        return "`inf`"
    if isinstance(value, dict):
        return ", ".join(f"`{k}={w:g}`" for k, w in value.items())
    if isinstance(value, tuple):
        return "`" + ",".join(f"{v:g}" for v in value) + "`"
    return f"`{value}`"


def _flag(option: Option) -> str:
    if CLI not in option.where:
        return "—"
    if option.positional:
        return f"`{option.metavar or option.name.upper()}` (an argument)"
    if option.kind == "bool" and option.recipe:
        flag = f"`{option.cli_flag}`, `--no-{option.cli_flag[2:]}`"
    else:
        flag = f"`{option.cli_flag} {option.metavar or option.name.upper()}`"
        flag = f"`{option.cli_flag}`" if option.kind == "bool" else flag
    short = f"`{option.short}`, " if option.short else ""
    return short + flag + (" (required)" if option.required else "")


def _default(option: Option, preset: dict[str, Any]) -> Any:
    """A recipe option's default is the default preset's, unless the command has its own."""
    if option.recipe and option.default == OPTION[option.name].default:
        return preset[option.name]
    return option.default


def _row(option: Option, default: Any, python: bool) -> str:
    cells = [
        f"`{option.name}`" if python and PYTHON in option.where else "—",
        _flag(option),
        f"`{option.file_key}`" if FILE in option.where else "—",
        option.requirement(),
        _value(default),
        option.help,
    ]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def table(command: str) -> str:
    """The Markdown table of one command's options."""
    title, python = _TITLES[command]
    preset = defaults()
    lines = [f"## {title}", ""]
    if python:
        lines += [f"Python: {python}.", ""]
    lines += [
        "| Keyword | Flag | File key | Value | Default | What it does |",
        "|---|---|---|---|---|---|",
    ]
    for o in SCHEMA[command]:
        lines.append(_row(o, _default(o, preset), python is not None))
    return "\n".join(lines) + "\n"


def render() -> str:
    """The whole page: the intro, then a table per command."""
    return "\n".join([_INTRO, *(table(command) for command in SCHEMA)])


if __name__ == "__main__":
    print(render(), end="")
