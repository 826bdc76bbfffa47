"""``--ray`` ends cleanly: a real ``deepdream`` process on a local Ray of its own, stopped
mid-run by SIGTERM (exit 143, one line, no output, Ray gone) or SIGKILL (Ray gone all the
same); an address that is not a Ray cluster fails in seconds, in one line."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inceptionism.frontends.cli import main
from inceptionism.jobs import ray_runtime

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.ray
SRC = Path(__file__).parents[1] / "src"
#: Seconds Ray's processes get to be gone once the command has ended.
GONE_WITHIN_S = 20.0


def _processes() -> dict[int, tuple[int, bytes, bytes]]:
    """Every live process: pid -> (parent pid, cmdline, environ) (from /proc)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if stat[0] != "Z":
            found[int(entry)] = (int(stat[1]), cmdline, environ)
    return found


def _marked(mark: bytes, table: dict[int, tuple[int, bytes, bytes]] | None = None) -> set[int]:
    """The processes whose environment carries ``mark`` (this run's own RAY_TMPDIR=...) or
    that hold a file open under that folder (Ray's titles write over the environment): all
    that the run started, orphaned or not."""
    table = _processes() if table is None else table
    folder = mark.partition(b"=")[2].decode() + "/"
    found = set()
    for pid, (_, _, env) in table.items():
        if mark in env.split(b"\0") or any(f.startswith(folder) for f in _open_files(pid)):
            found.add(pid)
    return found


def _open_files(pid: int) -> list[str]:
    links = []
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return links


def _started_by(driver: int, mark: bytes) -> tuple[dict[int, bytes], set[int]]:
    """(pid -> cmdline of the processes below ``driver``, :func:`_marked`)."""
    table = _processes()
    below: dict[int, bytes] = {}
    stack = [driver]
    while stack:
        parent = stack.pop()
        for pid, (ppid, cmd, _) in table.items():
            if ppid == parent and pid not in below:
                below[pid] = cmd
                stack.append(pid)
    return below, _marked(mark, table)


@pytest.fixture
def ray_tmpdirs() -> Iterator[Callable[[], str]]:
    """Short folders for local Rays (their socket paths must stay under 107 bytes)."""
    made: list[str] = []

    def make() -> str:
        made.append(tempfile.mkdtemp(prefix="dd-ray-", dir="/tmp"))
        return made[-1]

    try:
        yield make
    finally:
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)


class _Run:
    """``deepdream ARGS`` on a local Ray of its own, to be stopped by ``sig`` once one of its
    workers has ``busy`` in its title (``ray::ChunkWorker``: the actor is setting up or at
    work); its RAY_TMPDIR marks all it starts."""

    def __init__(self, args: list[str], busy: bytes, sig: int, ray_tmpdir: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(SRC), "RAY_TMPDIR": ray_tmpdir}
        cmd = [sys.executable, "-m", "inceptionism", *args]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.busy, self.sig = busy, sig
        self.mark = f"RAY_TMPDIR={ray_tmpdir}".encode()
        self.ours: dict[int, bytes] = {}

    def stop_when_busy(self) -> bool:
        """Sends the signal if a worker runs; whether it was sent (now or before)."""
        if self.ours:
            return True
        below, marked = _started_by(self.proc.pid, self.mark)
        assert self.proc.poll() is None, self.proc.communicate()
        if not any(self.busy in cmd for cmd in below.values()):
            return False
        assert set(below) <= marked, [below[p] for p in set(below) - marked]  # found orphaned
        assert any(b"raylet" in cmd for cmd in below.values()), below
        assert any(b"ray::DashboardAgent" in cmd for cmd in below.values()), below
        self.ours = below
        self.proc.send_signal(self.sig)
        return True

    def result(self) -> tuple[int, str, set[int]]:
        """(exit status, stderr, pids still running GONE_WITHIN_S after the end)."""
        _, err = self.proc.communicate(timeout=120)
        ended = time.monotonic()
        while (left := _marked(self.mark)) and time.monotonic() - ended < GONE_WITHIN_S:
            time.sleep(0.2)
        return self.proc.returncode, err.decode(), left


def _clip(path: Path) -> Path:
    from videoclips import moving_frames, write_clip

    return write_clip(path, moving_frames(24, (96, 72), (2, 1)), 24)


def test_sigterm_or_sigkill_mid_run_leave_no_ray_process_and_sigterm_exits_143(
    tmp_path, ray_tmpdirs
):
    """Both at once (their Ray start-ups overlap): a clip stopped by SIGTERM, a batch by
    SIGKILL, each once its worker (an actor) runs: the driver is then waiting on Ray."""
    pytest.importorskip("av")
    src, out = _clip(tmp_path / "clip.mp4"), tmp_path / "dream.mp4"
    flags = ["--octaves", "3", "--iterations", "20", "--max-side", "96", "--device", "cpu", "-q"]
    flags += ["--ray", "--workers", "1"]
    photos = tmp_path / "in"
    photos.mkdir()
    for i in range(2):
        Image.fromarray(np.full((72, 96, 3), 60 * i, np.uint8)).save(photos / f"p{i}.png")
    clip = _Run(
        ["video", str(src), "-o", str(out), *flags, "--chunk-frames", "8"],
        b"ray::ChunkWorker",
        signal.SIGTERM,
        ray_tmpdirs(),
    )
    batch = _Run(
        ["dream", str(photos), "-o", str(tmp_path / "out"), *flags],
        b"ray::DreamWorker",
        signal.SIGKILL,
        ray_tmpdirs(),
    )
    try:
        deadline = time.monotonic() + 300
        while not all([clip.stop_when_busy(), batch.stop_when_busy()]):
            assert time.monotonic() < deadline, "no worker got to work"
            time.sleep(0.1)
        status, err, left = clip.result()
        assert not left, f"left running: {[clip.ours.get(p, p) for p in left]}"
        assert status == 143, err
        assert err.strip().splitlines() == ["deepdream: terminated"], err  # no Ray warning
        assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "in", "out"]
        status, err, left = batch.result()
        assert not left, f"left running: {[batch.ours.get(p, p) for p in left]}"
        assert status == -signal.SIGKILL
        assert err == ""  # -q: not even Ray's token notice
    finally:
        for run in (clip, batch):
            if run.proc.poll() is None:
                run.proc.kill()


def test_a_ray_started_here_is_gone_when_the_run_fails(monkeypatch, ray_tmpdirs):
    """An error mid-run (as Ctrl-C: the same unwinding): Ray is shut down and the watchdog
    ends what is left, before the command returns."""
    assert not ray.is_initialized()
    folder = ray_tmpdirs()
    monkeypatch.setenv("RAY_TMPDIR", folder)
    mark = f"RAY_TMPDIR={folder}".encode()  # in the environment of all Ray starts from here
    with pytest.raises(RuntimeError, match="mid-run"), ray_runtime.connected(None) as started:
        assert started.is_initialized()
        ours = _started_by(os.getpid(), mark)[0]
        assert any(b"raylet" in cmd for cmd in ours.values())
        assert any(b"ray_watchdog.py" in cmd for cmd in ours.values())
        raise RuntimeError("a failure mid-run")
    assert not ray.is_initialized()
    ended = time.monotonic()  # gone at once, as a rule: the driver waits for the watchdog

    def left() -> set[int]:
        return {p for p in ours if p in _processes()} | (_marked(mark) - {os.getpid()})

    while left() and time.monotonic() - ended < 10:  # but the machine may be busy
        time.sleep(0.2)
    assert not left(), [ours.get(p, p) for p in left()]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections and never says a word (not Ray)."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        for conn in held:
            conn.close()


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]  # closed again on return: nobody listens there


@pytest.mark.parametrize("listening", [False, True], ids=["closed-port", "not-ray"])
def test_an_address_without_ray_fails_in_seconds_in_one_line(listening, request, tmp_path, capsys):
    assert not ray.is_initialized()
    port = request.getfixturevalue("silent_server") if listening else _closed_port()
    photo = tmp_path / "p.png"
    Image.new("RGB", (32, 24), "gray").save(photo)
    args = ["dream", str(photo), str(photo), "-o", str(tmp_path / "out"), "-q"]
    started = time.monotonic()
    assert main([*args, "--ray", f"127.0.0.1:{port}"]) == 1
    assert time.monotonic() - started < ray_runtime.PROBE_TIMEOUT_S + 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"deepdream: error: cannot join the Ray cluster at 127.0.0.1:{port}")
    assert ("does not answer as Ray does" if listening else "is Ray running there?") in err[0]
    assert not ray.is_initialized()
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_signal_during_a_ray_call_raises_its_own_exception():
    """Ray's C++ core hands back what a signal handler raised inside a ``SystemError``."""

    class Terminated(BaseException):
        pass

    def wrapped() -> None:
        try:
            raise Terminated
        except Terminated as e:
            raise SystemError("CoreWorker.wait returned a result with an exception set") from e

    with pytest.raises(Terminated):
        ray_runtime.call(wrapped)
    with pytest.raises(SystemError):
        ray_runtime.call(lambda: (_ for _ in ()).throw(SystemError("a real one")))
    assert ray_runtime.call(max, 2, 3) == 3
