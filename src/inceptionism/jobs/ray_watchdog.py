"""The watchdog of a local Ray that ``--ray`` started: its processes end with the command.

Ray's GCS and raylet die with the process that started them, but the raylet's agents
(``ray::DashboardAgent``, ``ray::RuntimeEnvAgent``) and a worker being born outlive a driver
that was killed (SIGKILL, the OOM killer): the agents wait a minute on the dead GCS. This
script, started before ``ray.init`` in its own session, watches the driver's Ray processes
(its children run from Ray's package folder, and everything below them) and holds one end of a
pipe whose other end only the driver has. When the pipe closes (the driver is done, or dead
however it died) it ends every Ray process it saw, and any that names one of them as its raylet.

Run as a script (``python -I -S ray_watchdog.py DRIVER_PID RAY_DIR``): standard library only,
so it starts in milliseconds.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import time

#: Seconds between two looks at the process table while the driver lives.
SCAN_INTERVAL_S = 0.5
#: Seconds a process gets to end after SIGTERM before SIGKILL.
GRACE_S = 1.0


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of a live process; None once it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rpartition(b")")[2].split()
    except OSError:
        return None
    if fields[0] == b"Z":
        return None
    return int(fields[1]), fields[19].decode()


def _read(pid: int, name: str) -> bytes:
    try:
        with open(f"/proc/{pid}/{name}", "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def _table() -> dict[int, tuple[int, str]]:
    """Every live process: pid -> (parent pid, start time)."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _stat(int(entry))
            if info is not None:
                table[int(entry)] = info
    return table


def ray_processes(driver: int, ray_dir: bytes) -> dict[int, str]:
    """The driver's Ray processes: its children run from ``ray_dir`` and all below them,
    pid -> start time (so that a pid used again later is never taken for one of them)."""
    table = _table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    roots = [p for p in children.get(driver, []) if ray_dir in _read(p, "cmdline")]
    found: dict[int, str] = {}
    while roots:
        pid = roots.pop()
        if pid != os.getpid() and pid not in found:
            found[pid] = table[pid][1]
            roots.extend(children.get(pid, []))
    return found


def session_folders(pids: set[int]) -> set[str]:
    """The Ray session folders named on the command lines of ``pids`` (the GCS and the raylet
    name theirs: ``.../session_2026-12-07_08-48-24_341824_10671``)."""
    found = set()
    for pid in pids:
        for arg in _read(pid, "cmdline").split(b"\0"):
            head, mark, tail = arg.decode(errors="replace").partition("/session_")
            if mark and "=" in head and not tail.startswith("latest"):
                found.add(head.partition("=")[2] + mark + tail.split("/")[0])
    return found


def holding(folders: set[str], ray_dir: bytes) -> dict[int, str]:
    """Ray's processes (a ``ray::`` title, or run from ``ray_dir``) with a file open in one of
    ``folders``, as every Ray process logs into its session's folder: the workers and agents
    the raylet started after the last look, orphans by now. (Their titles write over their
    environment, so the raylet's pid there does not tell.)"""
    prefixes = tuple(f"{folder}/" for folder in folders)
    found = {}
    for pid, (_, started) in _table().items() if prefixes else ():
        cmdline = _read(pid, "cmdline")
        if not (cmdline.startswith(b"ray::") or ray_dir in cmdline):
            continue
        if any(link.startswith(prefixes) for link in _open_files(pid)):
            found[pid] = started
    return found


def _open_files(pid: int) -> list[str]:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []
    links = []
    for fd in fds:
        with contextlib.suppress(OSError):  # closed meanwhile
            links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return links


def end(processes: dict[int, str]) -> None:
    """SIGTERM, then SIGKILL after a grace period, to those of ``processes`` still alive."""

    def alive() -> list[int]:
        return [p for p, started in processes.items() if (_stat(p) or (0, ""))[1] == started]

    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in alive():
            with contextlib.suppress(OSError):  # gone meanwhile
                os.kill(pid, sig)
        deadline = time.monotonic() + GRACE_S
        while alive() and time.monotonic() < deadline:
            time.sleep(0.05)


def watch(driver: int, ray_dir: bytes) -> None:
    """Track the driver's Ray processes until stdin closes, then end them all."""
    seen: dict[int, str] = {}
    folders: set[str] = set()
    while True:
        seen.update(ray_processes(driver, ray_dir))
        folders |= session_folders(set(seen))
        readable, _, _ = select.select([0], [], [], SCAN_INTERVAL_S)
        if readable and not os.read(0, 4096):
            break
    seen.update(ray_processes(driver, ray_dir))
    seen.update(holding(folders, ray_dir))
    for pid in (driver, os.getpid()):  # the driver logs there too: alive, it ends on its own
        seen.pop(pid, None)
    end(seen)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    watch(int(sys.argv[1]), os.fsencode(sys.argv[2]))
