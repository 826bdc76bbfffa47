"""How many CPUs a dream may really use: those this process may run on, less those busy with
other work right now.

torch starts one OpenMP thread per core it sees, whatever else runs: on the 2-core machine with
one busy process beside it, a 256x170 dream step on two threads took 5.6x (``import
inceptionism`` first) to 30-50x (``import torch`` first) as long as on one, as OpenMP threads
wait for a core that is taken over hundreds of small ops a step (benchmarks/contention.py). A
container with a CPU quota on a big host, an affinity mask, Ray workers side by side or a web
server's other dreams do the same. So each octave's thread count comes from what is free, read
from the kernel's CPU accounting over the last fraction of a second (:class:`CpuMeter`), not by
timing a step at each count: with torch imported first one step at the wrong count costs as much
as thirty right ones, more than a whole dream's margin.

Bottom layer: the standard library, errors and limits (torch is never imported here).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from inceptionism.errors import DreamError
from inceptionism.limits import MAX_ENTRIES, MAX_THREADS

#: Where cgroups are mounted: v2's ``cpu.max`` (``max 100000`` when unlimited) or v1's ``cpu``
#: controller (``cpu.cfs_quota_us``, -1 when unlimited).
CGROUP_ROOT = "/sys/fs/cgroup"
#: Shortest window worth reading the CPU accounting over: it counts in ticks of 10 ms, so two
#: cores over 0.25 s give 50 ticks, ample to tell a busy core from a free one.
MIN_WINDOW_S = 0.25
#: Shortest window the first reading of a process may use (it waits up to this long once).
FIRST_WINDOW_S = 0.05
#: Part of a core other processes must keep busy for it to count as taken.
BUSY_CORE = 0.5
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def affinity_cpus() -> set[int] | None:
    """The CPUs this process may run on (None where the system does not say)."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _own_cgroups() -> list[tuple[str, str]]:
    """This process's CPU cgroups as (mounted folder under the root, path): cgroup v2's unified
    one, and v1's ``cpu`` controller where the system still mounts it (older Docker hosts)."""
    found = []
    try:
        with open("/proc/self/cgroup", encoding="ascii") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                if not controllers:
                    found.append(("", path))
                elif "cpu" in controllers.split(","):
                    found.append((controllers, path))
    except (OSError, ValueError):
        pass
    return found


def _quota_in(folder: str) -> float | None:
    """The quota in one cgroup folder: v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` (-1: none)."""
    try:
        with open(os.path.join(folder, "cpu.max"), encoding="ascii") as f:
            quota, period = f.read().split()[:2]
    except OSError:
        try:
            with open(os.path.join(folder, "cpu.cfs_quota_us"), encoding="ascii") as f:
                quota = f.read().strip()
            with open(os.path.join(folder, "cpu.cfs_period_us"), encoding="ascii") as f:
                period = f.read().strip()
        except OSError:
            return None
    try:
        if quota in ("max", "-1") or int(period) <= 0:
            return None
        return int(quota) / int(period)
    except ValueError:
        return None


def quota_cpus(root: str = CGROUP_ROOT) -> float | None:
    """The CPU quota of this process's cgroups and those above them (cgroup v2 ``cpu.max``, v1
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``), the tightest one; None when there is none."""
    tightest = None
    for mount, path in _own_cgroups():
        top = os.path.normpath(os.path.join(root, mount))
        if not os.path.isdir(top):
            continue
        folder = os.path.normpath(os.path.join(top, path.lstrip("/")))
        while folder.startswith(top):
            cpus = _quota_in(folder)
            if cpus is not None:
                tightest = cpus if tightest is None else min(tightest, cpus)
            if folder == top:
                break
            folder = os.path.dirname(folder)
    return tightest


def usable_cpus(root: str = CGROUP_ROOT) -> int:
    """CPUs this process may use: its affinity mask, within its cgroup's quota (rounded down: a
    thread on a fraction of a core stalls the others at every op's barrier), at least 1."""
    mask = affinity_cpus()
    count = len(mask) if mask else os.cpu_count() or 1
    quota = quota_cpus(root)
    if quota is not None:
        count = min(count, max(1, math.floor(quota)))
    return max(1, count)


def _busy_ticks(cpus: set[int] | None) -> int:
    """Ticks all processes kept ``cpus`` (all where None) busy since boot (``/proc/stat``)."""
    total = 0
    with open("/proc/stat", encoding="ascii") as f:
        for line in f:
            if not line.startswith("cpu") or line.startswith("cpu "):
                continue
            name, *fields = line.split()
            if cpus is not None and int(name[3:]) not in cpus:
                continue
            # user nice system idle iowait irq softirq steal
            values = [int(v) for v in fields[:8]]
            total += sum(values[:3]) + sum(values[5:8])
    return total


def _own_ticks() -> int:
    """Ticks this process (all its threads) ran since it started (``/proc/self/stat``)."""
    with open("/proc/self/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


@dataclass(frozen=True)
class _Reading:
    at: float
    busy: int
    own: int


class CpuMeter:
    """Cores kept busy by other processes, from the kernel's accounting over the last window of
    at least ``MIN_WINDOW_S``: everything busy on our CPUs less our own time. One per process,
    shared by every dream (``METER``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cpus = affinity_cpus()
        self._last = self._read()
        self._others: float | None = None

    def _read(self) -> _Reading | None:
        try:
            return _Reading(time.monotonic(), _busy_ticks(self._cpus), _own_ticks())
        except (OSError, ValueError, IndexError):  # not Linux: nothing to read
            return None

    def others_busy(self) -> float:
        """Cores other processes kept busy over the last window (0.0 where unknown)."""
        with self._lock:
            if self._last is None:
                return 0.0
            window = time.monotonic() - self._last.at
            if self._others is None and window < FIRST_WINDOW_S:
                time.sleep(FIRST_WINDOW_S - window)  # once per process, 50 ms at most
            elif self._others is not None and window < MIN_WINDOW_S:
                return self._others
            now = self._read()
            if now is None:
                return 0.0
            ticks = (now.busy - self._last.busy) - (now.own - self._last.own)
            self._others = max(0.0, ticks / _TICKS / (now.at - self._last.at))
            self._last = now
            return self._others


METER = CpuMeter()


def free_cpus() -> int:
    """CPUs this process may use that no other process keeps busy now, at least 1."""
    taken = math.floor(METER.others_busy() + (1 - BUSY_CORE))
    mask = affinity_cpus()
    seen = len(mask) if mask else os.cpu_count() or 1  # a quota's host: its other cores count
    return max(1, min(usable_cpus(), seen - taken))


def check_threads(value: Any, what: str = "threads") -> int:
    """A thread count from 1 to ``MAX_THREADS``; one line otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_THREADS:
        raise DreamError(
            f"invalid {what} {str(value)[:40]!r}: need a whole number of threads from 1 to "
            f"{MAX_THREADS}"
        )
    return value


def thread_schedule(value: Any, what: str = "threads") -> tuple[int, ...]:
    """A recorded count per octave (a dream's metadata ``threads``: untrusted), checked."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise DreamError(f"invalid {what}: need a list of thread counts, one per octave")
    if len(value) > MAX_ENTRIES:
        raise DreamError(f"invalid {what}: {len(value):,} octaves, at most {MAX_ENTRIES:,}")
    return tuple(check_threads(n, what) for n in value)
