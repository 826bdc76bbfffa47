"""Where ``deepdream video`` and ``zoom`` write (issue 23): never over a file the run reads, a
FIFO, or a folder holding other files, whatever the flags; an untrusted work folder never
gives a traceback; numeric flags in range; a killed run's temporary files swept; resume said.

Every clip is a real file made with PyAV (tests/videoclips.py); the dreams use the embedded
EfficientNet-Lite0 at tiny sizes.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_cli import assert_one_line_error, files_in, run_cli

pytest.importorskip("av")
pytest.importorskip("cv2")

from PIL import Image
from videoclips import moving_frames, write_clip

from inceptionism.errors import DreamError
from inceptionism.io.files import STALE_TEMP_AGE_S
from inceptionism.video import outputs
from inceptionism.video.outputs import work_folder

ROOT = Path(__file__).parents[1]
TINY = ["--octaves", "1", "--iterations", "1", "--device", "cpu", "-q"]
SIZE = (80, 72)  # the smallest the default layers take at one octave, give or take


def clip(path: Path, frames: int = 3) -> Path:
    return write_clip(path, moving_frames(frames, SIZE, (1, 0)), 24)


def still(path: Path) -> Path:
    Image.fromarray(moving_frames(1, SIZE, (1, 0))[0]).save(path)
    return path


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: a file's bytes, or what kind of thing it is."""
    seen: dict[str, bytes | str] = {}
    for p in sorted(folder.rglob("*")):
        mode = os.lstat(p).st_mode
        key = str(p.relative_to(folder))
        seen[key] = p.read_bytes() if stat.S_ISREG(mode) else stat.filemode(mode)
    return seen


def age(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


# -- 1. --overwrite replaces only the frames we wrote -------------------------------------------


def test_overwrite_never_clears_a_folder_holding_the_input_or_other_files(tmp_path, capsys):
    project = tmp_path / "project"
    project.mkdir()
    src = clip(project / "clip.mp4")
    (project / "notes.txt").write_text("keep me")
    other = tmp_path / "other"
    other.mkdir()
    (other / "frame_000001.png").write_bytes(b"old frame")
    (other / "thesis.tex").write_text("keep me")
    (tmp_path / "plain").write_text("a file where the folder would go")
    before = snapshot(tmp_path)
    cases = [
        (["video", src, "-o", project], "input"),
        (["video", src, "-o", project / "clip.mp4"], "input"),
        (["video", src, "-o", other], "thesis.tex"),
        (["video", src, "-o", tmp_path / "plain"], "not a folder"),
        (["zoom", still(tmp_path / "p.png"), "-o", project, "--frames", "2"], "did not write"),
        (["zoom", tmp_path / "p.png", "-o", other, "--frames", "2"], "did not write"),
    ]
    before = snapshot(tmp_path)
    for argv, words in cases:
        code, _, err = run_cli([*argv, "--overwrite", *TINY], capsys)
        assert_one_line_error(code, err, words)
        assert snapshot(tmp_path) == before, argv


def test_a_folder_of_our_frames_is_replaced_only_with_overwrite(tmp_path, capsys):
    src = clip(tmp_path / "in.mp4")
    out = tmp_path / "frames"
    out.mkdir()
    for i in range(1, 6):  # a longer earlier run: its extra frames must go too
        (out / f"frame_{i:06d}.png").write_bytes(b"old")
    code, _, err = run_cli(["video", src, "-o", out, *TINY], capsys)
    assert_one_line_error(code, err, "exists", "--overwrite")
    code, _, err = run_cli(["video", src, "-o", out, "--overwrite", *TINY], capsys)
    assert code == 0, err
    assert files_in(out) == {f"frame_{i:06d}.png" for i in (1, 2, 3)}
    assert Image.open(out / "frame_000003.png").size == SIZE
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~_umask()
    assert files_in(tmp_path) == {"in.mp4", "frames"}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# -- 2. never over a file the run reads ---------------------------------------------------------


def test_no_flag_writes_over_a_file_the_run_reads(tmp_path, capsys):
    src = clip(tmp_path / "clip.mp4")
    pic = still(tmp_path / "p.png")
    look = still(tmp_path / "look.webp")  # a dream's settings file, as far as paths go
    code, _, err = run_cli(["dream", pic, "-o", look, "--overwrite", *TINY], capsys)
    assert code == 0, err
    guide = still(tmp_path / "guide.webp")
    os.link(guide, tmp_path / "hard.webp")
    (tmp_path / "soft.gif").symlink_to(src)
    (tmp_path / "w.mp4").write_bytes(b"weights, as far as paths go")
    cases = [
        ["video", src, "-o", look, "--config-from", look],
        ["zoom", pic, "-o", guide, "--guide", guide, "--frames", "2"],
        ["zoom", pic, "-o", tmp_path / "hard.webp", "--guide", guide, "--frames", "2"],
        ["video", src, "-o", tmp_path / "soft.gif"],
        ["video", src, "-o", tmp_path / "w.mp4", "--weights", tmp_path / "w.mp4"],
        ["zoom", pic, "-o", tmp_path / "w.mp4", "--weights", tmp_path / "w.mp4", "--frames", "2"],
        ["zoom", pic, "-o", tmp_path, "--frames", "2"],  # the folder that holds the input
    ]
    before = snapshot(tmp_path)
    for argv in cases:
        code, _, err = run_cli([*argv, "--overwrite", *TINY], capsys)
        assert_one_line_error(code, err, "input")
        assert snapshot(tmp_path) == before, argv


def test_a_work_folder_that_is_an_input_is_never_cleared(tmp_path, capsys):
    frames = tmp_path / "out.mp4.frames"  # a folder of frames as input, named like a work folder
    frames.mkdir()
    for i, rgb in enumerate(moving_frames(3, SIZE, (1, 0))):
        Image.fromarray(rgb).save(frames / f"{i:06d}.png")
    before = snapshot(tmp_path)
    code, _, err = run_cli(
        ["video", frames, "-o", tmp_path / "out.mp4", "--overwrite", *TINY], capsys
    )
    assert_one_line_error(code, err, "work folder", "input")
    assert snapshot(tmp_path) == before


# -- 3. never over a FIFO ------------------------------------------------------------------------


def test_video_and_zoom_never_write_over_a_fifo(tmp_path, capsys):
    src = clip(tmp_path / "clip.mp4")
    pic = still(tmp_path / "p.png")
    for name in ("pipe.mp4", "pipe.gif", "pipe"):
        os.mkfifo(tmp_path / name)
    cases = [
        (["video", src, "-o", tmp_path / "pipe.mp4"], "not a regular file"),
        (["video", src, "-o", tmp_path / "pipe"], "not a folder"),
        (["zoom", pic, "-o", tmp_path / "pipe.gif", "--frames", "2"], "not a regular file"),
        (["zoom", pic, "-o", tmp_path / "pipe", "--frames", "2"], "not a folder"),
    ]
    before = snapshot(tmp_path)
    for argv, words in cases:
        code, _, err = run_cli([*argv, "--overwrite", *TINY], capsys)
        assert_one_line_error(code, err, words)
        assert snapshot(tmp_path) == before, argv


# -- 10. the work folder is untrusted ------------------------------------------------------------


def _damaged_states() -> list[bytes]:
    deep = b"[" * 100_000 + b"]" * 100_000
    return [
        b'{"a": ' * 100_000 + b"1" + b"}" * 100_000,
        deep,
        b'{"version": ' + b"9" * 100_000 + b"}",
        b'["not", "an", "object"]',
        b'{"version": 1, "input": [1, 2]}',  # an object with the wrong values: other settings
        b"\xff\xfe not json",
        b"",
    ]


@pytest.mark.parametrize("data", _damaged_states(), ids=range(len(_damaged_states())))
def test_a_damaged_state_file_is_never_a_traceback(tmp_path, data):
    work = tmp_path / "out.mp4.frames"
    work.mkdir()
    (work / "state.json").write_bytes(data)
    Image.new("RGB", (5, 5)).save(work / "000001.png")
    state = {"version": 1, "input": "x"}
    notes: list[str] = []
    try:
        outputs.prepare_work(work, state, False, notes.append)
    except DreamError as exc:  # a readable state of other settings: refused in one line
        assert "holds frames of" in str(exc) and "\n" not in str(exc), exc
        assert files_in(work) == {"state.json", "000001.png"}
        return
    assert len(notes) == 1 and "afresh" in notes[0]
    assert json.loads((work / "state.json").read_text()) == state
    assert files_in(work) == {"state.json"}


def test_frame_files_are_read_only_when_plain_pngs_of_the_right_size(tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    shape = (SIZE[1], SIZE[0], 3)
    good = np.full(shape, 7, np.uint8)
    Image.fromarray(good).save(work / "000001.png")
    Image.new("RGB", (SIZE[0] + 1, SIZE[1])).save(work / "000002.png")  # wrong size
    os.mkfifo(work / "000003.png")  # would block a reader forever
    (work / "000004.png").symlink_to(work / "000001.png")  # a path it names is never opened
    (work / "000005.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)  # damaged
    assert np.array_equal(outputs.load_frame(work / "000001.png", shape), good)
    for i in (2, 3, 4, 5, 6):
        assert outputs.load_frame(outputs.frame_path(work, i - 1), shape) is None
    assert outputs.finished_frames(work, SIZE, 10) == 1


def test_a_state_file_that_is_a_fifo_is_refused_not_read(tmp_path):
    work = tmp_path / "out.mp4.frames"
    work.mkdir()
    os.mkfifo(work / "state.json")  # reading it would block forever
    with pytest.raises(DreamError, match="not a regular file"):
        outputs.prepare_work(work, {"version": 1}, True, print)
    assert stat.S_ISFIFO(os.lstat(work / "state.json").st_mode)


def test_a_state_nested_100000_deep_starts_afresh_with_a_note(tmp_path, capsys):
    src = clip(tmp_path / "in.mp4", 2)
    out = tmp_path / "out.mp4"
    work = work_folder(out)
    work.mkdir()
    (work / "state.json").write_text("[" * 100_000 + "]" * 100_000)
    Image.new("RGB", SIZE).save(work / "000001.png")
    code, _, err = run_cli(["video", src, "-o", out, *TINY], capsys)
    assert code == 0, err
    notes = [line for line in err.splitlines() if "state.json" in line]
    assert len(notes) == 1 and notes[0].startswith("deepdream: note:") and "afresh" in notes[0]
    assert "Traceback" not in err and out.is_file() and not work.exists()


# -- resume: said, in one line --------------------------------------------------------------------


def test_a_resumed_video_says_where_it_picks_up(tmp_path, capsys):
    src = clip(tmp_path / "in.mp4", 3)
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(["video", src, "-o", out, "--keep-frames", *TINY], capsys)
    assert code == 0 and "resuming" not in err, err
    out.unlink()  # as if killed after two frames
    (work_folder(out) / "000003.png").unlink()
    code, _, err = run_cli(["video", src, "-o", out, *TINY], capsys)
    assert code == 0, err
    assert "deepdream: note: resuming at frame 3 of 3" in err.splitlines()
    assert out.is_file() and not work_folder(out).exists()


# -- 11. numeric flags in range -------------------------------------------------------------------


ZOOM_FLAGS = [
    (["--fps", "1e-300"], "fps"),
    (["--fps", "1e300"], "fps"),
    (["--fps", "0"], "fps"),
    (["--zoom", "1e300"], "zoom"),
    (["--zoom", "0"], "zoom"),
    (["--rotate", "1e300"], "rotate"),
    (["--translate", "1e300,0"], "translate"),
]


@pytest.mark.parametrize(("flags", "word"), ZOOM_FLAGS, ids=[" ".join(f) for f, _ in ZOOM_FLAGS])
def test_zoom_numbers_out_of_range_are_one_line(tmp_path, capsys, flags, word):
    pic = still(tmp_path / "p.png")
    code, _, err = run_cli(
        ["zoom", pic, "-o", tmp_path / "z.mp4", "--frames", "2", *flags, *TINY], capsys
    )
    assert_one_line_error(code, err, word)
    assert files_in(tmp_path) == {"p.png"}


RANGE_FLAGS = [
    (["zoom", "--frames", "0"], "frames"),
    (["zoom", "--frames", "10000000"], "frames"),
    (["video", "--fps-out", "1e300"], "frame rate"),
    (["video", "--fps-out", "1e-300"], "frame rate"),
]


@pytest.mark.parametrize(("flags", "word"), RANGE_FLAGS, ids=[" ".join(f) for f, _ in RANGE_FLAGS])
def test_video_and_zoom_counts_and_rates_out_of_range_are_one_line(tmp_path, capsys, flags, word):
    pic, src = still(tmp_path / "p.png"), clip(tmp_path / "c.mp4", 2)
    command, *flags = flags
    argv = ["zoom", pic] if command == "zoom" else ["video", src]
    code, _, err = run_cli([*argv, "-o", tmp_path / "out.gif", *flags, *TINY], capsys)
    assert_one_line_error(code, err, word)
    assert files_in(tmp_path) == {"p.png", "c.mp4"}


# -- 13. a killed run's temporary files are swept -------------------------------------------------


def test_stale_temporary_video_outputs_are_swept_by_the_next_run(tmp_path, capsys):
    pic = still(tmp_path / "p.png")
    stale = age(_write(tmp_path / ".z.gif.k1ll3d00.tmp"), STALE_TEMP_AGE_S + 3600)
    live = _write(tmp_path / ".z.gif.l1ve0000.tmp")  # another run, still writing
    other = age(_write(tmp_path / ".y.gif.k1ll3d00.tmp"), STALE_TEMP_AGE_S + 3600)
    odd = age(_write(tmp_path / ".z.gif.notours.tmp"), STALE_TEMP_AGE_S + 3600)
    folder = tmp_path / ".frames.k1ll3d00.tmp"  # a folder output's half-written frames
    folder.mkdir()
    _write(folder / "frame_000001.png")
    age(folder, STALE_TEMP_AGE_S + 3600)
    mixed = tmp_path / ".frames.m1x3d000.tmp"  # someone else's file inside: left alone
    mixed.mkdir()
    _write(mixed / "notes.txt")
    age(mixed, STALE_TEMP_AGE_S + 3600)
    code, _, err = run_cli(["zoom", pic, "-o", tmp_path / "z.gif", "--frames", "1", *TINY], capsys)
    assert code == 0, err
    code, _, err = run_cli(["zoom", pic, "-o", tmp_path / "frames", "--frames", "1", *TINY], capsys)
    assert code == 0, err
    assert not stale.exists() and not folder.exists()
    assert live.exists() and other.exists() and odd.exists() and (mixed / "notes.txt").exists()


def _write(path: Path) -> Path:
    path.write_bytes(b"half")
    return path


@pytest.mark.slow
def test_a_temporary_file_left_by_sigkill_is_swept_once_stale(tmp_path):
    src = clip(tmp_path / "in.mp4", 40)
    out = tmp_path / "out.mp4"
    argv = [sys.executable, "-m", "inceptionism", "video", str(src), "-o", str(out), *TINY]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(work_folder(out).glob("*.png")):  # the writer opens before the first frame
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    (left,) = tmp_path.glob(".out.mp4.*.tmp")
    age(left, 2 * 3600)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not left.exists() and out.is_file()
    assert "resuming at frame" in done.stderr
