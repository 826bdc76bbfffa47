"""One pure schema (issue 19, item 2): every option of every command is declared once, in
``inceptionism.options`` / ``inceptionism.command_options``, and each way in takes it from there.

Walked over the whole schema (each option one case): its flag parses a sample word to the
schema's value, on the real ``deepdream`` parser; a settings-file key round-trips through TOML;
a recipe value round-trips through an output's metadata; a Python keyword is taken with the
schema's default. ``DreamConfig`` and ``VideoSettings`` are built from it, and the docs' option
reference is generated from it.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import math
import pickle
import sys
import typing
from pathlib import Path

import pytest

from inceptionism import DreamConfig, make_config
from inceptionism.command_options import SCHEMA
from inceptionism.frontends import arguments, cli, configfile, filekeys, reference
from inceptionism.io.images import standard_json
from inceptionism.options import CLI, FILE, OPTIONS, PYTHON, RECIPE, Option, check_keywords
from inceptionism.video.clip import OUTPUT_OPTIONS, VideoSettings, dream_video, video_frames
from inceptionism.video.zoom import dream_zoom

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).parents[1]
CASES = [(command, o) for command, options in SCHEMA.items() for o in options]
IDS = [f"{command}-{o.name}" for command, o in CASES]
#: Which subcommand of ``deepdream`` takes each list (``--ray``'s: dream's and video's).
PARSERS = {"ray": "dream", "video-ray": "video"}
#: The Python functions that take each list's keywords.
FUNCTIONS = {"video": (dream_video, video_frames), "zoom": (dream_zoom,)}


def sample(o: Option) -> typing.Any:
    """A valid value of ``o`` that is not its default, derived from its declaration."""
    if o.kind == "choice":
        return next(c for c in reversed(o.allowed()) if c != o.default)
    if o.kind in ("int", "float", "tile"):
        low = 0 if o.minimum is None else o.minimum
        value = low + 1 if o.maximum is None else min(low + 1, o.maximum)
        value = value if value != o.default else value + 1
        return float(value) if o.kind == "float" else int(value)
    return {
        "bool": not o.default,
        "str": "block4" if "layer" in o.name else "sample",
        "path": "sample.png",
        "device": "cpu",
        "layers": {"block4": 2.0, "block5:3": 1.0},
        "classes": {"tabby": 0.5},
        "pair": (1.0, -2.0),
    }[o.kind]


def words(o: Option, value: typing.Any) -> list[str]:
    """``value`` as the command line spells it."""
    if o.kind == "bool":
        return [o.cli_flag if value else f"--no-{o.cli_flag[2:]}"]
    if o.kind in ("layers", "classes"):
        return [w for key, weight in value.items() for w in (o.cli_flag, f"{key}={weight:g}")]
    if o.kind == "pair":
        return [o.cli_flag, ",".join(f"{v:g}" for v in value)]
    return [o.cli_flag, str(value)]


def subparser(command: str) -> argparse.ArgumentParser:
    root = cli.build_parser()
    sub = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[PARSERS.get(command, command)]


def as_taken(o: Option, value: typing.Any) -> typing.Any:
    """What a parser's namespace holds for ``value``: weights as (name, weight) pairs."""
    return list(value.items()) if o.kind in ("layers", "classes") else value


@pytest.mark.parametrize(("command", "o"), CASES, ids=IDS)
def test_the_flag_is_the_schema_s(command, o):
    if CLI not in o.where:
        assert command in ("dream", "video") and o.where <= {FILE, PYTHON}
        return
    parser = subparser(command)
    action = next(
        a
        for a in parser._actions
        if o.cli_flag in a.option_strings or (o.positional and a.dest == o.name)
    )
    assert action.dest == o.name
    shown = (action.help or "") % {"default": action.default}
    assert shown == o.help or (o.recipe and shown.startswith(o.help + " [")), shown  # + preset's
    if o.kind != "bool":
        assert action.metavar == o.metavar
    assert action.required == o.required
    if not o.recipe:
        assert action.default == o.default
    value, spelled = sample(o), words(o, sample(o))
    if o.kind == "bool":
        taken = value
    elif o.kind == "layers":
        taken = dict(action.type(w) for w in spelled[1::2])
    elif o.kind == "classes":
        taken = dict(pair for w in spelled[1::2] for pair in action.type(w))
    else:  # the parser reads the word as the schema does
        taken = (action.type or str)(spelled[1])
        assert taken == arguments.parse_word(o, spelled[1])
    assert o.check(taken) == value


@pytest.mark.parametrize(("command", "o"), CASES, ids=IDS)
def test_the_file_key_round_trips_through_toml(command, o):
    if FILE not in o.where:
        return
    value = sample(o)
    text = configfile.dumps(filekeys.to_file({o.name: value}))
    back = filekeys.from_file(tomllib.loads(text), "c.toml")
    assert back == {o.name: as_taken(o, value)}


@pytest.mark.parametrize("o", RECIPE, ids=[o.name for o in RECIPE])
def test_the_recipe_value_round_trips_through_metadata(o):
    needs = {"guide": "g.png"} if o.name == "guide_layer" else {}
    for value in (sample(o), math.inf if o.name == "max_loss" else sample(o)):
        config = make_config(**{o.name: value}, **needs)
        stored = json.loads(
            json.dumps(standard_json(config.to_dict()))
        )  # as an output's metadata holds it
        assert getattr(DreamConfig.from_dict(stored), o.name) == getattr(config, o.name)
        assert pickle.loads(pickle.dumps(config)) == config  # Ray ships it


@pytest.mark.parametrize(("command", "o"), CASES, ids=IDS)
def test_the_python_keyword_is_the_schema_s(command, o):
    if PYTHON not in o.where or command not in ("dream", *FUNCTIONS):
        return
    if command == "dream":
        check_keywords({o.name: sample(o)}, OPTIONS)
        return
    for function in FUNCTIONS[command]:
        if o.name in OUTPUT_OPTIONS and function is video_frames:
            continue  # nothing is written: no encoder, no work folder
        parameter = inspect.signature(function).parameters[o.name]
        default = inspect.Parameter.empty if o.required else o.default
        assert parameter.default == default, (function.__name__, o.name)


def test_dream_config_and_video_settings_are_built_from_the_schema():
    hints = typing.get_type_hints(DreamConfig)
    for o in RECIPE:
        assert hints[o.name] == o.python_type
    assert [f.name for f in dataclasses.fields(DreamConfig)][-1] == "extra"
    video = {f.name: f.default for f in dataclasses.fields(VideoSettings)}
    for o in SCHEMA["video"]:
        assert (o.name in video) == (o.name not in OUTPUT_OPTIONS)
        if o.name in video:
            assert video[o.name] == o.default


def test_the_schema_imports_no_front_end():
    """options.py, option_checks.py and command_options.py: the second layer from the bottom."""
    allowed = {"errors", "limits", "runtime", "options", "option_checks"}
    for name in ("options.py", "option_checks.py", "command_options.py"):
        tree = ast.parse((ROOT / "src" / "inceptionism" / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                taken = [node.module] if node.module else [a.name for a in node.names]
                assert set(taken) <= allowed, (name, taken)
            if isinstance(node, ast.Import):
                ours = [a.name for a in node.names if a.name.startswith("inceptionism")]
                assert {n.removeprefix("inceptionism.") for n in ours} <= allowed, (name, ours)
            assert not (isinstance(node, ast.Name) and node.id == "argparse"), name


def test_the_option_reference_is_current():
    page = ROOT / "docs" / "options.md"
    assert page.read_text() == reference.render(), (
        f"docs/options.md is stale: run `{reference.REGENERATE}` from the checkout's root"
    )


#: The modules of the commands whose flags all come from ``command_options.SCHEMA``: by hand
#: they add only their positional arguments and ``-o/--output``.
FLAG_MODULES = ("zoom.py", "atlas.py", "studio.py", "live.py", "ray_flags.py")


@pytest.mark.parametrize("module", FLAG_MODULES)
def test_no_flag_is_written_by_hand(module):
    tree = ast.parse((ROOT / "src" / "inceptionism" / "frontends" / "cli" / module).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            words = [a.value for a in node.args if isinstance(a, ast.Constant)]
            assert words and all(not w.startswith("-") or w in ("-o", "--output") for w in words)


@pytest.mark.parametrize("command", ["zoom", "atlas", "ui", "live"])
def test_each_flag_of_a_command_is_declared(command):
    """Every flag of the command is its schema's, the dream's, or help/output/config; and
    every argument its schema declares (``live``'s SOURCE) is there, as an argument."""
    own = {o.name for o in SCHEMA[command] if not o.positional}
    declared = own | {"help", "output"}
    if command in ("zoom", "live"):
        declared |= {a.dest for a in subparser("dream")._actions if a.option_strings}
    flags = {a.dest for a in subparser(command)._actions if a.option_strings}
    assert own <= flags <= declared, flags - declared
    positionals = {a.dest for a in subparser(command)._actions if not a.option_strings}
    assert {o.name for o in SCHEMA[command] if o.positional} <= positionals


@pytest.mark.parametrize(
    ("argv", "ray"),
    [([], None), (["--ray"], ""), (["--ray", "auto"], "auto"), (["--ray=ray://h:1"], "ray://h:1")],
)
def test_ray_takes_an_optional_address_from_the_schema(argv, ray):
    """``Option.bare``: the flag alone is the local Ray (``""``), with a word an address."""
    assert cli.build_parser().parse_args(["dream", "a.png", *argv]).ray == ray
    assert cli.build_parser().parse_args(["video", "a.mp4", "-o", "b.mp4", *argv]).ray == ray


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["zoom", "a.png", "-o", "b.mp4", "--frames", "x"], "--frames: invalid int value: 'x'"),
        (["zoom", "a.png", "-o", "b.mp4", "--frames", "3", "--fps", "inf"],
         "--fps: not a finite number: 'inf'"),
        (["zoom", "a.png", "-o", "b.mp4", "--frames", "3", "--translate", "1"],
         "--translate: need X,Y in pixels per second, got '1'"),
        (["atlas", "a.png", "-o", "b.png", "--columns", "x"], "--columns: invalid int value: 'x'"),
        (["ui", "--port", "abc"], "--port: invalid int value: 'abc'"),
        (["video", "a.mp4", "-o", "b.mp4", "--warm-up-frames", "z"],
         "--warm-up-frames: invalid int value: 'z'"),
    ],
)  # fmt: skip
def test_a_command_s_own_reading_of_a_word_keeps_its_message(argv, said, capsys):
    """``Option.word``: these flags read their words as before the schema declared them."""
    with pytest.raises(SystemExit) as exit_:
        cli.build_parser().parse_args(argv)
    assert exit_.value.code == 2
    command = argv[0]
    assert capsys.readouterr().err == (
        f"deepdream: error: argument {said} (see deepdream {command} --help)\n"
    )
