"""Hostile inputs (issue 9): a crafted image never runs code or opens a path, outputs never
replace an input or a non-file, errors stay one line however large the value they quote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_cli import FAST, assert_one_line_error, files_in, photo, run_cli

import inceptionism
from inceptionism.errors import DreamError
from inceptionism.io import save_image

SMALL = [*FAST, "--max-side", "96"]
SRC = str(Path(inceptionism.__file__).parents[1])  # the package under test, in a subprocess


def evil_module(folder: Path) -> tuple[Path, Path]:
    """A model file that leaves a marker when imported or called: proof that code ran."""
    marker = folder / "PWNED"
    evil = folder / "evil.py"
    evil.write_text(
        f"open({str(marker)!r}, 'w').write('imported')\n"
        "def factory():\n"
        f"    open({str(marker)!r}, 'w').write('called')\n"
        "    raise SystemExit(0)\n"
    )
    return evil, marker


def crafted(path: Path, config: dict) -> Path:
    """A real PNG whose metadata carries ``config``, as a hostile sender would make it."""
    rgb = np.random.default_rng(1).uniform(0, 255, (90, 120, 3)).astype(np.float32)
    save_image(path, rgb, None, {"software": "inceptionism", "config": config})
    return path


@pytest.mark.parametrize("extra", [[], ["--print-config"]])
def test_config_from_a_crafted_image_never_imports_code(tmp_path, capsys, extra):
    evil, marker = evil_module(tmp_path)
    src = photo(tmp_path / "in.png")
    for model in (f"{evil}:factory", "evil:factory", "os:system", str(evil)):
        bad = crafted(tmp_path / "crafted.png", {"model": model, "octaves": 2})
        before = files_in(tmp_path)
        sys.path.insert(0, str(tmp_path))  # so that "evil:factory" would be importable
        try:
            code, _, err = run_cli(["dream", src, "--config-from", bad, *SMALL, *extra], capsys)
        finally:
            sys.path.remove(str(tmp_path))
        assert_one_line_error(code, err, "own model", "command line")
        assert not marker.exists()
        assert "evil" not in sys.modules
        assert files_in(tmp_path) == before


def test_config_from_a_crafted_image_in_a_fresh_process(tmp_path):
    """The CLI as a user runs it: the marker file never appears."""
    evil, marker = evil_module(tmp_path)
    src = photo(tmp_path / "in.png")
    bad = crafted(tmp_path / "crafted.png", {"model": f"{evil}:factory"})
    p = subprocess.run(
        [sys.executable, "-m", "inceptionism", "dream", str(src), "--config-from", str(bad), "-q"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        cwd=tmp_path,
        timeout=120,
    )
    assert p.returncode != 0 and not marker.exists()
    assert len(p.stderr.strip().splitlines()) == 1 and "own model" in p.stderr


@pytest.mark.parametrize("key", ["guide", "weights"])
def test_paths_in_a_crafted_image_are_never_opened(tmp_path, capsys, key):
    src = photo(tmp_path / "in.png")
    fifo = tmp_path / "trap.png"  # opening a FIFO for reading would hang the run
    os.mkfifo(fifo)
    bad = crafted(tmp_path / "crafted.png", {key: str(fifo), "octaves": 2})
    code, _, err = run_cli(["dream", src, "--config-from", bad, *SMALL], capsys)
    assert_one_line_error(code, err, key, "never opened", f"--{key}")


def test_own_choices_on_the_command_line_win_over_a_crafted_image(tmp_path, capsys):
    evil, marker = evil_module(tmp_path)
    src = photo(tmp_path / "in.png")
    guide = photo(tmp_path / "guide.png", (100, 80))
    bad = crafted(
        tmp_path / "crafted.png",
        {"model": f"{evil}:factory", "guide": "/dev/zero", "octaves": 2, "iterations": 1},
    )
    out = tmp_path / "out.png"
    code, _, err = run_cli(
        [
            *("dream", src, "--config-from", bad, "--model", "efficientnet-lite0"),
            *("--guide", guide, "-o", out, "--max-side", "96", "-q"),
        ],
        capsys,
    )
    assert code == 0, err
    assert out.is_file() and not marker.exists()


def test_untrusted_settings_keep_the_recipe():
    from inceptionism.safety import untrusted_settings

    safe = untrusted_settings(
        {"model": "efficientnet-lite0", "octaves": 3, "layers": {"block8": 1.0}}, "metadata"
    )
    assert safe == {"model": "efficientnet-lite0", "octaves": 3, "layers": {"block8": 1.0}}
    with pytest.raises(DreamError, match="unknown model"):
        untrusted_settings({"model": "no-such-net"}, "metadata")
    with pytest.raises(DreamError, match="own model"):
        untrusted_settings({"model": "os:system"}, "metadata")
    assert untrusted_settings({"model": "os:system"}, "metadata", given=["model"]) == {}


def test_deeply_nested_metadata_is_no_metadata(tmp_path, capsys):
    src = photo(tmp_path / "in.png")
    deep = tmp_path / "deep.png"
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("inceptionism", "[" * 100_000 + "]" * 100_000, zip=True)
    Image.open(src).save(deep, pnginfo=info)
    code, _, err = run_cli(["dream", src, "--config-from", deep, *SMALL], capsys)
    assert_one_line_error(code, err, "no deepdream settings")


# -- one line, whatever goes wrong (item 5) ----------------------------------------------------


def test_a_seed_too_large_for_the_generators_is_one_line(tmp_path, capsys):
    src = photo(tmp_path / "in.png")
    code, _, err = run_cli(["dream", src, "--seed", "1180591620717411303424", *SMALL], capsys)
    assert_one_line_error(code, err, "seed", "2**64-1")


def test_a_toml_file_nested_10000_deep_is_one_line(tmp_path, capsys):
    src = photo(tmp_path / "in.png")
    cfg = tmp_path / "deep.toml"
    cfg.write_text("x = " + "[" * 10_000 + "]" * 10_000 + "\n")
    code, _, err = run_cli(["dream", src, "--config", cfg, *SMALL], capsys)
    assert_one_line_error(code, err, "deep.toml", "nested")
    cfg.write_text("".join(f"[{'a.' * 5000}a]\n"))
    code, _, err = run_cli(["dream", src, "--config", cfg, *SMALL], capsys)
    assert code != 0 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "line",
    [
        'model = "{big}"',
        'preset = "{big}"',
        'layer = ["{big}"]',
        'guide_layer = "{big}"',
        'tile = "{big}"',
        'device = "{big}"',
        "{big} = 1",
        'octaves = "{big}"',
    ],
)
def test_errors_cut_the_huge_values_they_quote(tmp_path, capsys, line):
    src = photo(tmp_path / "in.png")
    cfg = tmp_path / "big.toml"
    cfg.write_text(line.replace("{big}", "a" * 5_000_000) + "\n")
    code, _, err = run_cli(["dream", src, "--config", cfg, *SMALL], capsys)
    assert code != 0 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert len(err) < 1000, err[:300]


def test_weights_with_a_wrong_conv_shape_name_it(tmp_path, capsys, lite0):
    import torch

    state = {k: v.clone() for k, v in lite0.net.state_dict().items()}
    for key in ("_blocks.1._expand_conv.weight", "_blocks.0._depthwise_conv.weight"):
        bad = dict(state)
        bad[key] = torch.zeros(3, 3)
        torch.save(bad, tmp_path / "bad.pth")
        src = photo(tmp_path / "in.png")
        code, _, err = run_cli(["dream", src, "--weights", tmp_path / "bad.pth", *SMALL], capsys)
        assert_one_line_error(code, err, key, "(3, 3)")


FACTORIES = {
    "junk preprocess": (
        "import torch\ndef factory():\n    return torch.nn.Conv2d(3, 4, 3), 'junk'\n",
        ["preprocess", "junk"],
    ),
    "exit on import": ("import sys\nsys.exit(3)\n", ["sys.exit(3)", "f.py"]),
    "exit in factory": ("import sys\ndef factory():\n    sys.exit('no')\n", ["sys.exit"]),
    "three values": (
        "import torch\ndef factory():\n    return torch.nn.Conv2d(3, 4, 3), None, 1\n",
        ["tuple of 3"],
    ),
}


@pytest.mark.parametrize("case", sorted(FACTORIES))
def test_a_bad_model_factory_is_one_line(tmp_path, case):
    """In a fresh process, as a user runs it: sys.exit(3) in the user's file is no exit 3."""
    text, words = FACTORIES[case]
    (tmp_path / "f.py").write_text(text)
    src = photo(tmp_path / "in.png")
    p = subprocess.run(
        [
            *(sys.executable, "-m", "inceptionism", "dream", str(src), "--model", "f.py:factory"),
            *("-q", "--octaves", "2", "--iterations", "1"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        cwd=tmp_path,
        timeout=120,
    )
    assert p.returncode == 1, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr, p.stderr
    for w in words:
        assert w in p.stderr, p.stderr


@pytest.mark.parametrize(
    "options,words",
    [
        ({"layers": "block8"}, ["layers", "mapping"]),
        ({"step": "big"}, ["step", "number"]),
        ({"octaves": 2.5}, ["octaves", "whole number"]),
        ({"layers": {"block8": "x"}}, ["weight", "block8"]),
        ({"seed": 2**70}, ["seed"]),
    ],
)
def test_python_dream_with_wrong_types_raises_dream_error(options, words):
    image = np.zeros((80, 80, 3), np.float32)
    with pytest.raises(DreamError) as info:
        inceptionism.dream(image, octaves=options.pop("octaves", 2), iterations=1, **options)
    for w in words:
        assert w in str(info.value)
