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
    for var in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):  # the baseline: torch's; the engine: ours
        env.pop(var, None)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert p.returncode == 0, p.stderr
    assert "| case" in p.stdout and "speed-up" in p.stdout
    data = json.loads(out.read_text())
    assert data["device"] == "cpu" and data["matmul_gflop_per_s"] > 0
    (case,) = data["results"]
    engine, base = case["engine"], case["baseline"]
    assert engine["size"] == base["size"] == [128, 85]
    assert base["steps"] == 3 * 20  # lite0's default schedule, all octaves
    # octaves under 65 px (block10: stride 16, 2 px border) have a constant objective: skipped
    # (128x85 and 102x68 are dreamed, 82x54 is not)
    assert engine["steps"] in (40, 41)  # 41: auto tiling's one probe pass is counted too
    for r in (engine, base):
        assert r["wall_s"] > 0 and r["rss_peak_mb"] > 0 and r["gflop_per_step"] > 0
        assert r["objective"] > 0
    assert engine["speedup"] > 0 and engine["psnr"] > 15  # the same dream, to float drift
    assert engine["omp_spincount"] == "10000" and base["omp_spincount"] == "(default)"


def _run_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_models_without_weights_get_random_ones_of_the_right_shapes(monkeypatch):
    """Where the weights are not here the suite times ``ModelSpec.random`` (every registered
    model has one); a spec without it is skipped with a note, never downloaded."""
    import dataclasses

    from conftest import tiny_model

    from inceptionism import models

    run = _run_module()
    assert all(spec.random is not None for spec in models.REGISTRY.values())

    def load(weights=None):
        raise AssertionError("would download")

    seeds = []

    def random(seed: int):
        seeds.append(seed)
        return tiny_model()

    spec = models.ModelSpec("fake", load, lambda: False, "", {"conv3": 1.0}, random=random)
    monkeypatch.setitem(models.REGISTRY, "fake", spec)
    assert run.weights_source("fake") == "random"
    assert run.get_model("fake", seed=3)[1] == "random" and seeds == [3]
    monkeypatch.setitem(models.REGISTRY, "fake", dataclasses.replace(spec, random=None))
    assert run.weights_source("fake") is None


def test_peer_runner_times_the_deepdream_side_on_the_peer_work(tmp_path):
    """``benchmarks/peers``: our side of the TensorFlow comparison (the peer itself needs
    TensorFlow, which is not a dependency here), at a tiny schedule: photo, random inception-v3
    weights file, the real command, counted steps, times and peak memory."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("peers_run", ROOT / "benchmarks/peers/run.py")
    peers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peers)
    photos, weights = peers.write_inputs(tmp_path, [(240, 135)])
    out = tmp_path / "ours.png"
    cmd = peers.ours_command(photos[(240, 135)], out, weights, 1, octaves=2, iterations=2)
    got = peers.run_one(cmd, timeout=300)
    assert got["impl"] == "deepdream" and got["rc"] == 0 and out.exists()
    assert got["steps"] == 4 and got["threads"] == 1
    assert got["wall_s"] > 0 and got["startup_s"] > 0 and got["rss_peak_mb"] > 100
    assert "--max-loss" in cmd and cmd[cmd.index("--max-loss") + 1] == "inf"


@pytest.mark.parametrize(
    ("script", "args", "row"),
    [
        ("per_step.py", ["--variants", "2t,published-2t", "--octaves", "2"], "| 135x240 |"),
        ("conv_ceiling.py", ["--steps", "1"], " GFLOP/s"),
    ],
)
def test_peer_step_scripts_print_their_tables(script, args, row):
    """The per-step tables behind the peer notes (``per_step.py``, with the blocks' 1x1 convs
    as one and as published; ``conv_ceiling.py``), at a tiny size."""
    p = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/peers" / script), "--size", "240x135", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert p.returncode == 0, p.stderr
    assert row in p.stdout, p.stdout


def test_quick_precision_benchmark_prints_both_tables():
    """benchmarks/precision.py (issue 22) stays runnable: one model's speed row at a tiny size
    and one Lite model's quality row on the bundled sample, with the verdict line."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "precision.py"), "--quick", "--seeds", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert p.returncode == 0, p.stderr
    assert "| efficientnet-lite0 |" in p.stdout and "dream x" in p.stdout
    assert "| chelsea | lite0 |" in p.stdout and "looks the same:" in p.stdout
