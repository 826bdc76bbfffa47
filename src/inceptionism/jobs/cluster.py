"""``deepdream dream INPUTS... -o DIR --ray [ADDRESS]``: the same batch, spread over a Ray cluster.

Plain Ray actors, one per GPU or ``--workers N`` on CPUs, each set up once (model, session) and
fed one file at a time by the driver. Workers need no shared file system: the driver reads each
input, ships its bytes, and writes the returned output with the atomic writer (``--shared-fs``:
workers read and write the paths themselves). Every file runs the same job as the local batch
(:func:`inceptionism.jobs.filejob.dream_file`).

Idempotent: an output that exists with the same recipe in its metadata is skipped, so resuming
is running again. A bad input is reported and not retried; a transient failure (a worker that
died, a lost node, an unexpected error) is retried on a live worker, and a killed actor is
restarted by Ray (``max_restarts``) and gets work again. Each output is written once, complete.
The progress bar, summary line and exit status are the local batch's; failures are also listed
in ``deepdream-failures.json`` in the output folder (the current folder without ``-o``).

Ray Data is not used: its fixed start-up cost is seconds, and one failed row aborts its job.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inceptionism.config import DreamConfig
from inceptionism.errors import DreamError, is_out_of_memory
from inceptionism.jobs.batch import describe

#: Tries per file for transient failures (a dead worker, a lost node, an unexpected error).
ATTEMPTS = 3
#: Actor restarts Ray does for a worker process that died (then its file is done again).
MAX_RESTARTS = 3
#: How long the driver waits with no worker alive (restarting, or waiting for a node).
NO_WORKER_TIMEOUT_S = 600.0
#: Torch threads per CPU worker when ``--workers`` is not given.
THREADS_PER_WORKER = 4
MANIFEST = "deepdream-failures.json"
#: Test hook (fault injection, trusted like any environment variable): a folder where a file
#: ``transient-NAME`` makes the worker that takes input NAME (a clip's chunk: ``chunk-K``) raise
#: once, and ``kill-NAME`` makes it exit on the spot once (removing the marker is atomic, so
#: exactly one worker fires).
FAULTS_ENV = "INCEPTIONISM_RAY_FAULTS"

_ADDRESS = re.compile(r"^(auto|local|ray://\S+|[\w.\-\[\]:]+:\d+)$")


def add_arguments(parser: argparse.ArgumentParser, what: str = "batch") -> None:
    """The options of a Ray run (not dream settings: never in a recipe); ``what`` is spread:
    ``batch`` (``deepdream dream``) or ``clip`` (``deepdream video``, whose frames the driver
    always ships: there ``--shared-fs`` is about the weights and guide only)."""
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help=f"spread the {what} over Ray: a local Ray without ADDRESS, or join one "
        "(auto, ray://HOST:PORT, HOST:PORT); pip install 'inceptionism[ray]'",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="--ray: N workers (default: one per GPU, or one per 4 CPU cores)",
    )
    parser.add_argument(
        "--shared-fs",
        action="store_true",
        help="--ray: the workers see the same files at the same paths; they read and write them"
        if what == "batch"
        else "--ray: the workers read --weights and --guide at the same paths (not shipped)",
    )


#: The options above: about a run, never a dream setting (config files, --print-config).
RUN_OPTIONS = {"ray", "workers", "shared_fs"}


def wanted(args: argparse.Namespace) -> bool:
    """Whether this run goes to Ray; ``--ray photo.jpg`` takes the file back as an input."""
    address = getattr(args, "ray", None)
    if address is None:
        return False
    if address and not _ADDRESS.match(address):
        if isinstance(args.input, list):
            args.input = [address, *args.input]
        elif args.input is None:  # `deepdream video --ray clip.mp4 -o ...`: the one input
            args.input = address
        else:
            raise DreamError(
                f"--ray {address}: not a Ray address (auto, ray://HOST:PORT or HOST:PORT)"
            )
        args.ray = ""
    return True


# -- the worker ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs to set up its session, shipped once to each."""

    config: DreamConfig
    device: str
    precision: str
    threads: int | None
    shared_fs: bool
    weights: str | None = None  # a path the worker can read (shared file system)
    weights_data: bytes | None = None  # or the driver's weights file, shipped
    weights_name: str = "weights.pth"
    guide_data: bytes | None = None  # the guide image, shipped


@dataclass(frozen=True)
class Task:
    index: int
    input: str
    output: str
    overwrite: bool
    data: bytes | None = None  # the input's bytes (None: the worker reads ``input``)


@dataclass
class Outcome:
    """``done`` (with the output's bytes, or written by the worker), ``skipped`` (the output
    was already there), ``bad`` (this input: not retried) or ``transient`` (retried)."""

    status: str
    message: str = ""
    data: bytes | None = None
    node: str = ""
    frames: Any = None  # a clip's chunk: its dreamed frames, (N, H, W, 3) uint8


def local_files(spec: WorkerSpec, folder: Path) -> tuple[DreamConfig, str | None]:
    """(recipe, weights path) as this worker reads them: the shipped weights and guide written
    into ``folder`` (the guide under its own name: the objective is named after it)."""
    cfg, weights = spec.config, spec.weights
    if spec.weights_data is not None:
        weights = str(folder / Path(spec.weights_name).name)
        Path(weights).write_bytes(spec.weights_data)
    if spec.guide_data is not None and cfg.guide:
        guide = folder / Path(cfg.guide).name
        guide.write_bytes(spec.guide_data)
        cfg = cfg.replace(guide=str(guide))
    return cfg, weights


def set_up(spec: WorkerSpec, build: Callable[[WorkerSpec, Path], Any]) -> Any:
    """A worker's ``build(spec, folder)`` with its torch threads set and a folder for the
    shipped files, which are read during set-up only."""
    import torch

    if spec.threads:
        torch.set_num_threads(spec.threads)
    folder = Path(tempfile.mkdtemp(prefix="inceptionism-worker-"))
    try:
        return build(spec, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def fault(name: str) -> None:
    folder = os.environ.get(FAULTS_ENV)
    if not folder:
        return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(folder, f"kill-{name}"))
        os._exit(1)  # as a crashed worker or a lost node would: no reply at all
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(folder, f"transient-{name}"))
        raise ConnectionError(f"injected transient failure on {name}")


class DreamWorker:
    """One Ray actor: the session set up once, then one file per call."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.error: str | None = None
        self.node = ""
        with contextlib.suppress(Exception):  # only a label
            import ray

            self.node = ray.get_runtime_context().get_node_id()[:8]
        try:
            self.dreamer = self._set_up(spec)
        except DreamError as e:
            self.error = describe(e)

    @staticmethod
    def _set_up(spec: WorkerSpec) -> Any:
        return set_up(spec, DreamWorker._session)

    @staticmethod
    def _session(spec: WorkerSpec, folder: Path) -> Any:
        from inceptionism.session import Dreamer

        cfg, weights = local_files(spec, folder)
        dreamer = Dreamer(
            cfg.model, cfg, device=spec.device, precision=spec.precision, weights=weights
        )
        if cfg is not spec.config:  # a shipped guide: same pixels; metadata names the user's
            dreamer.recipe = dreamer.config = spec.config
        return dreamer

    def ready(self) -> str | None:
        """None once set up; else why not (a bad setting: the same on every worker)."""
        return self.error

    def dream(self, task: Task) -> Outcome:
        from inceptionism import io
        from inceptionism.jobs.filejob import dream_file, made_with

        if self.error is not None:
            return Outcome("bad", self.error, node=self.node)
        name = Path(task.input).name
        try:
            fault(name)
            if task.data is None:  # shared file system
                if not task.overwrite and made_with(task.output, self.spec.config):
                    return Outcome("skipped", node=self.node)  # an earlier try wrote it
                done = dream_file(self.dreamer, io.read_input(task.input), task.input, task.output)
                io.write_encoded(task.output, done.data, overwrite=task.overwrite)
                return Outcome("done", node=self.node)
            done = dream_file(self.dreamer, task.data, task.input, task.output)
            return Outcome("done", data=done.data, node=self.node)
        except Exception as e:
            return failed(e, self.node)


def failed(error: Exception, node: str) -> Outcome:
    """A job's error as its outcome: ``bad`` (the input or a setting: never retried) or
    ``transient`` (anything else, a full /tmp or a flaky network disk, may pass next time)."""
    if isinstance(error, DreamError) or is_out_of_memory(error):
        return Outcome("bad", describe(error) or str(error), node=node)
    return Outcome("transient", f"{type(error).__name__}: {error}", node=node)


# -- the driver ---------------------------------------------------------------------------------


def import_ray() -> Any:
    from inceptionism.extras import require_extra

    return require_extra("ray", "ray", "--ray (on this machine and every node)")


@contextlib.contextmanager
def connected(address: str | None) -> Any:
    """Ray, joined or started here; shut down at the end only if this run started it (a test
    or a notebook that called ``ray.init`` itself keeps its Ray)."""
    import logging

    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    env = {k: os.environ[k] for k in (FAULTS_ENV, "GOMP_SPINCOUNT") if k in os.environ}
    env.setdefault("GOMP_SPINCOUNT", "10000")  # idle OpenMP threads sleep soon (runtime.py)
    kwargs: dict[str, Any] = {
        "logging_level": logging.WARNING,
        "log_to_driver": False,  # worker errors come back as outcomes; keep the bar clean
        "runtime_env": {"env_vars": env},
    }
    if not address or address == "local":
        kwargs["include_dashboard"] = False
        address = None
    main_thread = threading.current_thread() is threading.main_thread()
    sigterm = signal.getsignal(signal.SIGTERM) if main_thread else None
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise DreamError(f"cannot join the Ray cluster at {address}: {e}") from None
    finally:
        if main_thread:  # ray.init installs its own: keep the command's (clean-up, exit 143)
            signal.signal(signal.SIGTERM, sigterm)
    try:
        yield ray
    finally:
        ray.shutdown()


@dataclass
class Pool:
    """How many workers, and what each reserves and sets."""

    count: int
    gpus: bool
    threads: int | None
    device: str

    @classmethod
    def choose(
        cls,
        resources: dict[str, float],
        workers: int | None,
        device: str,
        node_cpus: int | None = None,
    ) -> Pool:
        """From the cluster's resources (``ray.cluster_resources()``); ``node_cpus``: the most
        CPUs one node has (a worker's threads must fit on one node, or it never starts)."""
        gpus = int(resources.get("GPU", 0))
        cpus = max(1, int(resources.get("CPU", 1)))
        if workers is not None and workers < 1:
            raise DreamError(f"--workers must be at least 1, got {workers}")
        if gpus and device not in ("cpu", "mps"):
            return cls(workers or gpus, True, None, "cuda")
        count = workers or max(1, cpus // THREADS_PER_WORKER)
        threads = max(1, min(cpus // count, node_cpus or cpus))
        return cls(count, False, threads, device if device in ("cpu", "mps") else "cpu")


def _largest_node_cpus(ray: Any) -> int | None:
    cpus = [n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
    return int(max(cpus)) if cpus else None


@dataclass
class Job:
    task: Any
    label: str  # how messages name it: the input file, or a chunk of a clip
    attempts: int = 0
    errors: list[str] = field(default_factory=list)


def _read_optional(path: str | None, what: str) -> bytes | None:
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise DreamError(f"cannot read {what} {path}: {e.strerror or e}") from None


def _spec(args: argparse.Namespace, cfg: DreamConfig, pool: Pool) -> WorkerSpec:
    weights = getattr(args, "weights", None)
    own_model = cfg.model.endswith(".py") or ".py:" in cfg.model
    if args.shared_fs or own_model:  # a model file is code: it must be on every node anyway
        return WorkerSpec(cfg, pool.device, args.precision, pool.threads, args.shared_fs, weights)
    return WorkerSpec(
        cfg,
        pool.device,
        args.precision,
        pool.threads,
        False,
        weights_data=_read_optional(weights, "weights file"),
        weights_name=Path(weights).name if weights else "weights.pth",
        guide_data=_read_optional(cfg.guide, "guide image"),
    )


def workers_for(ray: Any, args: argparse.Namespace, cfg: DreamConfig) -> tuple[Pool, WorkerSpec]:
    """How many workers this cluster gets (``--workers``, ``--threads``) and what each is sent."""
    pool = Pool.choose(ray.cluster_resources(), args.workers, args.device, _largest_node_cpus(ray))
    if getattr(args, "threads", None) and not pool.gpus:
        pool.threads = args.threads  # the user's word, per worker
    return pool, _spec(args, cfg, pool)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_manifest(folder: Path, failures: list[dict[str, Any]]) -> Path | None:
    """``deepdream-failures.json``: each failed input and why (an old one goes once all pass)."""
    path = folder / MANIFEST
    if not failures:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return None
    text = json.dumps({"failed": failures}, indent=2, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{MANIFEST}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's file is private; a report is not
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


def run(args: argparse.Namespace, recipe: Callable[[argparse.Namespace], DreamConfig]) -> int:
    """The batch of ``args`` on Ray; returns the exit code (as the local batch's)."""

    from inceptionism import io
    from inceptionism.frontends.cli import run_inputs
    from inceptionism.jobs import batch
    from inceptionism.jobs.filejob import made_with

    if not args.input:
        print(
            "deepdream: error: the following arguments are required: input "
            "(see deepdream dream --help)",
            file=sys.stderr,
        )
        return 2
    import_ray()
    cfg = recipe(args)  # bad options fail once, before Ray starts
    files, problems = batch.expand(args.input)
    folder = batch.output_folder(args.output) if args.output and files else None
    inputs = run_inputs(args)  # never written over, whatever the flags
    for f in files:
        inputs.add(f)
    pairs = batch.plan(files, folder, inputs)
    failures = [{"input": name, "error": message} for name, message in problems]
    for _, message in problems:
        print(f"deepdream: error: {message}", file=sys.stderr)
    jobs: list[Job] = []
    skipped = 0
    for src, out in pairs:
        if out.exists() and not args.overwrite:
            if made_with(out, cfg):
                skipped += 1
                continue
            message = f"output {out} exists and was made otherwise; --overwrite replaces it"
            print(f"deepdream: error: {message}", file=sys.stderr)
            failures.append({"input": str(src), "output": str(out), "error": message})
            continue
        try:
            io.check_output_path(out, src, inputs=inputs, overwrite=args.overwrite)
        except DreamError as e:
            message = describe(e) or str(e)
            print(f"deepdream: error: {message}", file=sys.stderr)
            failures.append({"input": str(src), "output": str(out), "error": message})
            continue
        jobs.append(Job(Task(len(jobs), str(src), str(out), args.overwrite), str(src)))
    done = 0
    initial = len(pairs) - len(jobs)
    with batch.progress_bar(len(pairs), args.quiet, "file", "batch", initial) as bar:
        if jobs:
            with connected(args.ray) as ray:
                pool, spec = workers_for(ray, args, cfg)
                driver = _Driver(ray, spec, pool, jobs, args.shared_fs, bar)
                done, more_skipped, lost = driver.results()
                skipped += more_skipped
                failures += lost
    manifest = write_manifest(folder or Path.cwd(), failures)
    failed = [f["input"] for f in failures]
    total = len(pairs) + len(problems)
    if failed or not args.quiet:
        print(f"deepdream: {total} inputs: {batch.summary(done, skipped, failed)}", file=sys.stderr)
    if manifest is not None:
        print(f"deepdream: failures listed in {manifest}", file=sys.stderr)
    return batch.EXIT_ERROR if failed else 0


def start_actors(ray: Any, pool: Pool, worker: type, *init_args: Any) -> list[Any]:
    """``pool.count`` actors of ``worker``, each holding its GPU or its CPU threads, restarted
    by Ray if their process dies (the call it was running fails and is tried again)."""
    options: dict[str, Any] = {"max_restarts": MAX_RESTARTS, "max_task_retries": 0}
    if pool.gpus:
        options.update(num_gpus=1, num_cpus=1)
    else:
        options.update(num_cpus=pool.threads)
    cls = ray.remote(**options)(worker)
    return [cls.remote(*init_args) for _ in range(pool.count)]


class Scheduler:
    """Feeds actors one job each, retries the transient failures, restarts lost actors.

    An actor has ``ready()`` (None once set up, else why not: a bad setting, raised here) and
    answers every job with an :class:`Outcome`. Subclasses say how a job is sent
    (``_submit``), what a finished one does (``_done``) and a failed one (``_fail``), and may
    add jobs as workers free up (``_refill``: a clip is cut into chunks as it is decoded).
    """

    def __init__(self, ray: Any, actors: list[Any], jobs: list[Job]) -> None:
        self.ray, self.actors = ray, actors
        self.todo: deque[Job] = deque(jobs)

    def _submit(self, actor: Any, job: Job) -> Any:
        raise NotImplementedError

    def _done(self, job: Job, outcome: Outcome) -> None:
        raise NotImplementedError

    def _fail(self, job: Job, message: str) -> None:
        raise NotImplementedError

    def _refill(self) -> None:
        """Add jobs to ``todo`` (called whenever a worker may be free)."""

    def _transient(self, job: Job, message: str) -> None:
        from tqdm import tqdm

        job.errors.append(message)
        if job.attempts >= ATTEMPTS:
            self._fail(job, f"{job.label}: failed {job.attempts} times: {message}")
            return
        tqdm.write(f"deepdream: {job.label}: {message}; trying again", file=sys.stderr)
        self.todo.appendleft(job)

    def _finish(self, job: Job, outcome: Outcome) -> None:
        if outcome.status == "transient":
            self._transient(job, outcome.message)
        elif outcome.status == "bad":
            self._fail(job, outcome.message)
        else:
            self._done(job, outcome)

    def run(self) -> None:
        ray = self.ray
        lost = (
            ray.exceptions.RayActorError,
            ray.exceptions.ActorUnavailableError,
            ray.exceptions.ObjectLostError,
            ray.exceptions.OwnerDiedError,
            ray.exceptions.WorkerCrashedError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.RayTaskError,  # an error our job did not catch: try again
        )
        waking: dict[Any, Any] = {a.ready.remote(): a for a in self.actors}  # ping -> actor
        idle: list[Any] = []
        busy: dict[Any, tuple[Any, Job]] = {}  # call -> (actor, job)
        last_alive = time.monotonic()
        try:
            self._refill()
            while self.todo or busy:
                while idle and self.todo:
                    job = self.todo.popleft()
                    actor = idle.pop()
                    try:
                        job.attempts += 1
                        busy[self._submit(actor, job)] = (actor, job)
                    except DreamError as e:  # the input cannot be read here: not retried
                        self._fail(job, describe(e) or str(e))
                        idle.append(actor)
                    self._refill()
                if not busy and not waking:
                    for job in self.todo:
                        self._fail(job, f"{job.label}: no Ray worker left to dream it")
                    self.todo.clear()
                    break
                if busy or idle:
                    last_alive = time.monotonic()
                elif time.monotonic() - last_alive > NO_WORKER_TIMEOUT_S:
                    for job in self.todo:
                        self._fail(job, f"{job.label}: no Ray worker came up in time")
                    self.todo.clear()
                    break
                ready, _ = ray.wait([*busy, *waking], num_returns=1, timeout=5.0)
                for ref in ready:
                    if ref in waking:
                        actor = waking.pop(ref)
                        try:
                            error = ray.get(ref)
                        except ray.exceptions.ActorDiedError:
                            continue  # dead for good (restarts used up): the others go on
                        except lost:
                            time.sleep(0.2)  # still restarting (or out of reach): ask again
                            waking[actor.ready.remote()] = actor
                            continue
                        if error is not None:
                            raise DreamError(error)  # a bad setting: every worker says so
                        idle.append(actor)
                        continue
                    actor, job = busy.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except lost as e:
                        self._transient(job, f"{type(e).__name__} (worker lost)")
                        waking[actor.ready.remote()] = actor  # back once Ray restarted it
                        continue
                    self._finish(job, outcome)
                    idle.append(actor)
                    self._refill()
        finally:
            for actor in self.actors:
                with contextlib.suppress(Exception):
                    ray.kill(actor, no_restart=True)


class _Driver(Scheduler):
    """The batch: one file per job; the driver reads inputs and writes outputs."""

    def __init__(
        self, ray: Any, spec: WorkerSpec, pool: Pool, jobs: list[Job], shared: bool, bar: Any
    ) -> None:
        super().__init__(ray, start_actors(ray, pool, DreamWorker, spec), jobs)
        self.shared, self.bar = shared, bar
        self.done = self.skipped = 0
        self.failures: list[dict[str, Any]] = []

    def _fail(self, job: Job, message: str) -> None:
        from tqdm import tqdm

        tqdm.write(f"deepdream: error: {message}", file=sys.stderr)
        self.failures.append(
            {
                "input": job.task.input,
                "output": job.task.output,
                "error": message,
                "attempts": job.attempts,
            }
        )
        self.bar.update(1)

    def _submit(self, actor: Any, job: Job) -> Any:
        task = job.task
        if not self.shared:
            from inceptionism import io

            data = io.read_input(task.input)
            task = Task(task.index, task.input, task.output, task.overwrite, data)
        return actor.dream.remote(task)

    def _done(self, job: Job, outcome: Outcome) -> None:
        from inceptionism import io

        if outcome.status == "skipped":
            self.skipped += 1
        else:
            if outcome.data is not None:
                try:
                    io.write_encoded(job.task.output, outcome.data, overwrite=job.task.overwrite)
                except DreamError as e:
                    self._fail(job, describe(e) or str(e))
                    return
            self.done += 1
        self.bar.update(1)

    def results(self) -> tuple[int, int, list[dict[str, Any]]]:
        self.run()
        return self.done, self.skipped, self.failures
