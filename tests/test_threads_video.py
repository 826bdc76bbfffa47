"""The CPU threads of a clip's frames (issue 24): recorded per frame in the work folder; a run
that continues the clip dreams the frames the record holds on their own counts and fits its new
frames to the load it meets (recording them), so the finished record reproduces the clip byte
for byte under any load; live says what it ran on.

Real clips (tests/videoclips.py), real processes, real busy neighbours (``while True: pass``),
the real embedded EfficientNet-Lite0. At 192x128 the full-size octave (24,576 px) is worth two
threads on an idle machine and one beside a busy neighbour, so the counts matter.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

av = pytest.importorskip("av")
cv2 = pytest.importorskip("cv2")

from test_threads import busy_neighbours  # noqa: E402
from videoclips import moving_frames, write_clip  # noqa: E402

import inceptionism.runtime as runtime  # noqa: E402
from inceptionism import make_config, threads  # noqa: E402
from inceptionism.errors import DreamError  # noqa: E402
from inceptionism.frontends.cli import main  # noqa: E402
from inceptionism.live.loop import LiveSettings, frame_loop, run_live  # noqa: E402
from inceptionism.live.sources import open_source  # noqa: E402
from inceptionism.video.clip import dream_video, work_folder  # noqa: E402
from inceptionism.video.thread_record import RECORD_FILE, ThreadRecord  # noqa: E402

ROOT = Path(__file__).parents[1]
SIZE = (192, 128)  # octaves 137x91 (one thread) and 192x128 (two where both cores are free)
IDLE = (1, 2)  # what an idle 2-core machine runs them on
FLAGS = ["--octaves", "2", "--iterations", "2", "--device", "cpu", "-q"]


@pytest.fixture(autouse=True)
def no_thread_flag(monkeypatch):
    """An in-process ``--threads N`` of another test stays set for the process: not here."""
    monkeypatch.setattr(runtime, "_forced", None)
    monkeypatch.setattr(runtime, "_replay", None)


def small_clip(path: Path, frames: int) -> Path:
    return write_clip(path, moving_frames(frames, SIZE, (2, 1)), 24)


def record_of(work: Path) -> list:
    return json.loads((work / RECORD_FILE).read_text())["runs"]


def pngs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def test_the_record_keeps_runs_of_frames_and_says_what_each_frame_replays():
    frames = [(1, 2)] * 3 + [(1, 1), (), (1, 2)]
    record = ThreadRecord(frames)
    assert record.runs() == [[3, [1, 2]], [1, [1, 1]], [1, []], [1, [1, 2]]]
    again = ThreadRecord.from_json({"version": 1, "runs": record.runs()}, "t")
    assert again.frames == frames
    assert record.schedule_for(3) == (1, 1)  # a recorded frame: its own counts
    assert record.schedule_for(4) is None  # none recorded: chosen from the free CPUs
    assert record.schedule_for(99) is None  # a resumed run's new frames fit the load now
    assert ThreadRecord().schedule_for(0) is None  # a fresh run chooses
    fresh = ThreadRecord()
    fresh.add(2, (1, 1))  # frames dreamed in this run do not pin the next ones
    assert fresh.frames == [(), (), (1, 1)] and fresh.schedule_for(3) is None


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"version": 2, "runs": []},
        {"version": 1, "runs": {"1": [1]}},
        {"version": 1, "runs": [[1, 2]]},
        {"version": 1, "runs": [[0, [1]]]},
        {"version": 1, "runs": [[True, [1]]]},
        {"version": 1, "runs": [[10**12, [1]]]},
        {"version": 1, "runs": [[1, [0]]]},
        {"version": 1, "runs": [[1, [10**6]]]},
        {"version": 1, "runs": [[1, ["2"]]]},
        {"version": 1, "runs": [[1, [1] * 5000]]},
    ],
)
def test_a_crafted_record_is_refused_in_one_line(data):
    with pytest.raises(DreamError) as e:
        ThreadRecord.from_json(data, "work/threads.json")
    assert "work/threads.json" in str(e.value) and "\n" not in str(e.value)


def test_a_bad_record_in_the_work_folder_stops_the_cli_in_one_line(tmp_path, capsys):
    src = small_clip(tmp_path / "in.mp4", 2)
    out = tmp_path / "out.mp4"
    work = work_folder(out)
    work.mkdir()
    cases = [b"not json", b"[" * 100_000, json.dumps({"version": 1, "runs": [[1, [0]]]})]
    for bad in cases:
        (work / RECORD_FILE).write_bytes(bad if isinstance(bad, bytes) else bad.encode())
        assert main(["video", str(src), "-o", str(out), *FLAGS]) != 0
        err = capsys.readouterr().err
        assert err.startswith("deepdream: error:") and RECORD_FILE in err, err
        assert len(err.strip().splitlines()) == 1 and "remove it" in err
        assert not out.exists() and not list(work.glob("*.png"))
    (work / RECORD_FILE).unlink()
    os.symlink("/etc/passwd", work / RECORD_FILE)  # never followed
    assert main(["video", str(src), "-o", str(out), *FLAGS]) != 0
    assert "not a plain file" in capsys.readouterr().err and not out.exists()


@pytest.mark.slow  # two threads beside a busy neighbour: 4-16 s on the shared 2 cores
def test_frames_are_dreamed_again_on_their_recorded_counts_whatever_the_load(tmp_path):
    """A frame the record holds (its PNG lost) is dreamed on its own counts: beside busy
    neighbours it is the frame the idle run made, and on other counts it would not be."""
    src = small_clip(tmp_path / "in.mp4", 3)
    # 4 steps: on fewer, lite0's default (block8 + block10, smoothed) can round to the same
    # bytes on 1 and 2 threads, and the test would not tell the counts apart
    cfg = make_config(octaves=2, iterations=4)
    runs = {}
    for name, counts in (("idle", IDLE), ("one", (1, 1))):
        out = tmp_path / name
        work_folder(out).mkdir()  # the record of a run on these counts, as a re-run finds it
        record = {"version": 1, "runs": [[3, [*counts]]]}
        (work_folder(out) / RECORD_FILE).write_text(json.dumps(record))
        dream_video(src, out, cfg, device="cpu", keep_frames=True)
        assert record_of(work_folder(out)) == record["runs"]
        runs[name] = pngs(work_folder(out))
    assert runs["idle"] != runs["one"]  # so the counts matter
    again = tmp_path / "again"
    shutil.copytree(work_folder(tmp_path / "idle"), work_folder(again))
    (work_folder(again) / list(runs["idle"])[-1]).unlink()  # the last frame lost, not its counts
    with busy_neighbours(threads.usable_cpus()):
        dream_video(src, again, cfg, device="cpu", keep_frames=True)
    assert pngs(work_folder(again)) == runs["idle"]
    assert pngs(again) == pngs(tmp_path / "idle")  # the output frames too


def _cli(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen(
        [sys.executable, "-m", "inceptionism", "video", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow  # four processes, each loading the model (~45-60 s on the shared 2 cores)
def test_a_clip_resumed_beside_busy_neighbours_fits_the_load_and_its_record_reproduces_it(
    tmp_path,
):
    """Killed after 6 frames of an idle run's counts, resumed beside busy neighbours: the new
    frames choose fewer threads (no 2x cost) and are recorded, so the record holds both runs'
    counts, and a run on that record reproduces the finished clip idle, byte for byte (and
    differs from it without the record)."""
    frames = 24  # enough that the kill after frame 6 lands mid-run
    # This clip's first 4 frames round to the same bytes on (1, 1) and (1, 2); later ones do
    # not, so the interrupted run's counts matter from frame 5 on.
    kill_after = 6
    src = small_clip(tmp_path / "in.mp4", frames)
    out = tmp_path / "out"
    work = work_folder(out)
    p = _cli([str(src), "-o", str(out), *FLAGS, "--threads", "2"])  # an idle run's counts
    deadline = time.monotonic() + 120
    while len(list(work.glob("*.png"))) < kill_after:
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    done = len(list(work.glob("*.png")))
    assert kill_after <= done < frames and not out.exists()
    with busy_neighbours(threads.usable_cpus()):
        p = _cli([str(src), "-o", str(out), *FLAGS, "--keep-frames"])  # no --threads now
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert "resuming at frame" in err and "ended on" not in err
    recorded = ThreadRecord.read(work).frames
    assert len(recorded) == frames and len(pngs(out)) == frames
    assert set(recorded[:done]) == {IDLE}  # the interrupted run's frames, on their counts
    assert (1, 1) in recorded[done:]  # the resumed frames took one thread beside the neighbours
    assert {len(c) for c in recorded} == {2}
    again = tmp_path / "again"  # the finished clip again, idle, from its record alone
    work_folder(again).mkdir()
    for name in ("state.json", RECORD_FILE):
        shutil.copy(work / name, work_folder(again) / name)
    p = _cli([str(src), "-o", str(again), *FLAGS, "--keep-frames"])
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert ThreadRecord.read(work_folder(again)).frames == recorded
    assert pngs(again) == pngs(out)  # byte for byte, without the neighbours now
    # Without the record the frames choose afresh, and match only if the load changed exactly
    # as it did between the two runs: here it did not, so another clip.
    dropped = tmp_path / "dropped"
    work_folder(dropped).mkdir()
    shutil.copy(work / "state.json", work_folder(dropped) / "state.json")
    p = _cli([str(src), "-o", str(dropped), *FLAGS])
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert pngs(dropped) != pngs(out)


def test_live_says_what_threads_its_frames_ran_on(tmp_path):
    src = write_clip(tmp_path / "in.mp4", moving_frames(6, (128, 80), (1.5, 0.5)), 6)
    source = open_source(src, 128)
    config = make_config(octaves=1, iterations=1, max_side=128)
    loop = frame_loop(config, LiveSettings(), (source.height, source.width), device="cpu")
    stats = run_live(source, loop, LiveSettings(duration=1.0), threading.Event())
    assert stats.dreamed >= 1 and sum(stats.threads.values()) == stats.dreamed
    assert all(len(k) == 1 for k in stats.threads)  # one count per octave
    assert ", threads " in stats.line() and " x" in stats.line()
