"""Ray for a ``--ray`` run: joined or started here, and gone with the command, however it ends.

A local Ray started here shuts down when the run ends (normal exit, an error, Ctrl-C, SIGTERM),
and a watchdog process (:mod:`inceptionism.jobs.ray_watchdog`) ends what is left of it once the
command is gone, even after SIGKILL. An address to join is probed first (a TCP connect and a
gRPC handshake, seconds), since Ray's own connect retries for minutes and fills the terminal.
Ray's logging stays off the terminal: errors come back as one line of ours.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from inceptionism.errors import DreamError
from inceptionism.extras import require_extra
from inceptionism.threads import usable_cpus

#: Seconds to reach an address to join, and again for it to answer as a gRPC server.
PROBE_TIMEOUT_S = 5.0
#: Seconds the driver waits at the end for the watchdog to end Ray's leftover processes.
WATCHDOG_WAIT_S = 5.0
#: An HTTP/2 client's opening and an empty SETTINGS frame: a gRPC server (Ray's GCS, a Ray
#: Client server) answers with a SETTINGS frame of its own.
_HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_SETTINGS = 4
#: Test hook (fault injection, trusted like any environment variable): a folder where a file
#: ``transient-NAME`` makes the worker that takes input NAME (a clip's chunk: ``chunk-K``) raise
#: once, and ``kill-NAME`` makes it exit on the spot once (removing the marker is atomic, so
#: exactly one worker fires). Passed on to the workers of a Ray started here.
FAULTS_ENV = "INCEPTIONISM_RAY_FAULTS"

T = TypeVar("T")


def import_ray() -> Any:
    """Ray, an optional extra: one line naming the extra where it is missing."""
    return require_extra("ray", "ray", "--ray (on this machine and every node)")


def signalled(error: BaseException) -> BaseException | None:
    """The exception a signal handler raised (Ctrl-C, SIGTERM) that Ray's C++ core wrapped in
    a ``SystemError`` (``returned a result with an exception set``), or None."""
    cause = error.__cause__ or error.__context__
    if isinstance(error, SystemError) and cause is not None and not isinstance(cause, Exception):
        return cause
    return None


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, a blocking Ray call: a signal during it raises the signal's own
    exception (``Terminated``: exit 143, ``KeyboardInterrupt``), not a ``SystemError``."""
    try:
        return fn(*args, **kwargs)
    except SystemError as e:
        cause = signalled(e)
        if cause is None:
            raise
        raise cause from None


def _host_port(address: str) -> tuple[str, int] | None:
    rest = address.removeprefix("ray://")
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def probe(address: str) -> None:
    """Whether a Ray cluster can be at ``address`` (``HOST:PORT``, ``ray://HOST:PORT``): it
    accepts a connection and answers as a gRPC server, each within seconds. A closed port or
    a server that is not Ray's fails here in one line, not after minutes of Ray's retries."""
    where = _host_port(address)
    if where is None:
        return  # "auto" and the like: Ray finds the address, and says so quickly if none
    failed = f"cannot join the Ray cluster at {address}"
    try:
        conn = socket.create_connection(where, timeout=PROBE_TIMEOUT_S)
    except TimeoutError:
        raise DreamError(f"{failed}: no answer within {PROBE_TIMEOUT_S:g} s") from None
    except OSError as e:
        reason = e.strerror or str(e)
        raise DreamError(f"{failed}: {reason} (is Ray running there? ray start --head)") from None
    with conn:
        if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
            return  # TLS first: no plain gRPC handshake to check
        if not _answers_grpc(conn):
            raise DreamError(
                f"{failed}: something listens there, but it does not answer as Ray does "
                f"(no gRPC reply within {PROBE_TIMEOUT_S:g} s)"
            )


def _answers_grpc(conn: socket.socket) -> bool:
    """Whether the server on ``conn`` answers an HTTP/2 opening with its SETTINGS, as a gRPC
    server does (Ray's GCS, a Ray Client server)."""
    head = b""
    try:
        conn.sendall(_HTTP2_HELLO)
        while len(head) < 9:
            more = conn.recv(9 - len(head))
            if not more:
                break
            head += more
    except OSError:  # a timeout, a reset
        return False
    return len(head) == 9 and head[3] == _SETTINGS


@contextlib.contextmanager
def watchdog(ray: Any) -> Iterator[None]:
    """A watchdog that ends this process's Ray processes once the block ends or this process
    dies (its own session: the terminal's Ctrl-C and a group's SIGTERM are the driver's)."""
    script = Path(__file__).with_name("ray_watchdog.py")
    command = [sys.executable, "-I", "-S", str(script), str(os.getpid())]
    proc = subprocess.Popen(
        [*command, os.path.dirname(ray.__file__)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # the watchdog's signal: end what is left
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=WATCHDOG_WAIT_S)


def _start(ray: Any, address: str | None, kwargs: dict[str, Any]) -> None:
    """``ray.init`` with the command's own SIGTERM handling kept: ``ray.init`` installs a
    handler that exits 15 (on a SIGTERM while it starts, the command's handler gets it)."""
    main_thread = threading.current_thread() is threading.main_thread()
    ours = signal.getsignal(signal.SIGTERM) if main_thread else None
    terminated = False
    try:
        ray.init(address=address, **kwargs)
    except BaseException as e:
        cause = signalled(e) or e
        if main_thread and isinstance(cause, SystemExit) and cause.code == signal.SIGTERM:
            terminated = True
        elif cause is not e or not isinstance(e, Exception):
            raise cause from None
        else:  # Ray's own words, on one line ("The current node timed out during startup")
            what = f"join the Ray cluster at {address}" if address else "start a local Ray"
            raise DreamError(f"cannot {what}: {' '.join(str(e).split())}") from None
    finally:
        if main_thread and ours is not None:
            signal.signal(signal.SIGTERM, ours)
    if terminated:
        signal.raise_signal(signal.SIGTERM)  # the command's handler: raises, or ends us
        raise SystemExit(128 + signal.SIGTERM)


@contextlib.contextmanager
def quiet_driver() -> Iterator[None]:
    """Ray's driver prints each error its cluster publishes (a worker that died, a node out
    of memory) on stdout, where only our output paths go, and has no switch for it: while a
    run holds Ray those go nowhere (each failure has its own line of ours on stderr)."""
    module = sys.modules.get("ray._private.worker")
    printer = getattr(module, "print_to_stdstream", None)
    if printer is None:  # another Ray: its own ways
        yield
        return
    module.print_to_stdstream = _drop  # type: ignore[union-attr]
    try:
        yield
    finally:
        module.print_to_stdstream = printer  # type: ignore[union-attr]


def _drop(_data: Any, ignore_prefix: bool = False) -> None:
    """Where Ray's driver messages go during a run."""


@contextlib.contextmanager
def connected(address: str | None) -> Iterator[Any]:
    """Ray, joined or started here; shut down at the end only if this run started it or
    joined it (a test or a notebook that called ``ray.init`` itself keeps its Ray)."""
    ray = import_ray()
    if ray.is_initialized():
        with quiet_driver():
            yield ray
        return
    env = {k: os.environ[k] for k in (FAULTS_ENV, "GOMP_SPINCOUNT") if k in os.environ}
    env.setdefault("GOMP_SPINCOUNT", "10000")  # idle OpenMP threads sleep soon (runtime.py)
    kwargs: dict[str, Any] = {
        "logging_level": logging.ERROR,  # not Ray's notes in the progress bar, even with -q
        "log_to_driver": False,  # worker errors come back as outcomes; keep the bar clean
        "runtime_env": {"env_vars": env},
    }
    joined = address or os.environ.get("RAY_ADDRESS") or None
    if joined == "local":
        joined = None
    with contextlib.ExitStack() as stack:
        if joined:
            probe(joined)
        else:
            kwargs["include_dashboard"] = False
            kwargs["num_cpus"] = usable_cpus()  # affinity and quota: workers share what we have
            stack.enter_context(watchdog(ray))
        stack.enter_context(quiet_driver())  # until Ray is down
        stack.callback(ray.shutdown)  # also after a start cut short
        _start(ray, address or None, kwargs)
        yield ray


def one_machine_cpus(ray: Any) -> int | None:
    """This machine's cores when the cluster is this machine alone, else None."""
    try:
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        if len(nodes) != 1 or nodes[0].get("NodeID") != ray.get_runtime_context().get_node_id():
            return None
        return int(nodes[0].get("Resources", {}).get("CPU", 0)) or None
    except Exception:  # only a note: a client connection may not tell
        return None


def one_machine_note(ray: Any, workers: int, gpus: bool) -> str | None:
    """The note for a CPU run on a one-machine cluster: Ray's start-up and the split of the
    cores usually make it slower than the same run without ``--ray``."""
    cpus = None if gpus else one_machine_cpus(ray)
    if cpus is None:
        return None
    return (
        f"deepdream: note: --ray on one machine runs {workers} "
        f"worker{'s' if workers != 1 else ''} on {cpus} cores; "
        "without --ray is usually faster here"
    )
