"""``deepdream dream`` (the real command line, in this process) with its steps counted and timed.

    python benchmarks/peers/ours.py [deepdream dream arguments ...]

The runner's other side of the peer comparison: the arguments go to the command unchanged; the
engine's ``dream_steps`` is wrapped only to count the gradient steps and time the dream (from the
photo in memory and the model set up, to the result), the way ``tf_notebook.py`` reports its own.
Prints one line of JSON after the command's own output, with the precision the dream ran in (as
its output's metadata records it: ``auto`` resolved).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

import inceptionism  # noqa: E402  (first: sets the OpenMP spin before torch is imported)
from inceptionism import session  # noqa: E402
from inceptionism.frontends import cli  # noqa: E402

stats: dict[str, float] = {}
_dream_steps = session.dream_steps


def counted_dream_steps(*args, **kwargs):  # the engine's generator, counted and timed
    stats["ready_at"] = time.time()
    t0 = time.perf_counter()
    steps = _dream_steps(*args, **kwargs)
    n = 0
    while True:
        try:
            s = next(steps)
        except StopIteration as end:
            stats["wall_s"] = time.perf_counter() - t0
            stats["steps"] = n
            return end.value
        n += 1
        yield s


def peak_rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(next(ln for ln in status.splitlines() if ln.startswith("VmHWM")).split()[1]) / 1024


def main(argv: list[str]) -> int:
    session.dream_steps = counted_dream_steps
    rc = cli.main(["dream", *argv])
    import torch

    info = {"impl": "deepdream", **stats, "rss_peak_mb": peak_rss_mb()}
    info.update(threads=torch.get_num_threads(), torch=torch.__version__, rc=rc)
    info["inceptionism"] = getattr(inceptionism, "__version__", "")
    if rc == 0:
        from inceptionism.io import read_metadata

        info["precision"] = read_metadata(argv[argv.index("-o") + 1]).get("precision", "?")
    print(json.dumps(info), flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
