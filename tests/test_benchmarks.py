"""The benchmark script stays runnable: its quick path on one tiny case, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

pytestmark = pytest.mark.slow


def test_quick_benchmark_runs_engine_and_baseline_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--cases"]
    cmd += ["default-256", "--size", "128", "--threads", "1", "--json", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("OMP_WAIT_POLICY", None)  # the baseline gets torch's default, the engine its own
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert p.returncode == 0, p.stderr
    assert "| case" in p.stdout and "speed-up" in p.stdout
    data = json.loads(out.read_text())
    assert data["device"] == "cpu" and data["matmul_gflop_per_s"] > 0
    (case,) = data["results"]
    engine, base = case["engine"], case["baseline"]
    assert engine["size"] == base["size"] == [128, 85]
    assert engine["steps"] == base["steps"] == 4 * 15  # the default preset's schedule
    for r in (engine, base):
        assert r["wall_s"] > 0 and r["rss_peak_mb"] > 0 and r["gflop_per_step"] > 0
        assert r["objective"] > 0
    assert engine["speedup"] > 0 and engine["psnr"] > 15  # the same dream, to float drift
    assert engine["omp_wait_policy"] == "PASSIVE" and base["omp_wait_policy"] == "(default)"
