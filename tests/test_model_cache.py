"""Sharing: one cached model dreamed on by threads at once, weights fetched by processes at once,
and layers listed with no weights on the machine (issue 10, parts 3 and 5)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import sample_array, tiny_model
from weights_server import WeightsServer, closed_port_url

from inceptionism import Dreamer
from inceptionism.api import get_model
from inceptionism.config import make_config
from inceptionism.frontends.cli import main
from inceptionism.io import load_image
from inceptionism.models import REGISTRY, cache, load_model
from inceptionism.models import weights as W

SRC = Path(__file__).parents[1] / "src"


def in_threads(*jobs, timeout: float = 300) -> list:
    """Run each job in its own thread, all released at the same moment; their results in order
    (an exception in a job is raised here)."""
    start = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            start.wait()
            results[i] = jobs[i]()
        except BaseException as e:  # handed to the test thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results


# -- one model, many threads --------------------------------------------------------------------
def test_two_threads_dream_with_one_cached_model_as_if_one_after_the_other():
    model = get_model("efficientnet-lite0")
    assert get_model("efficientnet-lite0", device="cpu") is model  # one object per key
    photo = sample_array(144)  # 144x96: both octaves big enough for block10
    images = [load_image(photo), load_image(np.ascontiguousarray(photo[::-1, ::-1]))]
    configs = [make_config("default", octaves=2, iterations=2, seed=s) for s in (3, 4)]
    stamps: list[list[float]] = [[], []]

    def dream(i: int):
        def job() -> np.ndarray:
            dreamer = Dreamer(model, configs[i], device="cpu")  # each thread its own session
            for event in dreamer.steps(images[i]):  # noqa: B007
                stamps[i].append(time.monotonic())
            return event.result

        return job

    alone = [dream(0)(), dream(1)()]
    stamps = [[], []]
    together = in_threads(dream(0), dream(1))
    # the two dreams really ran at the same time: each took a step while the other was going
    assert stamps[0][0] < stamps[1][-1] and stamps[1][0] < stamps[0][-1]
    for a, b in zip(alone, together, strict=True):
        assert np.array_equal(a, b)
    assert not np.array_equal(alone[0], alone[1][::-1, ::-1])
    assert get_model("efficientnet-lite0") is model and model.device.type == "cpu"


def test_threads_tapping_one_network_see_only_their_own_layers():
    """A forward hook sees every forward of its module, whichever thread runs it; each thread
    must still get its own layers of its own input (the early stop included)."""
    model = tiny_model()
    torch.manual_seed(1)
    inputs = [torch.randn(1, 3, 48, 48, dtype=torch.float64) for _ in range(3)]
    asks = [["conv1"], ["conv3", "1"], ["conv4", "conv2"]]
    expected = [model.activations(x, ask) for x, ask in zip(inputs, asks, strict=True)]

    def job(i: int):
        def taps() -> int:
            for _ in range(200):
                got = model.activations(inputs[i], asks[i])
                assert got.keys() == expected[i].keys()
                for k, v in got.items():
                    assert torch.equal(v, expected[i][k]), (i, k)
            return i

        return taps

    assert in_threads(job(0), job(1), job(2)) == [0, 1, 2]


def test_a_shared_model_is_not_changed_by_use():
    model = tiny_model()
    layers = dict(model.layers)
    assert model.resolve("3") == "3" and model.module_path("3") == "3"
    assert model.stride("3") == 2 and model.min_side(["3"]) == 2
    assert model.layers == layers  # resolve only looks up; a module path is not added
    assert model.activations(model.preprocess(torch.zeros(1, 3, 8, 8).double()), ["3"])
    moved = model.to("meta")
    assert moved is not model and moved.device.type == "meta"
    assert model.device.type == "cpu" and model.to("meta") is moved and model.to("cpu") is model
    fast = model.fast()
    assert fast.device.type == "cpu" and model.net[0].weight.device.type == "cpu"


FACTORIES = """
import threading

import torch
from torch import nn

started = {"a": threading.Event(), "b": threading.Event()}
calls = []


def _made(name, other):
    calls.append(name)
    started[name].set()
    # the other model loads while this one is still loading: keys do not wait for each other
    if not started[other].wait(20):
        raise RuntimeError(f"{other} did not start loading while {name} was loading")
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())


def a():
    return _made("a", "b")


def b():
    return _made("b", "a")
"""


def test_each_key_loads_once_and_different_models_load_in_parallel(tmp_path, monkeypatch):
    module = f"factories_{uuid.uuid4().hex}"
    (tmp_path / f"{module}.py").write_text(FACTORIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    a, b = f"{module}:a", f"{module}:b"
    got = in_threads(*(lambda n=n: get_model(n) for n in (a, b, a, b, a, b)), timeout=60)
    assert got[0] is got[2] is got[4] and got[1] is got[3] is got[5] and got[0] is not got[1]
    assert sorted(sys.modules[module].calls) == ["a", "b"]  # one load per key
    assert cache.cache_key(a) in cache.cached()
    on_meta = get_model(a, device=torch.device("meta"))
    assert on_meta.device.type == "meta" and got[0].device.type == "cpu"


# -- one weights file, many processes -----------------------------------------------------------
@pytest.fixture
def big_payload(tmp_path: Path) -> tuple[Path, str]:
    """A real state dict of about 1 MiB (16 chunks of the throttled server) and its SHA-256."""
    path = tmp_path / "src" / "big-12345678.pth"
    path.parent.mkdir()
    torch.manual_seed(0)
    torch.save(torch.nn.Linear(512, 512).state_dict(), path)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


FETCH = """
import sys, time
from pathlib import Path

from inceptionism.models.weights import fetch_weights

url, sha, ready, go = sys.argv[1:5]
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.002)
print(fetch_weights(url, sha, progress=False))
"""


@pytest.mark.slow
def test_two_processes_fetching_one_file_end_with_one_verified_file(
    cache: Path, server: WeightsServer, big_payload, tmp_path: Path
):
    src, sha = big_payload
    url = server.serve("/w/big-12345678.pth", src, pause=0.02)  # ~0.3 s: the fetches overlap
    env = {**os.environ, "PYTHONPATH": str(SRC), W.CACHE_ENV: str(cache)}
    go = tmp_path / "go"
    ready = [tmp_path / f"ready{i}" for i in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", FETCH, url, sha, str(r), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in ready
    ]
    try:
        deadline = time.monotonic() + 120
        while not all(r.exists() for r in ready):  # both have imported torch and wait
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
            time.sleep(0.01)
        go.touch()  # and off they go, at the same moment
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert out.strip() == str(cache / "big-12345678.pth")
    assert sorted(os.listdir(cache)) == ["big-12345678.pth"]  # no temporary or lock file left
    assert hashlib.sha256((cache / "big-12345678.pth").read_bytes()).hexdigest() == sha
    if sys.platform != "win32":  # with a lock the second process waits and downloads nothing
        assert server.hits["/w/big-12345678.pth"] == 1


def test_threads_fetching_one_file_download_it_once(cache: Path, server: WeightsServer, payload):
    src, sha = payload
    url = server.serve("/t/tiny-12345678.pth", src, pause=0.05)
    paths = in_threads(*(lambda: W.fetch_weights(url, sha, progress=False) for _ in range(4)))
    assert set(paths) == {cache / "tiny-12345678.pth"}
    assert sorted(os.listdir(cache)) == ["tiny-12345678.pth"]
    assert server.hits["/t/tiny-12345678.pth"] == 1


@pytest.fixture
def payload(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "src" / "tiny-12345678.pth"
    path.parent.mkdir()
    torch.save(torch.nn.Linear(64, 32).state_dict(), path)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


# -- listing needs no weights -------------------------------------------------------------------
@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No weights on the machine (an empty cache) and no network (every proxy a closed port)."""
    empty = tmp_path / "no-weights"
    monkeypatch.setenv(W.CACHE_ENV, str(empty))
    nowhere = closed_port_url("/")
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(var, nowhere)
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    return empty


# Each model's default layers as the published architectures have them: (channels, stride).
DEFAULT_LAYER_SHAPES = {
    "efficientnet-lite0": {"block10": (112, 16)},
    "efficientnet-lite1": {"block12": (112, 16)},
    "efficientnet-lite2": {"block12": (120, 16)},
    "inception-v1": {"inception4b": (512, 16)},
    "inception-v3": {"Mixed_5d": (288, 8), "Mixed_6a": (768, 16), "Mixed_6b": (768, 16)},
    "vgg16": {"relu4_3": (512, 8)},
    "vgg19": {"relu4_4": (512, 8)},
    "resnet50": {"layer3": (1024, 16)},
}


def test_every_registered_model_has_its_layer_shapes_listed_here():
    assert set(DEFAULT_LAYER_SHAPES) == set(REGISTRY)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_layers_are_listed_with_no_weights_and_no_network(name, offline, capsys):
    assert main(["layers", "--model", name]) == 0
    out = capsys.readouterr().out
    rows = {r[0]: r for r in (line.split() for line in out.splitlines()[1:-1])}
    assert set(REGISTRY[name].default_layers) <= set(rows)
    for layer, (channels, stride) in DEFAULT_LAYER_SHAPES[name].items():
        assert rows[layer][1:3] == [str(channels), str(stride)] and rows[layer][-1] == "*"
    assert all(int(r[1]) > 0 for r in rows.values())
    assert not offline.exists()  # nothing fetched, nothing written


def test_the_architecture_lists_what_the_loaded_model_has():
    spec = REGISTRY["efficientnet-lite0"]
    arch = spec.architecture()
    assert arch.device.type == "meta"  # shapes only: no weights, no memory
    assert spec.layer_info() == load_model("efficientnet-lite0").layer_info()


def test_models_are_listed_offline_in_aligned_columns(offline, capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(REGISTRY) + 1 and lines[0].split()[0] == "model"
    for column in ("default layers", "weights"):  # every row's cell starts under its heading
        at = lines[0].index(column)
        assert all(line[at - 2 : at] == "  " and line[at] != " " for line in lines[1:])
    descriptions = [spec.description for spec in REGISTRY.values()]
    assert len({line.index(d) for line, d in zip(lines[1:], descriptions, strict=True)}) == 1
    assert "weights here" in lines[1] and "not downloaded" in lines[-1]
    assert not offline.exists()


def test_layers_help_describes_the_model_option(capsys):
    with pytest.raises(SystemExit):
        main(["layers", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--model NAME" in out and "deepdream models" in out and "no weights" in out
