"""CPU threads chosen from what is free (issue 24): the CPUs this process may use, the cores
other processes keep busy, and the count each octave ran on, recorded and replayed exactly."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inceptionism import Dreamer, make_config, threads
from inceptionism.errors import DreamError
from inceptionism.frontends.cli import main
from inceptionism.io import encode_image, read_metadata
from inceptionism.runtime import threads_flag

BUSY = "while True: pass"


@contextlib.contextmanager
def busy_neighbours(count: int) -> Iterator[None]:
    """``count`` real processes spinning on this process's CPUs (they inherit its mask)."""
    procs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(count)]
    try:
        time.sleep(threads.MIN_WINDOW_S + 0.1)  # a full window of them
        threads.METER.others_busy()  # a window that starts with them already busy
        time.sleep(threads.MIN_WINDOW_S + 0.05)
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def photo(path: Path, size: tuple[int, int] = (200, 150)) -> Path:
    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def test_usable_cpus_follow_the_affinity_mask():
    mask = threads.affinity_cpus()
    if not mask:
        pytest.skip("no affinity mask on this system")
    assert threads.usable_cpus() <= len(mask)
    os.sched_setaffinity(0, {min(mask)})
    try:
        assert threads.usable_cpus() == 1
        assert threads.free_cpus() == 1
    finally:
        os.sched_setaffinity(0, mask)


def test_cgroup_quota_is_the_tightest_one_rounded_down(tmp_path):
    groups = threads._own_cgroups()
    if not groups:
        pytest.skip("this process is in no cgroup")
    for mount, path in groups:  # a copy of this process's cgroup folders, quotas written in
        top = tmp_path / mount
        own = top / path.lstrip("/")
        own.mkdir(parents=True, exist_ok=True)
        (top / "cpu.max").write_text("max 100000\n")
    assert threads.quota_cpus(str(tmp_path)) is None
    mount, path = groups[0]
    own = tmp_path / mount / path.lstrip("/")
    (own / "cpu.max").write_text("150000 100000\n")  # 1.5 CPUs: one whole thread
    assert threads.quota_cpus(str(tmp_path)) == 1.5
    assert threads.usable_cpus(str(tmp_path)) == 1
    (own / "cpu.max").unlink()  # cgroup v1's files instead
    (own / "cpu.cfs_quota_us").write_text("250000\n")
    (own / "cpu.cfs_period_us").write_text("100000\n")
    assert threads.quota_cpus(str(tmp_path)) == 2.5
    (tmp_path / mount / "cpu.max").write_text("50000 100000\n")  # the top one is tighter
    assert threads.quota_cpus(str(tmp_path)) == 0.5
    assert threads.usable_cpus(str(tmp_path)) == 1  # never none


def test_busy_neighbours_leave_one_thread():
    usable = threads.usable_cpus()
    with busy_neighbours(usable):
        assert threads.METER.others_busy() >= usable - threads.BUSY_CORE
        assert threads.free_cpus() == 1


def test_thread_counts_are_checked_like_untrusted_input():
    assert threads.thread_schedule([1, 2, 2]) == (1, 2, 2)
    for bad in ([], [0], [1, 10**9], ["2"], [True], "12", 3, [1] * 2000):
        with pytest.raises(DreamError, match="threads"):
            threads.thread_schedule(bad)
    for bad in (0, -1, 2.0, True, "2"):
        with pytest.raises(DreamError, match="threads"):
            Dreamer(config=make_config(), device="cpu", threads=bad)


@pytest.mark.slow
def test_dreamer_records_each_octaves_threads_and_replays_them(sample_path):
    cfg = make_config(iterations=1, octaves=2)
    rgb = np.asarray(Image.open(sample_path).convert("RGB").resize((200, 150)), np.float32)
    results = {}
    for schedule in [(1, 2), (2, 2), (1, 2)]:
        dreamer = Dreamer(config=cfg, device="cpu", threads=schedule)
        *_, last = dreamer.steps(rgb)
        assert last.threads == schedule
        assert dreamer.metadata(rgb.shape[:2], threads=last.threads)["threads"] == [*schedule]
        if schedule in results:
            assert np.array_equal(results[schedule], last.result)  # replayed: same pixels
        results[schedule] = last.result
    assert not np.array_equal(results[(1, 2)], results[(2, 2)])  # so the counts matter
    *_, forced = Dreamer(config=cfg, device="cpu", threads=1).steps(rgb)
    assert forced.threads == (1, 1)
    *_, adaptive = Dreamer(config=cfg, device="cpu").steps(rgb)
    assert len(adaptive.threads) == 2 and adaptive.threads[0] == 1  # small octave: one


def test_a_dream_under_busy_neighbours_reproduces_idle_byte_for_byte(tmp_path, capsys):
    src = photo(tmp_path / "in.png")
    first, again = tmp_path / "busy.png", tmp_path / "idle.png"
    flags = ["--iterations", "1", "--octaves", "2", "-q"]
    with busy_neighbours(threads.usable_cpus()):
        assert main(["dream", str(src), "-o", str(first), *flags]) == 0
    schedule = read_metadata(first)["threads"]
    assert len(schedule) == 2 and schedule[0] == 1
    assert main(["dream", str(src), "-o", str(again), "--config-from", str(first), "-q"]) == 0
    assert read_metadata(again)["threads"] == schedule
    assert again.read_bytes() == first.read_bytes()
    # the replay is what makes them equal: the other count on the full-size octave differs
    other = (1, 2 if schedule[1] == 1 else 1)
    *_, last = Dreamer(
        config=make_config(iterations=1, octaves=2), device="cpu", threads=other
    ).steps(np.asarray(Image.open(src).convert("RGB"), dtype=np.float32))
    mine = np.asarray(Image.open(first).convert("RGB"))
    assert not np.array_equal(np.clip(np.rint(last.result), 0, 255).astype(np.uint8), mine)
    capsys.readouterr()


def test_bad_threads_in_a_dreams_metadata_is_one_line(tmp_path, capsys):
    src = photo(tmp_path / "in.png", (96, 72))
    meta = {"config": make_config().to_dict()}
    for bad in ([10**6], "two", [[1]], [0]):
        crafted = tmp_path / "crafted.png"
        data = encode_image(crafted, np.zeros((72, 96, 3)), None, {**meta, "threads": bad})
        crafted.write_bytes(data)
        out = tmp_path / "out.png"
        code = main(["dream", str(src), "-o", str(out), "--config-from", str(crafted), "-q"])
        err = capsys.readouterr().err
        assert code != 0 and err.startswith("deepdream: error:") and "threads" in err
        assert len(err.strip().splitlines()) == 1
        assert not out.exists()


TORCH_FIRST = """
import sys, torch  # before inceptionism: the short OpenMP spin never applies
import numpy as np
from inceptionism import Dreamer, make_config
rgb = np.full((150, 200, 3), 128, np.float32)
*_, last = Dreamer(config=make_config(iterations=1, octaves=2), device="cpu").steps(rgb)
print(list(last.threads), torch.get_num_threads())
"""


@pytest.mark.slow
def test_with_torch_imported_first_busy_neighbours_still_leave_one_thread():
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1] / "src"))
    env.pop("GOMP_SPINCOUNT", None)
    with busy_neighbours(threads.usable_cpus()):
        out = subprocess.run(
            [sys.executable, "-c", TORCH_FIRST], env=env, capture_output=True, text=True
        )
    assert out.returncode == 0, out.stderr
    used, after = out.stdout.split("]")
    assert used.strip("[ ") == "1, 1"  # the full-size octave too: 2 would wait on a taken core
    assert int(after) >= 1


def test_threads_flag_is_the_n_that_repeats_a_schedule():
    shapes = [(107, 142), (150, 200), (210, 280)]  # 15,194 px: one thread whatever is allowed
    assert threads_flag((1, 2, 2), shapes) == 2
    assert threads_flag((1, 1, 1), shapes) == 1
    assert threads_flag((1, 1, 2), shapes) is None  # the load changed: only --config-from
    assert threads_flag((), shapes) is None


def test_pixels_follow_the_octaves_counts_alone_not_the_process_count():
    """Bilinear resizing between octaves rounds its last bit by the thread count: it runs on
    BETWEEN_OCTAVES, so the studio (2 threads, octaves on 1) and ``--threads 1`` agree."""
    import torch

    cfg = make_config(octaves=2, iterations=1)
    rgb = np.asarray(photo_pixels(), np.float32)
    before = torch.get_num_threads()
    out = []
    try:
        for base in (2, 1):
            torch.set_num_threads(base)
            *_, last = Dreamer(config=cfg, device="cpu", threads=(1, 1)).steps(rgb)
            out.append(last.result)
            assert torch.get_num_threads() == base  # the process's count comes back
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(out[0], out[1])


def photo_pixels(size: tuple[int, int] = (192, 128)) -> Image.Image:
    rng = np.random.default_rng(1)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def test_two_dreams_at_once_share_the_free_cpus_and_each_replays_alone():
    """Two dreams of one process at once, each a generator stepped in a thread of its own (a
    server's request threads; the studio's own queue runs one dream per device at a time). The
    octaves they run side by side split the free CPUs (their counts sum to at most the usable
    CPUs), and each records its counts: alone, on them, it gives the same pixels byte for byte."""
    cfg = make_config(octaves=2, iterations=2)
    first = np.asarray(photo_pixels((192, 128)), np.float32)  # 24,576 px: worth two threads
    images = [first, np.ascontiguousarray(first[::-1, ::-1])]
    session = Dreamer(config=cfg, device="cpu")  # one session serving both, as a server's
    side_by_side = threading.Barrier(2)
    last: list = [None, None]
    failed: list[BaseException] = []

    def dream(i: int) -> None:
        try:
            for event in session.steps(images[i]):
                side_by_side.wait(timeout=120)  # each octave starts while the other dreams too
                last[i] = event
        except BaseException as e:  # reported by the main thread
            failed.append(e)
            side_by_side.abort()

    mask = threads.affinity_cpus()
    if mask and len(mask) > 2:  # two CPUs, as here: on an idle one each dream takes one of them
        os.sched_setaffinity(0, sorted(mask)[:2])  # the dreams' threads inherit it
    try:
        usable = threads.usable_cpus()
        workers = [threading.Thread(target=dream, args=(i,)) for i in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=300)
    finally:
        if mask:
            os.sched_setaffinity(0, mask)
    assert not failed, failed
    a, b = (event.threads for event in last)
    assert len(a) == len(b) == 2
    assert all(x + y <= max(usable, 2) for x, y in zip(a, b, strict=True)), (a, b)
    for i, event in enumerate(last):
        *_, alone = Dreamer(config=cfg, device="cpu", threads=event.threads).steps(images[i])
        assert alone.threads == event.threads
        assert np.array_equal(alone.result, event.result)
