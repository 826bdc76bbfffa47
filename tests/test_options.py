"""The options schema: every option is taken by the CLI, a TOML file and Python alike, checked in
one place with one message, and the recipe survives an output's metadata (``--config-from``)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from test_cli import photo, run_cli

import inceptionism
from inceptionism import DreamConfig, DreamError, make_config
from inceptionism.config import defaults, reference_max_loss
from inceptionism.frontends import cli, configfile
from inceptionism.io import read_metadata
from inceptionism.io.images import standard_json
from inceptionism.options import OPTION, OPTIONS, RECIPE, RUN, check_keywords

# name -> (command-line words, TOML line, Python value, the value the recipe or run ends with).
# Every option must be here (the walk below fails otherwise), with a value that is not its
# default, so that taking it is visible; together they make one valid dream.
SAMPLES = {
    "model": (["--model", "efficientnet-lite0"], 'model = "efficientnet-lite0"',
              "efficientnet-lite0", "efficientnet-lite0"),
    "layers": (["--layer", "block4=2", "--layer", "block5:3"],
               'layer = ["block4=2", "block5:3"]', {"block4": 2.0, "block5:3": 1.0},
               {"block4": 2.0, "block5:3": 1.0}),
    "classes": (["--class", "tabby=0.5"], 'classes = ["tabby=0.5"]', {"tabby": 0.5},
                {"tabby": 0.5}),
    "guide": (["--guide", "GUIDE"], 'guide = "GUIDE"', "GUIDE", "GUIDE"),
    "guide_layer": (["--guide", "GUIDE", "--guide-layer", "block4"],
                    'guide = "GUIDE"\nguide_layer = "block4"', "block4", "block4"),
    "guide_weight": (["--guide-weight", "0.5"], "guide_weight = 0.5", 0.5, 0.5),
    "smooth": (["--smooth", "1.5"], "smooth = 1.5", 1.5, 1.5),
    "lap_norm": (["--lap-norm", "3"], "lap_norm = 3", 3, 3),
    "preserve_colors": (["--preserve-colors"], "preserve_colors = true", True, True),
    "clip": (["--no-clip"], "clip = false", False, False),
    "clip_knee": (["--clip-knee", "16"], "clip_knee = 16", 16.0, 16.0),
    "preset": (["--preset", "seed"], 'preset = "seed"', "seed", "seed"),
    "octaves": (["--octaves", "2"], "octaves = 2", 2, 2),
    "octave_scale": (["--octave-scale", "1.3"], "octave-scale = 1.3", 1.3, 1.3),
    "iterations": (["--iterations", "1"], "iterations = 1", 1, 1),
    "step": (["--step", "0.03"], "step = 0.03", 0.03, 0.03),
    "max_loss": (["--max-loss", "inf"], "max_loss = inf", math.inf, math.inf),
    "jitter": (["--jitter", "4"], "jitter = 4", 4, 4),
    "seed": (["--seed", "7"], "seed = 7", 7, 7),
    "device": (["--device", "cpu"], 'device = "cpu"', "cpu", "cpu"),
    "precision": (["--precision", "fp32"], 'precision = "fp32"', "fp32", "fp32"),
    "weights": (["--weights", "w.pth"], 'weights = "w.pth"', "w.pth", "w.pth"),
    "threads": (["--threads", "1"], "threads = 1", 1, 1),
    "max_side": (["--max-side", "96"], "max_side = 96", 96, 96),
    "tile": (["--tile", "0"], "tile = 0", 0, 0),
    "quiet": (["-q"], None, None, True),
    "overwrite": (["--overwrite"], None, None, True),
}  # fmt: skip


def with_guide(sample, guide: str):
    return json.loads(json.dumps(sample).replace("GUIDE", guide).replace("Infinity", "1e999"))


def parse(argv: list) -> tuple:
    """(recipe, run values) as the CLI gets them, settings files applied."""
    argv = ["dream", *map(str, argv)]
    args = cli.build_parser().parse_args(argv)
    given = set(vars(cli.build_parser(given_only=True).parse_args(argv)))
    args = configfile.apply(args, given)
    return cli.recipe(args), {o.name: getattr(args, o.name) for o in RUN}


def test_the_schema_is_the_recipe():
    fields = {f.name: f for f in dataclasses.fields(DreamConfig)}
    assert [o.name for o in RECIPE] == [n for n in SAMPLES if OPTION[n].recipe]
    assert {o.name for o in RECIPE} == set(fields) - {"extra"}
    plain = DreamConfig()
    for o in RECIPE:
        if o.name == "preset":  # DreamConfig() is the bare reference; front ends start from one
            assert plain.preset is None and make_config().preset == o.default
            continue
        if o.name == "max_loss":  # None: the reference's limit in the model's loss scale
            assert o.default is None and plain.max_loss == reference_max_loss(plain.model)
            continue
        assert getattr(plain, o.name) == o.default, o.name
    assert set(SAMPLES) == {o.name for o in OPTIONS}, "every option needs a sample here"


@pytest.mark.parametrize("name", [o.name for o in OPTIONS])
def test_each_option_is_taken_by_the_cli_a_file_and_python(name, tmp_path):
    words, line, py, expected = with_guide(SAMPLES[name], str(tmp_path / "g.png"))
    opt = OPTION[name]
    got = parse(words)
    assert (getattr(got[0], name) if opt.recipe else got[1][name]) == expected
    if line is not None:
        toml = tmp_path / "c.toml"
        toml.write_text(line + "\n")
        got = parse(["--config", toml])
        assert (getattr(got[0], name) if opt.recipe else got[1][name]) == expected
    else:
        assert opt.where == {"cli"}  # quiet, overwrite: how this command shows its work
    if opt.recipe:
        needs = {"guide": "g.png"} if name == "guide_layer" else {}  # a guide layer needs a guide
        assert getattr(make_config(**{name: py}, **needs), name) == expected
    elif py is not None:
        check_keywords({name: py}, RUN)


def test_a_form_can_be_drawn_from_the_schema():
    for o in OPTIONS:
        field = o.describe()
        json.dumps({k: v for k, v in field.items() if k != "default"})  # plain data
        assert field["help"] and field["group"] and field["requirement"]
        if o.kind == "choice":
            assert field["choices"]
    assert OPTION["octaves"].describe()["minimum"] == 1
    assert OPTION["preset"].describe()["choices"] == ["default", "seed"]
    assert defaults()["octaves"] == 3 and defaults("seed")["octaves"] == 10


@pytest.mark.parametrize(
    "name,bad,words",
    [
        ("octaves", 0, ["invalid octaves 0", "whole number from 1 to 100"]),
        ("jitter", -2, ["invalid jitter -2"]),
        ("octave_scale", 1.0, ["invalid octave scale 1.0", "> 1"]),
        ("step", math.inf, ["invalid step inf", "finite"]),
        ("seed", -1, ["invalid seed -1", "2**64-1"]),
        ("smooth", -1.0, ["invalid smooth -1.0"]),
        ("tile", -1, ["tile"]),
        ("max_side", 0, ["invalid max side 0"]),
    ],
)
def test_one_message_whichever_way_a_value_came(name, bad, words, tmp_path, capsys):
    with pytest.raises(DreamError) as python:
        make_config(**{name: bad})
    message = str(python.value)
    for w in words:
        assert w in message
    with pytest.raises(DreamError) as api:
        inceptionism.dream(np.zeros((64, 64, 3), np.float32), **{name: bad})
    assert str(api.value) == message
    toml = tmp_path / "c.toml"
    value = "inf" if bad == math.inf else str(bad)
    toml.write_text(f"{name} = {value}\n")
    src = photo(tmp_path / "in.png")
    code, _, err = run_cli(["dream", src, "--config", toml, "-q"], capsys)
    assert code == cli.EXIT_ERROR and err.strip() == f"deepdream: error: {message}"
    code, _, err = run_cli(["dream", src, f"--{name.replace('_', '-')}", value], capsys)
    assert code == cli.EXIT_ERROR and err.strip() == f"deepdream: error: {message}"


def test_python_keywords_are_checked():
    image = np.zeros((64, 64, 3), np.float32)
    with pytest.raises(DreamError, match=r"unknown option 'octave'.*did you mean 'octaves'"):
        inceptionism.dream(image, octave=3)
    with pytest.raises(
        DreamError, match=r"octaves must be a whole number( from 1 to \d+)?, got float 2\.5"
    ):
        inceptionism.dream(image, octaves=2.5)
    with pytest.raises(DreamError, match="layers must be a mapping"):
        inceptionism.dream(image, layers="block8")
    with pytest.raises(DreamError, match="unknown precision 'fp8'"):
        inceptionism.dream(image, precision="fp8")
    with pytest.raises(DreamError, match="unknown device 'tpu'"):
        inceptionism.dream(image, device="tpu")
    with pytest.raises(DreamError, match="invalid threads 0"):
        inceptionism.dream(image, threads=0)


def test_settings_files_need_no_argparse_internals():
    source = Path(configfile.__file__).read_text()
    assert "_actions" not in source and "_SubParsersAction" not in source


@pytest.mark.slow
def test_every_recipe_option_survives_an_output_s_metadata(tmp_path, capsys):
    """One dream with every recipe option away from its default; ``--config-from`` on its
    output gives the same recipe, option by option, and the same pixels."""
    guide = photo(tmp_path / "g.png", (96, 96))
    src = photo(tmp_path / "in.png", (120, 90))
    words = []
    for name in SAMPLES:
        if OPTION[name].recipe:
            words += with_guide(SAMPLES[name], str(guide))[0]
    first = tmp_path / "first.png"
    code, _, err = run_cli(["dream", src, "-o", first, *words, "--device", "cpu", "-q"], capsys)
    assert code == 0, err
    made, _ = parse(words)
    stored = read_metadata(first)["config"]
    # a file named in an image's metadata is opened only when named again (issue 9, safety)
    again, _ = parse(["--config-from", first, "--guide", str(guide)])
    for o in RECIPE:
        expected = getattr(made, o.name)
        as_json = standard_json(dict(expected) if isinstance(expected, dict) else expected)
        assert stored[o.name] == as_json
        assert getattr(again, o.name) == expected, o.name
    second = tmp_path / "second.png"
    again_words = ["--config-from", first, "--guide", guide, "-q"]
    code, _, err = run_cli(["dream", src, "-o", second, *again_words], capsys)
    assert code == 0, err
    assert read_metadata(second)["config"] == stored
    assert np.array_equal(np.asarray(_img(first)), np.asarray(_img(second)))


def _img(path: Path):
    from PIL import Image

    return Image.open(path)


def test_a_presets_layers_give_way_to_steering_as_the_models_do():
    """lite0's default preset dreams at block10 + block8 (issue 20); a class or a guide alone
    still dreams of that alone (no layer mixed in), and an explicit --layer replaces them."""
    lite0 = "efficientnet-lite0"
    assert make_config(model=lite0).layers == {"block10": 1.0, "block8": 1.0}
    assert make_config(model=lite0, classes={"1": 1.0}).layers is None
    assert make_config(model=lite0, guide="g.png").layers is None
    assert make_config(model=lite0, classes={"1": 1.0}, layers={"block8": 1.0}).layers == {
        "block8": 1.0
    }
    assert make_config("seed", model=lite0).layers is None  # the model's block10
