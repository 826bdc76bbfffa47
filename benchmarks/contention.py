"""A dream beside busy neighbours: ms per gradient step on one thread, on two (the old default:
one per core) and as the project now chooses (issue 24), at 256 and 768 px.

Conditions: idle, one and two busy neighbours (real processes spinning ``while True: pass``),
and a container-like CPU quota of one CPU where this machine lets root make a cgroup (v2
``cpu.max`` or v1 ``cpu.cfs_quota_us``). Each condition runs two fresh processes: one that
imports ``inceptionism`` first, as the ``deepdream`` command does (the short OpenMP spin
applies), and one that imports ``torch`` first (it never does). In each, the three thread
settings alternate, dream after dream, so a change in the machine's load hits all three alike.

    PYTHONPATH=src python benchmarks/contention.py --quick     # ~3-5 min on 2 busy cores
    PYTHONPATH=src python benchmarks/contention.py --json out.json

Prints a markdown table and the load (``uptime``) before and after: on a shared machine the
"idle" rows are only as idle as the neighbours one does not control.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "inceptionism" / "data" / "chelsea.png"
SETTINGS = {"1 thread": 1, "2 threads (old default)": 2, "now (default)": None}
CGROUP_NAME = "inceptionism-contention"


# -- the child: one process, one import order ------------------------------------------------


def child(mode: str, sizes: list[int], iterations: int, repeat: int, cap: float) -> dict:
    """ms per step of each setting at each size, measured in this process."""
    if mode == "torch-first":
        import torch  # noqa: F401  (before inceptionism: GOMP_SPINCOUNT comes too late)
    import numpy as np
    from PIL import Image

    from inceptionism import Dreamer, make_config

    photo = Image.open(SAMPLE).convert("RGB")
    out: dict = {"spin": os.environ.get("GOMP_SPINCOUNT", "default"), "sizes": {}}
    for side in sizes:
        h = round(photo.height * side / photo.width)
        rgb = np.asarray(photo.resize((side, h), Image.LANCZOS), np.float32)
        cfg = make_config(iterations=iterations)
        dreamers = {k: Dreamer(config=cfg, device="cpu", threads=v) for k, v in SETTINGS.items()}
        warm = make_config(iterations=1)
        for n in SETTINGS.values():  # each count's oneDNN kernels made once, at most ``cap`` s
            timed_dream(Dreamer(config=warm, device="cpu", threads=n), rgb, cap)
        runs: dict[str, list[float]] = {k: [] for k in SETTINGS}
        used: dict[str, list] = {k: [] for k in SETTINGS}
        for _ in range(repeat):
            for name, dreamer in dreamers.items():
                ms, threads = timed_dream(dreamer, rgb, cap)
                runs[name].append(ms)
                used[name].append(threads)
        out["sizes"][f"{side}x{h}"] = {
            k: {"ms_per_step": statistics.median(v), "runs": v, "threads": used[k]}
            for k, v in runs.items()
        }
    return out


def timed_dream(dreamer, rgb, cap: float) -> tuple[float, list[int] | str]:
    """(ms per step, the threads each octave used) of one dream; stopped after ``cap`` s (then
    the steps it took so far: a lower bound)."""
    from inceptionism.errors import Cancelled

    cancel = threading.Event()
    timer = threading.Timer(cap, cancel.set)
    steps, threads = 0, "stopped"
    start = time.perf_counter()
    timer.start()
    try:
        for event in dreamer.steps(rgb, cancel=cancel):
            steps = event.step
            if event.result is not None:
                threads = list(event.threads)
    except Cancelled:
        pass
    finally:
        timer.cancel()
    return (time.perf_counter() - start) * 1000 / max(1, steps), threads


# -- the parent: conditions --------------------------------------------------------------------


@contextlib.contextmanager
def neighbours(count: int) -> Iterator[None]:
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        time.sleep(0.5 if count else 0)
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def make_quota_group(cpus: float) -> Path | None:
    """A cgroup limited to ``cpus`` CPUs (v2 ``cpu.max``, else v1 ``cpu.cfs_quota_us``), or None
    where root cannot make one here."""
    period = 100_000
    for top, files in (
        (Path("/sys/fs/cgroup"), {"cpu.max": f"{int(cpus * period)} {period}"}),
        (Path("/sys/fs/cgroup/unified"), {"cpu.max": f"{int(cpus * period)} {period}"}),
        (Path("/sys/fs/cgroup/cpu"), {"cpu.cfs_quota_us": str(int(cpus * period))}),
    ):
        if not (top / "cgroup.procs").exists():
            continue
        group = top / CGROUP_NAME
        try:
            group.mkdir(exist_ok=True)
            for name, value in files.items():
                (group / name).write_text(value)
            return group
        except OSError:
            with contextlib.suppress(OSError):
                group.rmdir()
    return None


def run_child(mode: str, args: argparse.Namespace, group: Path | None) -> dict:
    def enter_group() -> None:
        if group is not None:
            (group / "cgroup.procs").write_text(str(os.getpid()))

    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    env.pop("GOMP_SPINCOUNT", None)
    cmd = [sys.executable, __file__, "--child", mode, "--sizes", args.sizes]
    cmd += ["--iterations", str(args.iterations), "--repeat", str(args.repeat)]
    cmd += ["--cap", str(args.cap)]
    done = subprocess.run(
        cmd, env=env, capture_output=True, text=True, check=True, preexec_fn=enter_group
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def conditions(args: argparse.Namespace) -> list[tuple[str, int, float | None]]:
    """(label, busy neighbours, CPU quota) of each condition asked for."""
    out = [(f"{n} busy" if n else "idle", n, None) for n in map(int, args.neighbours.split(","))]
    if args.quota:
        out.append((f"quota {args.quota:g} CPU", 0, args.quota))
    return out


def measure(args: argparse.Namespace) -> list[dict]:
    rows = []
    for label, busy, quota in conditions(args):
        group = make_quota_group(quota) if quota else None
        if quota and group is None:
            print(f"{label}: no cgroup can be made here (not root, or read-only)", file=sys.stderr)
            continue
        try:
            with neighbours(busy):
                for mode in ("cli", "torch-first"):
                    result = run_child(mode, args, group)
                    rows.append({"condition": label, "mode": mode, **result})
                    print(f"  {label}, {mode}: done", file=sys.stderr)
        finally:
            if group is not None:
                with contextlib.suppress(OSError):
                    group.rmdir()
    return rows


def table(rows: list[dict]) -> str:
    """The markdown table: ms per step per setting, and now against one thread."""
    names = list(SETTINGS)
    head = "| size | condition | import | " + " | ".join(f"{n} ms" for n in names)
    lines = [head + " | now / 1 thread | threads now used |", "|---" * (len(names) + 5) + "|"]
    for row in rows:
        who = "inceptionism first (CLI)" if row["mode"] == "cli" else "torch first"
        for size, cells in row["sizes"].items():
            ms = [cells[n]["ms_per_step"] for n in names]
            marks = ["" if "stopped" not in cells[n]["threads"] else ">" for n in names]
            now_used = cells[names[-1]]["threads"][-1]
            lines.append(
                f"| {size} | {row['condition']} | {who} | "
                + " | ".join(f"{m}{v:.0f}" for m, v in zip(marks, ms, strict=True))
                + f" | {ms[-1] / ms[0]:.2f}x | {now_used} |"
            )
    return "\n".join(lines)


def uptime() -> str:
    with open("/proc/loadavg", encoding="ascii") as f:
        return "load average " + ", ".join(f.read().split()[:3])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="3 steps an octave, one run each")
    p.add_argument("--sizes", default="256,768", help="long sides, comma-separated")
    p.add_argument("--neighbours", default="0,1,2", help="busy neighbours, comma-separated")
    p.add_argument("--quota", type=float, default=1.0, help="CPUs of the quota row (0: none)")
    p.add_argument("--iterations", type=int, default=None, help="steps an octave (default 15)")
    p.add_argument("--repeat", type=int, default=None, help="runs of each setting (default 3)")
    p.add_argument("--cap", type=float, default=None, help="seconds a dream may take")
    p.add_argument("--json", type=Path, help="write the rows here too")
    p.add_argument("--child", choices=("cli", "torch-first"), help=argparse.SUPPRESS)
    args = p.parse_args()
    args.iterations = args.iterations or (3 if args.quick else 15)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.cap = args.cap or (15.0 if args.quick else 60.0)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.child:
        print(json.dumps(child(args.child, sizes, args.iterations, args.repeat, args.cap)))
        return
    before = uptime()
    rows = measure(args)
    print(
        f"{before} before, {uptime()} after; {os.cpu_count()} CPUs; default preset, "
        f"{args.iterations} steps an octave, median of {args.repeat}\n"
    )
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "load": [before, uptime()]}, indent=1))


if __name__ == "__main__":
    main()
