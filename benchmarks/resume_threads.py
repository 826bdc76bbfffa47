"""What pinning a resumed clip to the interrupted run's thread counts would cost beside busy
neighbours (issue 24), the reason it was rejected: one video frame's dream on the counts an
idle machine chooses (what a resume pinned to an idle run's counts would run on), against the
counts chosen from the free CPUs now (what a resumed run's new frames do), and one thread
throughout.

The three alternate, dream after dream, beside ``--neighbours`` real processes spinning
``while True: pass``, so a change in the machine's other load hits all three alike.

    PYTHONPATH=src python benchmarks/resume_threads.py --size 384x256 --repeat 3   # ~1 min

Prints the medians and the load (``uptime``) before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "inceptionism" / "data" / "chelsea.png"


@contextlib.contextmanager
def neighbours(count: int) -> Iterator[None]:
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        time.sleep(1.0)  # a full window of the CPU meter with them busy
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def measure(size: tuple[int, int], octaves: int, iterations: int, repeat: int, busy: int) -> None:
    import numpy as np
    from PIL import Image

    from inceptionism import Dreamer, make_config, threads

    rgb = np.asarray(Image.open(SAMPLE).convert("RGB").resize(size), np.float32)
    cfg = make_config(octaves=octaves, iterations=iterations)
    session = Dreamer(config=cfg, device="cpu")
    *_, idle = Dreamer(config=cfg, device="cpu", threads=threads.usable_cpus()).steps(rgb)
    schedules = {
        "idle run's counts (pinned)": idle.threads,
        "chosen now (adaptive, what a resume does)": None,
        "one thread": (1,) * len(idle.threads),
    }
    seconds: dict[str, list[float]] = {k: [] for k in schedules}
    chosen = []
    with neighbours(busy):
        for _ in range(repeat):
            for name, schedule in schedules.items():
                start = time.perf_counter()
                *_, last = session.steps(rgb, threads=schedule)
                seconds[name].append(time.perf_counter() - start)
                if schedule is None:
                    chosen.append(last.threads)
    print(f"{size[0]}x{size[1]}, {octaves} octaves x {iterations} steps, {busy} busy neighbours")
    print(f"idle counts {idle.threads}; chosen now {sorted(set(chosen))}")
    print("| counts | median s | runs |\n|---|---|---|")
    for name, runs in seconds.items():
        print(f"| {name} | {statistics.median(runs):.2f} | {', '.join(f'{s:.2f}' for s in runs)} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="384x256", help="frame WxH (default 384x256)")
    p.add_argument("--octaves", type=int, default=3)
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--neighbours", type=int, default=1)
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    measure((w, h), args.octaves, args.iterations, args.repeat, args.neighbours)
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
