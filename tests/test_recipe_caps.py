"""Issue 23: every recipe number has a sane range, checked alike for flags, TOML files, a
dream's metadata (``--config-from``), the studio and Python keywords; a crafted PNG recipe gets
a one-line refusal and no output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin
from test_cli import assert_one_line_error, photo, run_cli

import inceptionism
from inceptionism import DreamError, make_config
from inceptionism.limits import MAX_DEPTH, MAX_ENTRIES, MAX_ITERATIONS, MAX_TEXT


def crafted_png(path: Path, config_json: str) -> Path:
    """A real PNG whose deepdream metadata holds ``config_json`` as the recipe, written by
    hand (``json.dumps`` would never write some of these)."""
    info = PngImagePlugin.PngInfo()
    info.add_text("inceptionism", '{"software": "inceptionism", "config": ' + config_json + "}")
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(path, pnginfo=info)
    return path


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


CRAFTED = {
    "huge iterations": ('{"iterations": 1000000000000}', "invalid iterations 1000000000000"),
    "negative octaves": ('{"octaves": -3}', "invalid octaves -3"),
    "huge octaves": ('{"octaves": 1000000000}', "invalid octaves"),
    "NaN step": ('{"step": NaN}', "invalid step nan"),
    "negative step": ('{"step": -1}', "invalid step -1.0"),
    "zero step": ('{"step": 0}', "need a finite number > 0"),
    "infinite step": ('{"step": Infinity}', "invalid step inf"),
    "string octaves": ('{"octaves": "6"}', "octaves must be a whole number"),
    "float iterations": ('{"iterations": 2.5}', "iterations must be a whole number"),
    "bool jitter": ('{"jitter": true}', "jitter must be a whole number"),
    "huge jitter": ('{"jitter": 99999999}', "invalid jitter"),
    "huge smooth": ('{"smooth": 1e300}', "invalid smooth"),
    "huge octave scale": ('{"octave_scale": 1e308}', "invalid octave scale"),
    "huge max side": ('{"max_side": 10000000000}', "invalid max side"),
    "huge tile": ('{"tile": 10000000000}', "invalid tile"),
    "huge weight": ('{"layers": {"block4": 1e300}}', "invalid weight"),
    "NaN weight": ('{"layers": {"block4": NaN}}', "invalid weight"),
    "list in a layer list": ('{"layers": [[["block4"]]]}', "layers must be"),
    "huge string": ('{"guide_layer": "' + "x" * 1_000_000 + '"}', "at most 4,096"),
    "huge list": (
        '{"classes": ' + json.dumps([str(i) for i in range(100_000)]) + "}",
        "100,000 classes",
    ),
    "many layers": (
        '{"layers": ' + json.dumps({f"block{i}": 1 for i in range(5000)}) + "}",
        "5,000 layers",
    ),
    "deep extra": ('{"extra": {"a": ' + nested(50) + "}}", "nested too deeply"),
    "very deep JSON": ('{"extra": ' + nested(200_000) + "}", "holds no deepdream settings"),
}


@pytest.mark.parametrize("name", CRAFTED)
def test_a_crafted_png_recipe_is_refused_in_one_line(name, tmp_path, capsys):
    text, words = CRAFTED[name]
    crafted = crafted_png(tmp_path / "crafted.png", text)
    src = photo(tmp_path / "in.png", (40, 30))
    out = tmp_path / "out.png"
    args = ["dream", src, "-o", out, "--config-from", crafted, "-q", "--device", "cpu"]
    code, _, err = run_cli(args, capsys)
    assert_one_line_error(code, err, words)
    assert len(err) < 600, err  # the huge value is not echoed back
    assert not out.exists()


def test_iterations_are_capped_alike_by_flag_file_and_python(tmp_path, capsys):
    """The one declaration: the same range and the same words however the value came."""
    src = photo(tmp_path / "in.png", (40, 30))
    huge = MAX_ITERATIONS + 1
    toml = tmp_path / "c.toml"
    toml.write_text(f"iterations = {huge}\n")
    want = f"invalid iterations {huge}: need a whole number from 0 to {MAX_ITERATIONS}"
    for extra in (["--iterations", str(huge)], ["--config", toml]):
        code, _, err = run_cli(["dream", src, "-o", tmp_path / "o.png", *extra], capsys)
        assert_one_line_error(code, err, want)
    with pytest.raises(DreamError, match=want):
        inceptionism.dream(np.zeros((32, 32, 3), np.float32), iterations=huge)
    with pytest.raises(DreamError, match=want):  # the studio's recipe is make_config's
        make_config(iterations=huge)
    assert make_config(iterations=MAX_ITERATIONS).iterations == MAX_ITERATIONS


def test_a_negative_or_zero_step_is_refused_on_the_command_line(tmp_path, capsys):
    src = photo(tmp_path / "in.png", (40, 30))
    for step in ("-1", "0"):
        code, _, err = run_cli(["dream", src, "--step", step, "-q"], capsys)
        assert_one_line_error(code, err, f"invalid step {float(step)}: need a finite number > 0")
    assert not list(tmp_path.glob("*.dream*"))


def test_text_and_list_caps_allow_every_real_recipe():
    cfg = make_config(classes=[str(i) for i in range(MAX_ENTRIES)], extra={"a": {"b": [1, 2]}})
    assert len(cfg.classes) == MAX_ENTRIES
    with pytest.raises(DreamError, match="at most 4,096"):
        make_config(guide_layer="x" * (MAX_TEXT + 1), guide="g.png")
    deep: object = []
    for _ in range(MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(DreamError, match="nested too deeply"):
        make_config(extra={"deep": deep})


# -- the atlas's sheet ----------------------------------------------------------------------------


def test_an_atlas_sheet_too_big_is_refused_before_any_dream(tmp_path, capsys):
    """``--columns 1000000`` on one tile used to allocate 23 GB and then blame --max-side.
    Refused before the progress bar (no ``-q``: a bar would show ``0/1``) and any dream."""
    src = photo(tmp_path / "in.png", (64, 48))
    out = tmp_path / "sheet.png"
    args = ["atlas", src, "-o", out, "--layer", "block3", "--channels", "0", "--columns",
            "1000000", "--iterations", "1", "--octaves", "1", "--device", "cpu"]  # fmt: skip
    code, _, err = run_cli(args, capsys)
    assert_one_line_error(code, err, "the sheet would be", "megapixels", "--columns")
    assert "out of memory" not in err and "0/1" not in err
    assert not out.exists()


def test_sheet_check_agrees_with_the_sheet_drawn():
    from inceptionism.atlas import MAX_SHEET_PIXELS, check_sheet, contact_sheet

    tile = np.zeros((20, 30, 3), np.uint8)
    sheet = contact_sheet([("a", tile)] * 5, columns=7, title="t")
    assert check_sheet(5, (20, 30), 7, "t") == 7
    assert sheet.width * sheet.height <= MAX_SHEET_PIXELS
    with pytest.raises(DreamError, match="sheet would be"):
        contact_sheet([("a", tile)], columns=10_000_000)
    with pytest.raises(DreamError, match="invalid columns 0"):
        check_sheet(1, (20, 30), 0)


# -- no silent settings ---------------------------------------------------------------------------


def test_fewer_octaves_than_asked_say_so_and_config_from_repeats_the_dream(tmp_path, capsys):
    """``--octaves 3`` on a 96x72 picture runs 1: a note on stderr and in the metadata, whose
    recipe still says 3, so ``--config-from`` gives the same dream byte for byte."""
    from inceptionism.io import read_metadata

    src = photo(tmp_path / "in.png", (120, 90))
    first, second = tmp_path / "first.png", tmp_path / "second.png"
    flags = ["--octaves", "3", "--iterations", "1", "--max-side", "96", "-q", "--device", "cpu"]
    code, _, err = run_cli(["dream", src, "-o", first, *flags], capsys)
    assert code == 0, err
    (note,) = err.strip().splitlines()
    assert note.startswith("deepdream: note: in.png: 1 of 3 octaves run: at 96x72 px")
    assert "under the 65 px these layers need" in note
    meta = read_metadata(first)
    assert meta["config"]["octaves"] == 3 and meta["octaves_run"] == 1
    assert meta["notes"] == [note.split(": ", 3)[3]]
    code, _, err = run_cli(["dream", src, "-o", second, "--config-from", first, "-q"], capsys)
    assert code == 0 and err.strip() == note
    assert read_metadata(second)["config"] == meta["config"]
    assert first.read_bytes() == second.read_bytes()


def test_all_octaves_run_means_no_note(tmp_path, capsys):
    from inceptionism.io import read_metadata

    src = photo(tmp_path / "in.png", (120, 90))
    out = tmp_path / "o.png"
    code, _, err = run_cli(
        ["dream", src, "-o", out, "--octaves", "1", "--iterations", "1", "-q"], capsys
    )
    assert code == 0 and err == ""
    meta = read_metadata(out)
    assert meta["octaves_run"] == 1 and "notes" not in meta


def test_a_tile_much_slower_than_untiled_says_so(tmp_path, capsys):
    from inceptionism.algorithm.tiling import SLOW_TILE_OVERHEAD, tile_overhead
    from inceptionism.session import Dreamer

    dreamer = Dreamer(None, make_config(tile=192), device="cpu")
    (note,) = dreamer.notes((427, 640))
    assert note.startswith("tile 192 on 640x427 px evaluates about 5.9x its pixels")
    assert "64 px margins around 64 px cores" in note and "slower than untiled" in note
    assert tile_overhead((427, 640), 512, 64, 16) < SLOW_TILE_OVERHEAD  # 1.6x: no note
    for tile in (0, "auto", 512, 1024):
        assert Dreamer(None, make_config(tile=tile), device="cpu").notes((427, 640)) == []
    src = photo(tmp_path / "in.png", (320, 240))
    args = ["dream", src, "-o", tmp_path / "o.png", "--tile", "160", "--iterations", "0", "-q"]
    code, _, err = run_cli(args, capsys)
    assert code == 0 and err.startswith("deepdream: note: in.png: tile 160 on 320x240 px")


# -- own models get a default layer -------------------------------------------------------------

OWN_NET = """
from torch import nn


def factory():
    stage = lambda cin, cout: [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(
        *stage(3, 8), *stage(8, 16), *stage(16, 16), *stage(16, 32), *stage(32, 32),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )
"""


def test_an_own_model_gets_a_starred_default_layer_and_dreams_on_it(tmp_path, capsys):
    """The deepest activation at stride 16 (the ReLU before the last pool), not nothing."""
    from inceptionism.io import read_metadata

    net = tmp_path / "my_net.py"
    net.write_text(OWN_NET)
    code, out, _ = run_cli(["layers", "--model", f"{net}:factory"], capsys)
    assert code == 0
    starred = [ln.split()[0] for ln in out.splitlines() if ln.endswith(" *")]
    assert starred == ["13"] and out.rstrip().endswith("* default layer")
    assert "     16  13 *" in out
    src = photo(tmp_path / "in.png", (96, 80))
    dream = ["dream", src, "-o", tmp_path / "o.png", "--model", f"{net}:factory", "-q"]
    code, _, err = run_cli([*dream, "--octaves", "1", "--iterations", "1"], capsys)
    assert code == 0, err
    assert read_metadata(tmp_path / "o.png")["layers"] == {"13": 1.0}


def test_default_layer_rules():
    from inceptionism.models.base import LayerInfo
    from inceptionism.models.custom import from_module, pick_default_layer

    def info(*strides: int) -> list[LayerInfo]:
        return [LayerInfo(str(i), 8, s, str(i)) for i, s in enumerate(strides)]

    assert pick_default_layer(info(1, 2, 4, 8, 8, 32, 0)) == "4"  # deepest at stride 8
    assert pick_default_layer(info(32, 32, 32, 64, 0)) == "2"  # coarse at once: 2/3 depth
    assert pick_default_layer(info(0, 0)) is None  # nothing spatial: no default
    import torch.nn as nn

    own = from_module(nn.Sequential(nn.Conv2d(3, 4, 3)), default_layers={"0": 2.0})
    assert own.default_layers == {"0": 2.0}  # a model's own choice is kept


# -- missing extras -------------------------------------------------------------------------------

#: Run in a fresh interpreter: the named top-level modules fail to import through the real
#: import machinery (a meta-path finder first in line), then the code or the CLI runs.
BLOCKER = """
import importlib.abc, sys

blocked = set(sys.argv[1].split(","))


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Blocker())
if sys.argv[2] == "-c":
    exec(sys.argv[3])
else:
    from inceptionism.frontends.cli import main
    raise SystemExit(main(sys.argv[2:]))
"""

SRC = str(Path(__file__).resolve().parents[1] / "src")


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip() and "\r" not in ln]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


#: In the blocked interpreter: the Python API, then each command line, with what each said.
EXTRA_CHECKS = """
import contextlib, io, json, sys
import inceptionism
from inceptionism.frontends.cli import main

src, out = sys.argv[4], sys.argv[5]
try:
    inceptionism.dream_zoom(src, out + "/z.mp4", frames=2)
except inceptionism.DreamError as e:
    print(json.dumps(["api", isinstance(e, ImportError), str(e)]))
for argv in (["zoom", src, "-o", out + "/z.mp4", "--frames", "2", "-q"],
             ["ui", "--port", "0"], ["dream", src, "--ray", "-o", out + "/dreams"]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    print(json.dumps([argv[0], code, err.getvalue()]))
"""


@pytest.mark.slow
def test_a_missing_extra_is_one_line_from_the_cli_and_from_python(tmp_path):
    """OpenCV, Gradio and Ray blocked: ``inceptionism.dream_zoom``, ``deepdream zoom``, ``ui``
    and ``dream --ray`` each say, in one line, what is missing and which extra installs it
    (``dream_zoom`` was a bare ModuleNotFoundError). One interpreter: one torch import."""
    import os
    import subprocess
    import sys

    from inceptionism.extras import MissingExtra

    src = photo(tmp_path / "in.png", (96, 80))
    script = tmp_path / "blocker.py"
    script.write_text(BLOCKER)
    argv = [sys.executable, script, "cv2,gradio,ray", "-c", EXTRA_CHECKS, src, tmp_path]
    env = {**os.environ, "PYTHONPATH": SRC}
    p = subprocess.run(list(map(str, argv)), capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    said = [json.loads(line) for line in p.stdout.splitlines()]
    assert said[0] == ["api", True, "video needs OpenCV: pip install 'inceptionism[video]'"]
    want = {
        "zoom": "deepdream: error: video needs OpenCV: pip install 'inceptionism[video]'",
        "ui": "deepdream: error: the web studio needs Gradio: pip install 'inceptionism[ui]'",
        "dream": "deepdream: error: --ray (on this machine and every node) needs Ray: pip "
        "install 'inceptionism[ray]'",
    }
    for command, code, err in said[1:]:
        assert code == 1 and one_line(err) == want.pop(command), err
    assert not want and sorted(q.name for q in tmp_path.iterdir()) == ["blocker.py", "in.png"]
    assert issubclass(MissingExtra, DreamError) and issubclass(MissingExtra, ImportError)


def test_require_extra_names_the_extra():
    from inceptionism.extras import MissingExtra, require_extra

    assert require_extra("json").dumps([]) == "[]"
    with pytest.raises(MissingExtra, match=r"^video needs no_such_module_x: pip install "):
        require_extra("no_such_module_x", "video", "video")


# -- --help: examples that work as pasted ---------------------------------------------------------


def example_argv(line: str) -> tuple[list[str], str | None]:
    """An example's words after ``deepdream`` (its comment dropped) and its ``> FILE``."""
    import shlex

    words = shlex.split(line, comments=True)
    assert words[0] == "deepdream"
    redirect = None
    if ">" in words:
        redirect = words[words.index(">") + 1]
        words = words[: words.index(">")]
    return words[1:], redirect


def test_every_help_has_examples_and_they_parse(capsys):
    from inceptionism.frontends.cli import EXAMPLES, build_parser

    commands = ["", "dream", "layers", "models", "classes", "atlas", "ui", "video", "zoom"]
    assert set(EXAMPLES) == set(commands)
    for name in commands:
        code, out, _ = run_cli([*([name] if name else []), "--help"], capsys)
        assert code == 0 and "\nexamples:\n" in out, name
        for line in EXAMPLES[name]:
            assert f"\n  {line}\n" in out or out.endswith(f"  {line}\n"), line
            argv, _ = example_argv(line)
            assert build_parser().parse_args(argv).command == argv[0]


def test_video_and_zoom_help_show_the_preset_values_they_promise(capsys):
    for name in ("video", "zoom"):
        code, out, _ = run_cli([name, "--help"], capsys)
        flat = " ".join(out.split())
        assert code == 0 and "[default preset, efficientnet-lite0: 3]" in flat, name
        code, out, _ = run_cli([name, "--preset", "seed", "--help"], capsys)
        assert "number of scales [seed preset, efficientnet-lite0: 10]" in " ".join(out.split())


def run_example(line: str, root: Path, capsys) -> str:
    from inceptionism.frontends.cli import main

    argv, redirect = example_argv(line)
    assert main(argv) == 0, (line, capsys.readouterr().err)
    out = capsys.readouterr().out
    if redirect:
        (root / redirect).write_text(out)
    return out


def test_the_listing_examples_run_as_pasted(tmp_path, monkeypatch, capsys):
    from inceptionism.frontends.cli import EXAMPLES

    monkeypatch.chdir(tmp_path)
    for name in ("layers", "models", "classes"):
        for line in EXAMPLES[name]:
            assert run_example(line, tmp_path, capsys).strip()


def test_the_dream_examples_name_real_layers_classes_and_presets(tmp_path, monkeypatch, capsys):
    """Each dream example's settings, checked as a dream checks them (``--print-config``
    resolves the layers and classes), without the minute of dreaming them all."""
    from inceptionism.frontends.cli import EXAMPLES, SAMPLE

    assert (Path(SRC).parent / SAMPLE).is_file()
    monkeypatch.chdir(tmp_path)
    for line in EXAMPLES["dream"]:
        if "--config-from" not in line:  # needs cat.png made first
            argv, _ = example_argv(line)
            run_example(shlex_join([*argv, "--print-config"]), tmp_path, capsys)


def shlex_join(argv: list[str]) -> str:
    import shlex

    return "deepdream " + shlex.join(argv)


def test_run_options_have_their_range_too(tmp_path, capsys):
    """``--threads`` is no recipe option, so no recipe checked it: 0 and 100000 ran."""
    toml = tmp_path / "t.toml"
    toml.write_text("threads = 0\n")
    want = "invalid threads {}: need a whole number of threads from 1 to 1024"
    for words, bad in ((["--threads", "100000"], 100000), (["--config", toml], 0)):
        code, _, err = run_cli(["dream", tmp_path / "in.png", *words], capsys)
        assert_one_line_error(code, err, want.format(bad))
