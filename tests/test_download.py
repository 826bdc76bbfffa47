"""Weights download and cache, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from weights_server import WeightsServer, closed_port_url

from inceptionism.errors import DreamError
from inceptionism.models import weights as W
from inceptionism.options import cli_spelling

pytestmark = pytest.mark.network  # a real HTTP server on 127.0.0.1


@pytest.fixture
def payload(tmp_path: Path) -> tuple[Path, str]:
    """A small real state dict file and its SHA-256."""
    path = tmp_path / "src" / "tiny-12345678.pth"
    path.parent.mkdir()
    torch.manual_seed(0)
    torch.save(torch.nn.Linear(64, 32).state_dict(), path)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def fail(excinfo: pytest.ExceptionInfo[DreamError], cache: Path, name: str) -> str:
    """The message as the CLI shows it, after checking what every download failure must say."""
    msg = excinfo.value.render(cli_spelling)
    assert "\n" not in msg
    assert str(cache / name) in msg and "--weights FILE" in msg
    assert files_in(cache) == []
    return msg


# -- cache location ----------------------------------------------------------------------------
def test_cache_dir_follows_torch_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in (W.CACHE_ENV, "TORCH_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert W.cache_dir() == tmp_path / "home" / ".cache" / "torch" / "hub" / "checkpoints"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert W.cache_dir() == tmp_path / "xdg" / "torch" / "hub" / "checkpoints"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert W.cache_dir() == tmp_path / "th" / "hub" / "checkpoints"
    monkeypatch.setenv(W.CACHE_ENV, str(tmp_path / "mine"))
    assert W.cache_dir() == tmp_path / "mine"


def test_cached_path_is_the_url_file_name(cache: Path) -> None:
    url = "https://example.org/models/googlenet-1378be20.pth?x=1"
    assert W.cached_path(url) == cache / "googlenet-1378be20.pth"
    assert W.cached_path(url, "other.pth") == cache / "other.pth"
    assert not W.is_cached(url)


# -- downloads ---------------------------------------------------------------------------------
def test_download_then_cache_hit(cache: Path, server: WeightsServer, payload) -> None:
    src, sha = payload
    url = server.serve("/m/tiny-12345678.pth", src)
    path = W.fetch_weights(url, sha, progress=False)
    assert path == cache / "tiny-12345678.pth"
    assert path.read_bytes() == src.read_bytes()
    assert files_in(cache) == ["tiny-12345678.pth"]
    assert W.is_cached(url)
    assert W.fetch_weights(url, sha, progress=False) == path
    assert server.hits["/m/tiny-12345678.pth"] == 1


def test_a_hex_prefix_of_the_digest_is_enough(cache: Path, server: WeightsServer, payload) -> None:
    src, sha = payload
    url = server.serve("/tiny.pth", src)
    assert W.fetch_weights(url, sha[:8].upper(), progress=False).read_bytes() == src.read_bytes()


def test_bad_digest_argument_is_a_programming_error(payload) -> None:
    with pytest.raises(ValueError):
        W.fetch_weights("http://127.0.0.1/x.pth", "not-hex", progress=False)
    with pytest.raises(ValueError):
        W.fetch_weights("http://127.0.0.1/x.pth", "abc", progress=False)


def test_redirects_are_followed(cache: Path, server: WeightsServer, payload) -> None:
    src, sha = payload
    server.serve("/real/tiny.pth", src)
    url = server.redirect("/tiny.pth", server.url("/real/tiny.pth"))
    assert W.fetch_weights(url, sha, progress=False) == cache / "tiny.pth"


def test_checksum_mismatch(cache: Path, server: WeightsServer, payload) -> None:
    src, sha = payload
    url = server.serve("/tiny.pth", src)
    wrong = ("0" if sha[0] != "0" else "1") + sha[1:]
    with pytest.raises(DreamError) as e:
        W.fetch_weights(url, wrong, progress=False)
    assert "checksum" in fail(e, cache, "tiny.pth")
    with pytest.raises(DreamError):  # a prefix that does not match fails as well
        W.fetch_weights(url, wrong[:8], progress=False)
    assert files_in(cache) == []


def test_interrupted_transfer(cache: Path, server: WeightsServer, payload) -> None:
    src, sha = payload
    url = server.serve("/tiny.pth", src, truncated=True)
    with pytest.raises(DreamError) as e:
        W.fetch_weights(url, sha, progress=False)
    msg = fail(e, cache, "tiny.pth")
    assert "incomplete" in msg and f"of {src.stat().st_size} bytes" in msg


def test_http_404(cache: Path, server: WeightsServer) -> None:
    with pytest.raises(DreamError) as e:
        W.fetch_weights(server.url("/missing.pth"), "ab" * 32, progress=False)
    assert "HTTP 404" in fail(e, cache, "missing.pth")


def test_connection_refused(cache: Path) -> None:
    with pytest.raises(DreamError) as e:
        W.fetch_weights(closed_port_url("/weights-abcdef12.pth"), "abcdef12", progress=False)
    assert "offline?" in fail(e, cache, "weights-abcdef12.pth")


def test_a_corrupt_cached_file_is_replaced(cache: Path, server: WeightsServer, payload) -> None:
    src, sha = payload
    url = server.serve("/tiny.pth", src)
    cache.mkdir()
    (cache / "tiny.pth").write_bytes(b"half a file")
    assert W.fetch_weights(url, sha, progress=False).read_bytes() == src.read_bytes()
    assert server.hits["/tiny.pth"] == 1


def test_a_corrupt_cached_file_is_named_when_offline(cache: Path) -> None:
    cache.mkdir()
    (cache / "w.pth").write_bytes(b"junk")
    with pytest.raises(DreamError) as e:
        W.fetch_weights(closed_port_url("/w.pth"), "ab" * 32, progress=False)
    assert f"replace {cache / 'w.pth'}" in str(e.value)
    assert files_in(cache) == ["w.pth"]  # left for the user to replace, nothing else added


def test_progress_bar(cache: Path, server: WeightsServer, payload, capsys) -> None:
    src, sha = payload
    url = server.serve("/tiny.pth", src)
    W.fetch_weights(url, sha, progress=False)
    assert capsys.readouterr().err == ""
    (cache / "tiny.pth").unlink()
    W._verified.clear()
    W.fetch_weights(url, sha, progress=True)
    assert "tiny.pth" in capsys.readouterr().err


# -- local files -------------------------------------------------------------------------------
def test_local_file_is_used_as_is(cache: Path, payload) -> None:
    src, _ = payload
    url = closed_port_url()
    assert W.fetch_weights(url, "ab" * 32, local=str(src)) == src
    assert files_in(cache) == []
    with pytest.raises(DreamError, match="not found"):
        W.fetch_weights(url, "ab" * 32, local=src.parent / "nope.pth")


def test_load_state_dict_file(tmp_path: Path, payload) -> None:
    src, _ = payload
    state = W.load_state_dict_file(src)
    assert set(state) == {"weight", "bias"} and state["weight"].shape == (32, 64)
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in state.items()}, "epoch": 3}, wrapped)
    assert set(W.load_state_dict_file(wrapped)) == {"weight", "bias"}


@pytest.mark.parametrize(
    "content",
    [
        b"this is not a checkpoint",
        "truncated",
        [torch.zeros(2)],
        {"weight": [1, 2, 3]},
        {},
    ],
    ids=["text", "truncated", "list", "non-tensor", "empty"],
)
def test_not_a_state_dict(tmp_path: Path, payload, content) -> None:
    path = tmp_path / "bad.pth"
    if content == "truncated":
        data = payload[0].read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(DreamError) as e:
        W.load_state_dict_file(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_missing_state_dict_file(tmp_path: Path) -> None:
    with pytest.raises(DreamError, match="not found"):
        W.load_state_dict_file(tmp_path / "nope.pth")
