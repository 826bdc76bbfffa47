"""Where dreams are written (issues 9 and 11): never over an input, a device or an existing
output without --overwrite; names that fit; no leftovers after a kill; scans that terminate."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from PIL import Image
from test_cli import FAST, assert_one_line_error, files_in, photo, run_cli

import inceptionism
from inceptionism.models import weights as W

SMALL = [*FAST, "--max-side", "96", "--octaves", "1"]  # all octaves run: no note on stderr
SRC = str(Path(inceptionism.__file__).parents[1])  # the package under test, in a subprocess


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def age(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


# -- never over an input or a non-file (issue 9, item 2) -----------------------------------------


def test_a_batch_never_writes_over_one_of_its_inputs(tmp_path, capsys):
    a = photo(tmp_path / "a.png")
    b = tmp_path / "a.dream.png"
    shutil.copy(a, b)
    before = digest(b)
    code, _, err = run_cli(["dream", a, b, "--overwrite", *SMALL], capsys)
    assert code == 0, err
    assert digest(b) == before  # the input a.dream.png is untouched
    assert {"a.dream-2.png", "a.dream.dream.png"} <= files_in(tmp_path)


def test_a_single_output_that_is_an_input_by_another_name_is_refused(tmp_path, capsys):
    src = photo(tmp_path / "in.png")
    guide = photo(tmp_path / "guide.png", (100, 80))
    os.link(src, tmp_path / "hard.png")
    (tmp_path / "soft.png").symlink_to(src)
    for out, extra in (
        (tmp_path / "hard.png", []),
        (tmp_path / "soft.png", []),
        (guide, ["--guide", guide]),
    ):
        sums = {p: digest(p) for p in (src, guide)}
        code, _, err = run_cli(["dream", src, "-o", out, "--overwrite", *extra, *SMALL], capsys)
        assert_one_line_error(code, err, "input")
        assert {p: digest(p) for p in (src, guide)} == sums


def test_never_writes_over_a_fifo_or_a_device(tmp_path, capsys):
    src = photo(tmp_path / "in.png")
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    code, _, err = run_cli(["dream", src, "-o", fifo, "--overwrite", *SMALL], capsys)
    assert_one_line_error(code, err, "not a regular file")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    full = tmp_path / "full.png"
    try:
        os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except (PermissionError, OSError):
        return  # not root: a device node cannot be made here
    code, _, err = run_cli(["dream", src, "-o", full, "--overwrite", *SMALL], capsys)
    assert_one_line_error(code, err, "not a regular file")
    assert stat.S_ISCHR(os.stat(full).st_mode)


# -- never over an existing output without --overwrite (issue 11, item 2) -------------------------


def test_the_default_name_moves_on_instead_of_replacing(tmp_path, capsys):
    src = photo(tmp_path / "pic.png")
    code, _, err = run_cli(["dream", src, *SMALL], capsys)
    assert code == 0 and err == ""
    first = digest(tmp_path / "pic.dream.png")
    code, _, err = run_cli(["dream", src, *SMALL, "--layer", "block8"], capsys)
    assert code == 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "pic.dream-2.png" in lines[0] and "--overwrite" in lines[0]
    assert digest(tmp_path / "pic.dream.png") == first
    assert (tmp_path / "pic.dream-2.png").is_file()
    code, _, err = run_cli(["dream", src, *SMALL, "--layer", "block8", "--overwrite"], capsys)
    assert code == 0 and err == ""
    assert digest(tmp_path / "pic.dream.png") == digest(tmp_path / "pic.dream-2.png") != first


def test_an_explicit_output_that_exists_needs_overwrite(tmp_path, capsys):
    src = photo(tmp_path / "in.png")
    out = tmp_path / "out.png"
    out.write_bytes(b"keep me")
    code, _, err = run_cli(["dream", src, "-o", out, *SMALL], capsys)
    assert_one_line_error(code, err, "exists", "--overwrite")
    assert out.read_bytes() == b"keep me"
    code, _, err = run_cli(["dream", src, "-o", out, "--overwrite", *SMALL], capsys)
    assert code == 0, err
    assert Image.open(out).size == (96, 72)


def test_a_batch_with_an_image_file_name_for_o_is_refused(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    photo(folder / "a.png")
    code, _, err = run_cli(["dream", folder, "-o", tmp_path / "out.png", *SMALL], capsys)
    assert_one_line_error(code, err, "out.png", "folder")
    assert not (tmp_path / "out.png").exists()


# -- names and leftovers (issue 9, item 6) -------------------------------------------------------


@pytest.mark.parametrize("length", [242, 250, 255])
def test_long_output_names_work(tmp_path, capsys, length):
    src = photo(tmp_path / "in.png")
    out = tmp_path / ("a" * (length - 4) + ".png")
    code, _, err = run_cli(["dream", src, "-o", out, *SMALL], capsys)
    assert code == 0, err
    assert out.is_file() and files_in(tmp_path) == {"in.png", out.name}


def test_a_name_too_long_fails_before_dreaming(tmp_path, capsys):
    src = photo(tmp_path / "in.png")
    out = tmp_path / ("a" * 252 + ".png")
    start = time.monotonic()
    code, _, err = run_cli(["dream", src, "-o", out, "--max-side", "96", "-q"], capsys)
    assert_one_line_error(code, err, "256 bytes", "255")
    assert time.monotonic() - start < 5  # the default dream would take longer
    assert files_in(tmp_path) == {"in.png"}


def test_an_output_that_is_a_folder_says_so(tmp_path, capsys):
    src = photo(tmp_path / "in.png")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir.png").mkdir()
    for out in ("dir", "dir.png"):
        code, _, err = run_cli(["dream", src, "-o", tmp_path / out, *SMALL], capsys)
        assert_one_line_error(code, err, "is a folder")


KILL_WHILE_WRITING = """
import os, signal, sys
from inceptionism.frontends.cli import main

real_fsync = os.fsync

def fsync(fd):  # the temporary output is written: a SIGTERM arrives now
    os.kill(os.getpid(), signal.SIGTERM)
    real_fsync(fd)

os.fsync = fsync
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_sigterm_while_writing_leaves_nothing_and_exits_143(tmp_path):
    src = photo(tmp_path / "in.png")
    script = tmp_path / "kill.py"
    script.write_text(textwrap.dedent(KILL_WHILE_WRITING))
    p = subprocess.run(
        [sys.executable, str(script), "dream", str(src), "-o", str(tmp_path / "out.png"), *SMALL],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        timeout=120,
    )
    assert p.returncode == 143, p.stderr
    assert p.stderr.strip() == "deepdream: terminated"
    assert files_in(tmp_path) == {"in.png", "kill.py"}


@pytest.mark.slow
def test_sigterm_while_dreaming_exits_143(tmp_path):
    src = photo(tmp_path / "in.png", (400, 300))
    p = subprocess.Popen(
        [sys.executable, "-m", "inceptionism", "dream", str(src), "--iterations", "500"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert p.stderr is not None
    first = p.stderr.read(1)  # the progress bar: dreaming now
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 143, first + err
    assert err.strip().splitlines()[-1].endswith("deepdream: terminated")
    assert "Traceback" not in err
    assert files_in(tmp_path) == {"in.png"}


def test_stale_temporary_outputs_are_removed_by_the_next_run(tmp_path, capsys):
    from inceptionism.io.files import STALE_TEMP_AGE_S

    src = photo(tmp_path / "in.png")
    stale = tmp_path / ".out.png.k1ll3d00.tmp"  # left by a killed run
    stale.write_bytes(b"half")
    age(stale, STALE_TEMP_AGE_S + 60)
    live = tmp_path / ".out.png.l1ve0000.tmp"  # another run, still writing
    live.write_bytes(b"half")
    other = tmp_path / ".other.png.k1ll3d00.tmp"
    other.write_bytes(b"half")
    age(other, STALE_TEMP_AGE_S + 60)
    code, _, err = run_cli(["dream", src, "-o", tmp_path / "out.png", *SMALL], capsys)
    assert code == 0, err
    assert not stale.exists() and live.exists() and other.exists()


def test_stale_partial_downloads_are_removed_by_the_next_download(cache, server, tmp_path):
    from inceptionism.io.files import STALE_TEMP_AGE_S

    src = tmp_path / "tiny-12345678.pth"
    torch.save(torch.nn.Linear(4, 2).state_dict(), src)
    url = server.serve("/tiny-12345678.pth", src)
    cache.mkdir(parents=True)
    stale = cache / ".tiny-12345678.pth.k1ll3d00.part"
    stale.write_bytes(b"half")
    age(stale, STALE_TEMP_AGE_S + 60)
    live = cache / ".tiny-12345678.pth.l1ve0000.part"
    live.write_bytes(b"half")
    W.fetch_weights(url, digest(src), progress=False)
    assert sorted(p.name for p in cache.iterdir()) == [live.name, "tiny-12345678.pth"]


# -- scans (issue 9, items 4 and 6) --------------------------------------------------------------


@pytest.mark.slow
def test_recursive_patterns_do_not_follow_symlinked_folders(tmp_path):
    p = tmp_path / "p"
    p.mkdir()
    photo(p / "x.png")
    (p / "a").symlink_to(".")
    (p / "b").symlink_to(".")
    proc = subprocess.run(
        [sys.executable, "-m", "inceptionism", "dream", "p/**/*.png", "-o", "out", *FAST[:-1]],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert files_in(tmp_path / "out") == {"x.dream.png"}
    assert "1 inputs: 1 dreamed" in proc.stderr


def test_folders_and_patterns_skip_hidden_and_macos_companion_files(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    photo(folder / "photo.png")
    (folder / "._photo.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    photo(folder / ".hidden.png")
    for source in (folder, str(folder / "*.png"), str(folder / "**" / "*.png")):
        out = tmp_path / "out"
        shutil.rmtree(out, ignore_errors=True)
        code, _, err = run_cli(["dream", source, "-o", out, *SMALL], capsys)
        assert code == 0, err
        assert files_in(out) == {"photo.dream.png"}


def test_the_same_file_by_two_names_is_dreamed_once(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    photo(folder / "a.png")
    (tmp_path / "link").symlink_to(folder)
    code, _, err = run_cli(
        ["dream", folder / "a.png", tmp_path / "link" / "a.png", "-o", tmp_path / "o", *FAST],
        capsys,
    )
    assert code == 0, err
    assert files_in(tmp_path / "o") == {"a.dream.png"}
