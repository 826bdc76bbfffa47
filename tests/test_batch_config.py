"""Batches of inputs, TOML config files, --print-config and reproduction with --config-from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_cli import FAST, assert_one_line_error, files_in, photo, run_cli

from inceptionism.io import read_metadata

SMALL = [*FAST, "--max-side", "100"]  # block10 needs 65 px on the short side


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def error_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("deepdream:") and ": note: " not in ln]


def album(folder: Path) -> Path:
    folder.mkdir()
    photo(folder / "a.png")
    photo(folder / "b.jpg", (128, 96))
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    (folder / "notes.txt").write_text("not an image, and not picked up from a folder")
    return folder


# -- batches ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_batch_reports_a_broken_file_and_does_the_rest(tmp_path, capsys):
    src = album(tmp_path / "in")
    out = tmp_path / "out" / "dreams"  # created, parents too
    code, stdout, err = run_cli(["dream", src, "-o", out, *SMALL], capsys)
    assert code != 0
    assert files_in(out) == {"a.dream.png", "b.dream.png"}
    assert read_metadata(out / "a.dream.png")["config"]["octaves"] == 2
    lines = error_lines(err)
    assert len(lines) == 2 and "Traceback" not in err
    assert "broken.jpg" in lines[0]
    assert (
        lines[1].startswith("deepdream: 3 inputs: 2 dreamed, 1 failed") and "broken.jpg" in lines[1]
    )
    assert stdout == ""  # -q


def test_rerun_skips_finished_outputs_unless_overwrite(tmp_path, capsys):
    src = album(tmp_path / "in")
    (src / "broken.jpg").unlink()
    code, _, err = run_cli(["dream", src, *SMALL], capsys)  # outputs beside the inputs
    assert code == 0, err
    outs = [src / "a.dream.png", src / "b.dream.png"]
    stamps = [p.stat().st_mtime_ns for p in outs]
    code, _, err = run_cli(["dream", src, *SMALL], capsys)  # the dreams are not inputs now
    assert code == 0, err
    assert [p.stat().st_mtime_ns for p in outs] == stamps
    assert files_in(src) == {"a.png", "b.jpg", "notes.txt", "a.dream.png", "b.dream.png"}
    code, _, err = run_cli(["dream", src, *FAST[:-1]], capsys)  # not quiet: a summary
    assert code == 0 and "2 skipped" in err
    code, _, err = run_cli(["dream", src, *SMALL, "--overwrite"], capsys)
    assert code == 0, err
    assert all(p.stat().st_mtime_ns != s for p, s in zip(outs, stamps, strict=True))


def test_files_and_quoted_globs_with_a_missing_file(tmp_path, capsys):
    for name in ("x1.png", "x2.png", "y.png"):
        photo(tmp_path / name)
    pattern = str(tmp_path / "x*.png")
    missing = tmp_path / "gone.png"
    code, _, err = run_cli(
        ["dream", pattern, tmp_path / "y.png", missing, "-o", tmp_path / "o", *SMALL], capsys
    )
    assert code != 0
    assert files_in(tmp_path / "o") == {"x1.dream.png", "x2.dream.png", "y.dream.png"}
    lines = error_lines(err)
    assert len(lines) == 2 and "gone.png" in lines[0] and "gone.png" in lines[1]
    code, _, err = run_cli(["dream", str(tmp_path / "z*.png"), *SMALL], capsys)
    assert_one_line_error(code, err, "no files match")


def test_batch_errors_about_settings_or_output_come_once(tmp_path, capsys):
    src = album(tmp_path / "in")
    before = files_in(src)
    code, _, err = run_cli(
        ["dream", src, *SMALL, "--layer", "block99", "-o", tmp_path / "o"], capsys
    )
    assert_one_line_error(code, err, "unknown layer")
    assert files_in(src) == before and not (tmp_path / "o").exists()
    (tmp_path / "afile").write_text("x")
    code, _, err = run_cli(["dream", src, *SMALL, "-o", tmp_path / "afile"], capsys)
    assert_one_line_error(code, err, "afile", "folder")
    code, _, err = run_cli(["dream", tmp_path / "in" / "a.png", src / "a.png", *SMALL], capsys)
    assert code == 0  # the same file twice is dreamed once


def test_same_output_name_from_two_inputs_gives_the_second_a_distinct_name(tmp_path, capsys):
    photo(tmp_path / "p.png")
    photo(tmp_path / "p.jpg", (96, 128))
    code, _, err = run_cli(["dream", tmp_path, "-o", tmp_path / "o", *SMALL], capsys)
    assert code == 0, err
    assert files_in(tmp_path / "o") == {"p.dream.png", "p.dream-2.png"}
    sizes = {Image.open(tmp_path / "o" / n).size for n in ("p.dream.png", "p.dream-2.png")}
    assert len(sizes) == 2  # both inputs were dreamed, neither over the other
    code, _, err = run_cli(["dream", tmp_path, "-o", tmp_path / "o", *FAST[:-1]], capsys)
    assert code == 0 and "2 skipped" in err  # a rerun finds both under the same names


# -- config files -----------------------------------------------------------------------------


def test_print_config_round_trips_and_flags_override_the_file(tmp_path, capsys):
    code, text, err = run_cli(
        ["dream", "--octaves", "3", "--layer", "block8=2", "--jitter", "4", "--print-config"],
        capsys,
    )
    assert code == 0, err
    assert 'layer = ["block8=2"]' in text and "octaves = 3" in text and "max_loss = inf" in text
    cfg = tmp_path / "my.toml"
    cfg.write_text(text)
    code, again, _ = run_cli(["dream", "--config", cfg, "--print-config"], capsys)
    assert code == 0 and again == text
    code, over, _ = run_cli(["dream", "--config", cfg, "--octaves", "5", "--print-config"], capsys)
    assert "octaves = 5" in over and "jitter = 4" in over


def test_the_file_overrides_the_preset(tmp_path, capsys):
    cfg = tmp_path / "seedish.toml"
    cfg.write_text('preset = "seed"\noctaves = 2\nlayers = {block8 = 1.5}\nmax-loss = 20\n')
    code, text, _ = run_cli(["dream", "--config", cfg, "--print-config"], capsys)
    assert code == 0
    assert "octaves = 2" in text and "iterations = 10" in text and "octave_scale = 1.2" in text
    assert 'layer = ["block8=1.5"]' in text and "max_loss = 20.0" in text


def test_dreaming_with_a_config_file_equals_the_flags(tmp_path, capsys):
    src = photo(tmp_path / "in.png")
    flags = ["--octaves", "2", "--iterations", "2", "--jitter", "6", "--seed", "9"]
    code, _, _ = run_cli(["dream", src, "-o", tmp_path / "a.png", *flags, "-q"], capsys)
    assert code == 0
    cfg = tmp_path / "c.toml"
    cfg.write_text("octaves = 2\niterations = 2\njitter = 6\nseed = 9\n")
    code, _, _ = run_cli(["dream", src, "-o", tmp_path / "b.png", "--config", cfg, "-q"], capsys)
    assert code == 0
    assert np.array_equal(pixels(tmp_path / "a.png"), pixels(tmp_path / "b.png"))


def test_config_from_a_dream_reproduces_its_pixels(tmp_path, capsys):
    src = photo(tmp_path / "in.png", (120, 90))
    first = tmp_path / "first.png"
    odd = ["--layer", "block8=1", "--octave-scale", "1.3", "--step", "0.03"]
    odd += ["--jitter", "8", "--seed", "3", "--max-side", "100", "--preset", "seed"]
    code, _, err = run_cli(
        ["dream", src, "-o", first, "--octaves", "2", "--iterations", "3", *odd, "-q"], capsys
    )
    assert code == 0, err
    again = tmp_path / "again.png"
    code, _, err = run_cli(["dream", src, "-o", again, "--config-from", first, "-q"], capsys)
    assert code == 0, err
    assert np.array_equal(pixels(first), pixels(again))
    assert read_metadata(again)["config"] == read_metadata(first)["config"]
    # a flag still wins over the stored settings
    code, text, _ = run_cli(
        ["dream", "--config-from", first, "--seed", "4", "--print-config"], capsys
    )
    assert "seed = 4" in text and "step = 0.03" in text and "tile = 0" in text


@pytest.mark.parametrize(
    "content,words",
    [
        ("octaves = \n", ["invalid toml", "line 1"]),
        ("octave = 3\n", ["unknown key", "did you mean 'octaves'"]),
        ('octaves = "six"\n', ["octaves must be a whole number"]),
        ('step = "fast"\n', ["step must be a number"]),
        ("layer = 3\n", ["layer must be a string"]),
        ("quiet = true\n", ["unknown key"]),
        ('preset = "nope"\n', ["preset", "invalid choice"]),
        ("jitter = -2\n", ["jitter"]),
        ("[dream]\noctaves = 2\n", ["unknown key", "dream"]),
    ],
)
def test_bad_config_files_give_one_line(tmp_path, capsys, content, words):
    src = photo(tmp_path / "in.png")
    cfg = tmp_path / "bad.toml"
    cfg.write_text(content)
    before = files_in(tmp_path)
    code, _, err = run_cli(["dream", src, "--config", cfg, *FAST], capsys)
    assert_one_line_error(code, err, *words)
    assert files_in(tmp_path) == before


def test_bad_config_sources_give_one_line(tmp_path, capsys):
    src = photo(tmp_path / "in.png")
    before = files_in(tmp_path)
    cases = [
        (["--config", tmp_path / "none.toml"], ["not found"]),
        (["--config-from", src], ["no deepdream settings"]),
        (["--config-from", tmp_path / "none.png"], ["none.png"]),
        (["--config", src], ["in.png"]),
        (["--config", src, "--config-from", src], ["not allowed with"]),
    ]
    for extra, words in cases:
        code, _, err = run_cli(["dream", src, *extra, *FAST], capsys)
        assert_one_line_error(code, err, *words)
        assert files_in(tmp_path) == before
    code, _, err = run_cli(["dream", "-q"], capsys)
    assert_one_line_error(code, err, "required: input")
