from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))

from weights_server import WeightsServer  # tests/, on the path from here on

from inceptionism.models import load_model
from inceptionism.models.base import DreamModel, Preprocess
from inceptionism.models.weights import CACHE_ENV
from inceptionism.options import DEFAULT_MODEL, MODEL_NAMES

SAMPLE = Path(__file__).parents[1] / "src" / "inceptionism" / "data" / "chelsea.png"


def tiny_net(seed: int = 0) -> nn.Module:
    """A small random conv net: enough structure for the engine's math, fast in float64."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        nn.ReLU(),
    )


def tiny_model(dtype: torch.dtype = torch.float64) -> DreamModel:
    net = tiny_net().to(dtype)
    layers = {"conv1": "1", "conv2": "3", "conv3": "5", "conv4": "7"}
    return DreamModel("tiny", net, Preprocess.uniform(127.5, 127.5), layers, {"conv3": 1.0})


@pytest.fixture
def tiny() -> DreamModel:
    return tiny_model()


@pytest.fixture(scope="session")
def lite0() -> DreamModel:
    return load_model("efficientnet-lite0")


@pytest.fixture(scope="session")
def sample_path() -> Path:
    return SAMPLE


def sample_array(long_side: int = 160) -> np.ndarray:
    im = Image.open(SAMPLE).convert("RGB")
    im.thumbnail((long_side, long_side), Image.LANCZOS)
    return np.asarray(im).astype(np.float32)


def to_pixels(a: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.from_numpy(a).permute(2, 0, 1)[None].to(dtype)


def psnr(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    mse = torch.mean((a - b) ** 2).item()
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture
def server():
    """A real HTTP server on 127.0.0.1 serving weights files (tests/weights_server.py)."""
    s = WeightsServer()
    yield s
    s.close()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty weights cache of this test's own, and no proxy between us and 127.0.0.1."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    return folder


#: Models the fast loop leaves to the full suite: it dreams on the embedded EfficientNet-Lite0;
#: tests parametrised over the other models (big downloads or big networks) are slow.
BIG_MODELS = tuple(m for m in MODEL_NAMES if m != DEFAULT_MODEL)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``pytest -m "not slow"`` is the fast loop (about two minutes here): a test that starts a
    Ray cluster or a browser, or runs one of the big models, is slow too."""
    for item in items:
        params = getattr(item, "callspec", None)
        big = params is not None and any(m in params.id for m in BIG_MODELS)
        if big or item.get_closest_marker("ray") or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)
