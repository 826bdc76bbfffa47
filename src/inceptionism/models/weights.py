"""Fetching and loading published weights, with no dependency beyond torch and the stdlib.

Files are cached where torch hub keeps them (``$TORCH_HOME/hub/checkpoints``), so weights that
torchvision or ``torch.hub`` already downloaded are found and nothing is fetched twice. A download
goes to a temporary file beside its destination and is checked (length and SHA-256) before an
atomic rename, so an interrupted or corrupt transfer never leaves a file that looks valid.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import torch
from torch import nn

from ..errors import DreamError
from ..io.files import remove_stale_temps, temp_prefix
from .base import DreamModel, randomized
from .spec import ModelSpec

CACHE_ENV = "INCEPTIONISM_CACHE"
_CHUNK = 1 << 20
# Files already hashed in this process, keyed by (path, size, mtime): re-hashing a 500 MB
# checkpoint on every load is wasted time when nothing has touched it.
_verified: dict[tuple[str, int, int], str] = {}


@dataclass(frozen=True)
class Published:
    """Where a model's published weights live and the SHA-256 (full, or a hex prefix) they have."""

    url: str
    sha256: str

    @property
    def filename(self) -> str:
        return _url_filename(self.url)


def cache_dir() -> Path:
    """The weights cache: ``$INCEPTIONISM_CACHE`` if set, else torch hub's checkpoints folder.

    Mirrors ``torch.hub.get_dir()``: ``$TORCH_HOME`` defaults to ``$XDG_CACHE_HOME/torch`` and
    that to ``~/.cache/torch``.
    """
    own = os.environ.get(CACHE_ENV)
    if own:
        return Path(own).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(xdg, "torch")
    return Path(torch_home).expanduser() / "hub" / "checkpoints"


def _url_filename(url: str) -> str:
    name = os.path.basename(urllib.parse.urlparse(url).path)
    if not name:
        raise ValueError(f"cannot tell a file name from URL {url!r}; pass filename=")
    return name


def cached_path(url: str, filename: str | None = None) -> Path:
    """Where the file for ``url`` lives in the cache (whether or not it is there yet)."""
    return cache_dir() / (filename or _url_filename(url))


def is_cached(url: str, filename: str | None = None) -> bool:
    """Whether the cache holds a file for ``url``: a cheap check, the checksum is verified on load.

    Only verified files are ever moved into the cache, so a file there is complete unless a
    person put it there; :func:`fetch_weights` still checks it before use.
    """
    path = cached_path(url, filename)
    return path.is_file() and path.stat().st_size > 0


def _normalise_sha(sha256: str) -> str:
    sha = sha256.strip().lower()
    if not 8 <= len(sha) <= 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ValueError(f"sha256 must be 8 to 64 hex digits, got {sha256!r}")
    return sha


def _sha256_of(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _verified:
        h = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
        _verified[key] = h.hexdigest()
    return _verified[key]


def _one_line(text: object, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


#: The suffix of a download in progress (``.NAME.XXXXXXXX.part`` beside the cached file).
_PART = ".part"


def fetch_weights(
    url: str,
    sha256: str,
    filename: str | None = None,
    *,
    local: str | Path | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Path to a verified copy of the file at ``url``, downloading it into the cache if needed.

    ``sha256`` is the file's SHA-256 in hex: the full 64-digit digest, or, where only that is
    known, a prefix of it (torch hub file names such as ``googlenet-1378be20.pth`` carry the
    first 8 digits); a prefix is accepted as a match, which guards against truncation and
    corruption but not against a deliberately forged file.

    ``local`` names a file to use instead (the CLI's ``--weights FILE``): it is used as given,
    without a checksum, so fine-tuned weights of the same layout work too.

    Every failure raises :class:`DreamError` with one line saying what went wrong and where to
    put the file by hand; nothing partial is ever left in the cache.
    """
    if local is not None:
        path = Path(local).expanduser()
        if not path.is_file():
            raise DreamError(f"weights file {path} not found")
        return path

    sha = _normalise_sha(sha256)
    dest = cached_path(url, filename)
    # A cached file that fails the checksum (corrupt, or put there by hand) is replaced, but only
    # once a good copy has arrived.
    if dest.is_file() and _sha256_of(dest).startswith(sha):
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _unwritable(dest, e) from e
    # One process downloads, the others wait for it and then find the verified file.
    with _download_lock(dest):
        if dest.is_file() and _sha256_of(dest).startswith(sha):
            return dest
        return _download_verified(url, sha, dest, progress, timeout)


def _unwritable(dest: Path, e: OSError) -> DreamError:
    return DreamError(
        f"cannot write to the weights cache {dest.parent} ({_one_line(e)})",
        hint=f"set {CACHE_ENV} to a writable folder, or pass {{weights:FILE}}",
    )


@contextlib.contextmanager
def _download_lock(dest: Path) -> Iterator[None]:
    """Hold the right to download ``dest``, against other processes and threads alike.

    An exclusive ``flock`` on ``.NAME.lock`` beside it, removed (while still held) on the way
    out, so the cache keeps no lock files; a waiter that wakes up holding a removed lock file
    takes the new one instead. Where there is no ``flock`` (Windows, some network file systems),
    there is no lock: each process downloads to its own temporary file, and the rename in
    ``_download_verified`` accepts a verified file that another process put there first.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    lock = dest.with_name(f".{dest.name}.lock")
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise _unwritable(dest, e) from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # no locks on this file system
            os.close(fd)
            yield
            return
        try:
            current = os.stat(lock)
        except FileNotFoundError:
            current = None
        if current is not None and os.path.samestat(os.fstat(fd), current):
            break
        os.close(fd)  # the previous holder removed this one: lock the file that is there now
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def _download_verified(url: str, sha: str, dest: Path, progress: bool, timeout: float) -> Path:
    """Download ``url`` to a temporary file beside ``dest``, check it, and rename it there."""
    # A hint: the front end spells the option ({weights:FILE}); braces in the path are literal.
    where = str(dest).replace("{", "{{").replace("}", "}}")
    by_hand = f"put the file at {where} by hand, or pass {{weights:FILE}}"
    if dest.is_file():
        by_hand = f"replace {where} (it fails the checksum) by hand, or pass {{weights:FILE}}"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        prefix = temp_prefix(dest.name, _PART, dest.parent)
        remove_stale_temps(dest.parent, prefix, _PART)  # left by a killed download
        # In the destination folder so that the final rename is atomic (same file system).
        fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=_PART, dir=dest.parent)
    except OSError as e:
        raise _unwritable(dest, e) from e
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest, size, expected = _download(url, out, dest.name, progress, timeout, by_hand)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache file is an ordinary file
        if expected is not None and size != expected:
            raise DreamError(
                f"download of {url} was incomplete ({size} of {expected} bytes)",
                hint=f"try again, or {by_hand}",
            )
        if not digest.startswith(sha):
            raise DreamError(
                f"download of {url} failed its checksum (SHA-256 {digest[:16]}..., expected "
                f"{sha[:16]}...)",
                hint=f"try again, or {by_hand}",
            )
        try:
            os.replace(tmp, dest)
        except OSError:
            # Without a lock another process may have got there first (Windows refuses to
            # replace a file that is open): its verified file is as good as ours.
            if not (dest.is_file() and _sha256_of(dest).startswith(sha)):
                raise
            tmp.unlink(missing_ok=True)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _download(
    url: str, out: BinaryIO, name: str, progress: bool, timeout: float, by_hand: str
) -> tuple[str, int, int | None]:
    """Stream ``url`` into ``out``; return (sha256 hex, bytes written, Content-Length or None)."""
    from tqdm import tqdm

    h = hashlib.sha256()
    size = 0
    expected: int | None = None
    # A fresh opener per call so proxy settings are read from the environment each time.
    opener = urllib.request.build_opener()
    request = urllib.request.Request(url, headers={"User-Agent": "inceptionism"})
    try:
        with opener.open(request, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            with tqdm(
                total=expected,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=name,
                disable=not progress,
            ) as bar:
                while True:
                    # A connection closed early reads as b"" here (or IncompleteRead for a
                    # chunked body): the caller compares the count with Content-Length.
                    chunk = resp.read(_CHUNK)
                    if not chunk:
                        break
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as e:
        raise DreamError(
            f"cannot download {url}: HTTP {e.code} {_one_line(e.reason)}", hint=by_hand
        ) from e
    except urllib.error.URLError as e:
        raise DreamError(
            f"cannot download {url} (offline? {_one_line(e.reason)})", hint=by_hand
        ) from e
    except (http.client.HTTPException, OSError) as e:
        if isinstance(e, http.client.IncompleteRead) or (expected is not None and size < expected):
            of = f" of {expected}" if expected is not None else ""
            raise DreamError(
                f"download of {url} was incomplete ({size}{of} bytes: "
                f"{_one_line(e) or type(e).__name__})",
                hint=f"try again, or {by_hand}",
            ) from e
        raise DreamError(
            f"cannot download {url} ({_one_line(e) or type(e).__name__})", hint=by_hand
        ) from e
    return h.hexdigest(), size, expected


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict (name -> tensor) safely (``weights_only``), failing as a DreamError.

    A checkpoint that wraps its state dict (``{"state_dict": ...}`` or ``{"model": ...}``) and
    one saved from ``nn.DataParallel`` (keys prefixed ``module.``) are unwrapped.
    """
    path = Path(path)
    if not path.is_file():
        raise DreamError(f"weights file {path} not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise DreamError(f"cannot read weights file {path}: {_load_failure(e)}") from e
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if (
        not isinstance(obj, Mapping)
        or not obj
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    ):
        raise DreamError(
            f"weights file {path} is not a state dict (a mapping of names to tensors); "
            f"it holds {type(obj).__name__}"
        )
    state = dict(obj)
    if all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


def _load_failure(e: Exception) -> str:
    """One line for why ``torch.load`` failed; its weights-only refusals run to a page."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))
    if "Weights only load failed" in text:
        why = next(
            (
                ln.split(":", 1)[1].split(". ")[0]
                for ln in text.splitlines()
                if "WeightsUnpickler error" in ln
            ),
            "",
        )
        return (
            f"it holds Python objects besides tensors ({_one_line(why) or 'unsafe pickle'}); "
            "only plain state dicts are loaded, as arbitrary pickles can run code"
        )
    first = text.strip().splitlines()[0] if text.strip() else type(e).__name__
    return f"corrupt, or not a PyTorch checkpoint ({_one_line(first)})"


def _layout_mismatch(net: nn.Module, state: Mapping[str, torch.Tensor]) -> str:
    """A short description of how ``state`` differs from ``net``'s layout ('' if it fits)."""
    own = net.state_dict()
    # Checkpoints older than PyTorch 0.4.1 lack these counters; load_state_dict fills them in.
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and state[k].shape != v.shape
    ]
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("shape", shapes)):
        if items:
            more = f", ... ({len(items)} in all)" if len(items) > 3 else ""
            parts.append(f"{label}: {', '.join(items[:3])}{more}")
    return "; ".join(parts)


def load_published(
    build: Callable[[], nn.Module],
    published: Published,
    weights: str | Path | None,
    model: str,
    *,
    progress: bool = True,
) -> nn.Module:
    """``build()`` filled with ``weights`` (a local file) or the published weights, strictly.

    Strict loading is what makes a wrong file fail loudly: a partial match would dream with
    random filters and no error. The net is built on the meta device and takes the loaded
    tensors as they are (``assign=True``): no time spent on a random init that is thrown away,
    and no second copy of the weights in memory (VGG's are 0.5 GB).
    """
    path = fetch_weights(published.url, published.sha256, local=weights, progress=progress)
    state = load_state_dict_file(path)
    with torch.device("meta"):
        net = build()
    problem = _layout_mismatch(net, state)
    if problem:
        raise DreamError(f"weights file {path} does not fit model {model} ({problem})")
    own = net.state_dict()
    # Half-precision files would otherwise make a half-precision model.
    state = {k: v.to(own[k].dtype) if v.is_floating_point() else v for k, v in state.items()}
    for k in own:  # counters absent from pre-0.4.1 checkpoints; unused at inference
        if k.endswith("num_batches_tracked"):
            state.setdefault(k, torch.zeros((), dtype=torch.long))
    try:
        net.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as e:
        raise DreamError(f"weights file {path} does not fit model {model} ({_one_line(e)})") from e
    left = [n for n, t in (*net.named_parameters(), *net.named_buffers()) if t.is_meta]
    if left:
        raise DreamError(f"weights file {path} does not fit model {model} (unset: {left[0]})")
    return net


__all__ = [
    "CACHE_ENV",
    "Published",
    "cache_dir",
    "cached_path",
    "fetch_weights",
    "is_cached",
    "load_published",
    "load_state_dict_file",
]


def published_spec(
    name: str,
    weights: Mapping[str, Published],
    build: Callable[[], nn.Module],
    preprocess: object,
    layers: Mapping[str, str],
    default_layers: Mapping[str, float],
    description: str,
    aliases: Mapping[str, str] | None = None,
):
    """The ModelSpec of a model with published weights: ``weights[name]`` is looked up at load
    time (so tests can point it at a local server), strict loading, cached download."""

    def load(path: str | Path | None = None) -> DreamModel:
        return model(load_published(build, weights[name], path, name))

    def random(seed: int = 0) -> DreamModel:
        torch.manual_seed(seed)  # the default init of the convs and linears
        return model(randomized(build(), seed))

    def skeleton() -> DreamModel:
        with torch.device("meta"):
            return model(build())

    def model(net: nn.Module) -> DreamModel:
        return DreamModel(
            name=name,
            net=net,
            preprocess=preprocess,  # type: ignore[arg-type]
            layers=dict(layers),
            default_layers=dict(default_layers),
            aliases=dict(aliases or {}),
            description=description,
        )

    return ModelSpec(
        name=name,
        load=load,
        weights_here=lambda: is_cached(weights[name].url),
        description=description,
        default_layers=dict(default_layers),
        random=random,
        skeleton=skeleton,
    )
