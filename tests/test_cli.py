"""The ``deepdream`` command: each bad input gives one line on stderr, a non-zero exit, no
traceback and no output file; good runs write a reproducible, metadata-carrying dream."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inceptionism.frontends.cli import main
from inceptionism.io import read_metadata

FAST = ["--octaves", "2", "--iterations", "2", "-q"]


def photo(path: Path, size: tuple[int, int] = (120, 90), mode: str = "RGB") -> Path:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (size[1], size[0], 4 if mode == "RGBA" else 3), dtype=np.uint8)
    Image.fromarray(a, mode).save(path)
    return path


def huge_png_header(path: Path, w: int = 40000, h: int = 40000) -> Path:
    """A tiny file whose header claims a huge image (a decompression bomb)."""
    buf = path.with_suffix(".tmp.png")
    Image.new("L", (1, 1)).save(buf)
    data = bytearray(buf.read_bytes())
    buf.unlink()
    ihdr = 8 + 8  # signature, then length + "IHDR"
    data[ihdr : ihdr + 8] = struct.pack(">II", w, h)
    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))
    return path


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *words: str) -> None:
    assert code != 0
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for w in words:
        assert w.lower() in lines[0].lower(), lines[0]


def files_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def folder(path: Path) -> Path:
    path.mkdir()
    return path


BAD_INPUTS = {
    "missing": (lambda d: d / "nope.jpg", ["nope.jpg"]),
    "empty": (lambda d: written(d / "empty.png", b""), ["empty"]),
    "not an image": (lambda d: written(d / "notes.jpg", b"hello"), ["notes.jpg"]),
    "directory": (lambda d: folder(d / "adir"), ["adir"]),
    "bomb": (lambda d: huge_png_header(d / "bomb.png"), ["bomb.png"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_files(tmp_path, capsys, case):
    make, words = BAD_INPUTS[case]
    src = make(tmp_path)
    before = files_in(tmp_path)
    code, _, err = run_cli(["dream", src, *FAST], capsys)
    assert_one_line_error(code, err, *words)
    assert files_in(tmp_path) == before


def test_truncated_image(tmp_path, capsys):
    good = photo(tmp_path / "good.png", (256, 256))
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    before = files_in(tmp_path)
    code, _, err = run_cli(["dream", cut, *FAST], capsys)
    assert_one_line_error(code, err, "cut.png")
    assert files_in(tmp_path) == before


@pytest.mark.parametrize(
    "args,words",
    [
        (["--model", "efficientnet-lite9"], ["unknown model", "efficientnet-lite0"]),
        (["--layer", "block88"], ["unknown layer", "block8"]),
        (["--layer", "Mixed_4c"], ["unknown layer"]),
        (["--octave-scale", "1"], ["octave scale"]),
        (["--octave-scale", "0.5"], ["octave scale"]),
        (["--iterations", "-1"], ["iterations"]),
        (["--step", "nan"], ["nan"]),
        (["--step", "inf"], ["step"]),
        (["--octaves", "x"], ["octaves"]),
        (["--jitter", "-3"], ["jitter"]),
        (["--preset", "nope"], ["preset"]),
        (["--device", "tpu"], ["device"]),
    ],
)
def test_bad_options(tmp_path, capsys, args, words):
    src = photo(tmp_path / "in.png")
    before = files_in(tmp_path)
    code, _, err = run_cli(["dream", src, *FAST, *args], capsys)
    assert_one_line_error(code, err, *words)
    assert files_in(tmp_path) == before


def test_absurd_octave_schedules_answer_at_once_in_one_line(tmp_path, capsys):
    """A billion octaves used to build a billion shapes; 10000 overflowed 1.2**10000."""
    src = photo(tmp_path / "in.png")
    toml = tmp_path / "big.toml"
    toml.write_text("octaves = 9223372036854775807\n")
    before = files_in(tmp_path)
    for args in (
        ["--octaves", "1000000000", "--octave-scale", "1.00000001"],
        ["--octaves", "10000"],
        ["--config", toml],
    ):
        code, _, err = run_cli(["dream", src, "--iterations", "1", "-q", *args], capsys)
        assert_one_line_error(code, err, "octaves", "from 1 to 100")
        assert files_in(tmp_path) == before


def test_bad_outputs(tmp_path, capsys):
    src = photo(tmp_path / "in.png")
    (tmp_path / "afile").write_text("x")
    cases = [
        (tmp_path / "missing" / "out.png", "missing"),
        (tmp_path / "afile" / "out.png", "afile"),
        (tmp_path / "out.xyz", ".xyz"),
        (src, "input"),
    ]
    for out, word in cases:
        before = files_in(tmp_path)
        code, _, err = run_cli(["dream", src, "-o", out, *FAST], capsys)
        assert_one_line_error(code, err, word)
        assert files_in(tmp_path) == before


def test_too_small_image_is_refused_but_small_octaves_are_skipped(tmp_path, capsys):
    tiny = photo(tmp_path / "tiny.png", (12, 10))
    code, _, err = run_cli(["dream", tiny, *FAST, "--layer", "block15"], capsys)
    assert_one_line_error(code, err, "too small")
    small = photo(tmp_path / "small.png", (72, 66))  # block10 (stride 16) needs 65 px
    out = tmp_path / "small.out.png"
    code, _, err = run_cli(
        [
            "dream",
            small,
            "-o",
            out,
            "--layer",
            "block10",
            "--octaves",
            "6",
            "--iterations",
            "1",
            "-q",
        ],
        capsys,
    )
    assert code == 0, err
    assert Image.open(out).size == (72, 66)
    code, _, err = run_cli(
        ["dream", small, "-o", out, "--layer", "block10=1", "--overwrite", *FAST], capsys
    )
    assert code == 0, err
    half = photo(tmp_path / "half.png", (60, 66))  # the border cut leaves nothing to dream on
    code, _, err = run_cli(["dream", half, "--layer", "block10", *FAST], capsys)
    assert_one_line_error(code, err, "too small", "65 px")


def test_dream_writes_beside_input_with_metadata_and_keeps_input(tmp_path, capsys):
    src = photo(tmp_path / "pic.jpg")
    raw, mtime = src.read_bytes(), src.stat().st_mtime_ns
    code, out, err = run_cli(["dream", src, *FAST, "--seed", "5", "--jitter", "4"], capsys)
    assert code == 0, err
    dst = tmp_path / "pic.dream.png"
    assert out.strip() == "" and dst.is_file()
    assert src.read_bytes() == raw and src.stat().st_mtime_ns == mtime
    meta = read_metadata(dst)
    assert meta["config"]["seed"] == 5 and meta["config"]["jitter"] == 4
    assert meta["config"]["octaves"] == 2 and meta["model"] == "efficientnet-lite0"
    assert meta["layers"] == {"block10": 1.0, "block8": 1.0} and meta["version"]


def test_same_seed_same_pixels_and_alpha_kept(tmp_path, capsys):
    src = photo(tmp_path / "rgba.png", mode="RGBA")
    outs = []
    for i in range(2):
        out = tmp_path / f"o{i}.png"
        code, _, err = run_cli(
            ["dream", src, "-o", out, *FAST, "--jitter", "8", "--seed", "1"], capsys
        )
        assert code == 0, err
        outs.append(np.asarray(Image.open(out)))
    assert np.array_equal(outs[0], outs[1])
    assert outs[0].shape[2] == 4
    assert np.array_equal(outs[0][..., 3], np.asarray(Image.open(src))[..., 3])


def test_layers_and_models_commands(capsys):
    code, out, _ = run_cli(["layers"], capsys)
    assert code == 0
    rows = {ln.split()[0]: ln.split()[1:3] for ln in out.splitlines()[1:-1]}
    assert rows["block10"] == ["112", "16"] and rows["block15"] == ["320", "32"]
    assert rows["stem"] == ["32", "2"] and "head" in rows
    code, out, _ = run_cli(["models"], capsys)
    assert code == 0 and "efficientnet-lite0" in out and "weights here" in out


def test_module_entry_point_reports_errors_without_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    p = subprocess.run(
        [sys.executable, "-m", "inceptionism", "dream", str(tmp_path / "x.png")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert p.returncode != 0
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
