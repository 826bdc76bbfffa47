"""A batch (``deepdream dream INPUTS... --ray``), spread over a Ray cluster.

Plain Ray actors, one per GPU or as many as asked (``RayOptions.workers``) on CPUs, each set
up once (model, session) and fed one file at a time by the driver. Workers need no shared file
system: the driver reads each input, ships its bytes, and writes the returned output with the
atomic writer (on a shared file system, ``RayOptions.shared_fs``, workers read and write the
paths themselves). Every file runs the same job as the local batch
(:func:`inceptionism.jobs.filejob.dream_file`).

Idempotent: an output that exists with the same recipe in its metadata is skipped, so resuming
is running again. A bad input is reported and not retried; a transient failure (a worker that
died, a lost node, an unexpected error) is retried on a live worker, and a killed actor is
restarted by Ray (``max_restarts``) and gets work again. Each output is written once, complete.
The progress bar, summary line and exit status are the local batch's; failures are also listed
in ``deepdream-failures.json`` in the output folder (the current folder without ``-o``).

Ray Data is not used: its fixed start-up cost is seconds, and one failed row aborts its job.
Ray is joined or started, and ended, by :mod:`inceptionism.jobs.ray_runtime`; the actors are fed
by :class:`inceptionism.jobs.ray_scheduler.Scheduler` (shared with ``jobs/cluster_video.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from inceptionism import io
from inceptionism.config import DreamConfig
from inceptionism.errors import (
    DreamError,
    OptionError,
    Spelling,
    is_out_of_memory,
    literal,
    python_spelling,
)
from inceptionism.jobs import batch
from inceptionism.jobs.batch import BatchRun, describe
from inceptionism.jobs.filejob import dream_file, made_with
from inceptionism.jobs.ray_runtime import FAULTS_ENV, connected, import_ray, one_machine_note
from inceptionism.jobs.ray_scheduler import Job, Outcome, Scheduler
from inceptionism.session import Dreamer

#: Actor restarts Ray does for a worker process that died (then its file is done again).
MAX_RESTARTS = 3
#: Torch threads per CPU worker when ``--workers`` is not given.
THREADS_PER_WORKER = 4
MANIFEST = "deepdream-failures.json"


@dataclass(frozen=True)
class RayOptions:
    """How a run is spread over Ray (never a dream setting) and what each worker sets up."""

    address: str = ""  # "" starts a local Ray; else one to join (auto, ray://HOST:PORT, ...)
    workers: int | None = None  # None: one per GPU, or one per THREADS_PER_WORKER CPU cores
    shared_fs: bool = False  # workers read and write the paths themselves
    device: str = "auto"
    precision: str = "auto"
    weights: str | None = None
    threads: int | None = None  # torch threads per CPU worker (None: from the cores)


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
    spell: Spelling = python_spelling  # how the front end names options in messages


@dataclass(frozen=True)
class Task:
    index: int
    input: str
    output: str
    overwrite: bool
    data: bytes | None = None  # the input's bytes (None: the worker reads ``input``)


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
            import ray  # optional extra: ray

            self.node = ray.get_runtime_context().get_node_id()[:8]
        try:
            self.dreamer = self._set_up(spec)
        except DreamError as e:
            self.error = describe(e, spec.spell)

    @staticmethod
    def _set_up(spec: WorkerSpec) -> Any:
        return set_up(spec, DreamWorker._session)

    @staticmethod
    def _session(spec: WorkerSpec, folder: Path) -> Any:
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
            return failed(e, self.node, self.spec.spell)


def failed(error: Exception, node: str, spell: Spelling = python_spelling) -> Outcome:
    """A job's error as its outcome: ``bad`` (the input or a setting: never retried) or
    ``transient`` (anything else, a full /tmp or a flaky network disk, may pass next time)."""
    if isinstance(error, DreamError) or is_out_of_memory(error):
        return Outcome("bad", describe(error, spell) or str(error), node=node)
    return Outcome("transient", f"{type(error).__name__}: {error}", node=node)


# -- the driver ---------------------------------------------------------------------------------


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
            raise OptionError(f"{{workers}} must be at least 1, got {workers}")
        if gpus and device not in ("cpu", "mps"):
            return cls(workers or gpus, True, None, "cuda")
        count = workers or max(1, cpus // THREADS_PER_WORKER)
        threads = max(1, min(cpus // count, node_cpus or cpus))
        return cls(count, False, threads, device if device in ("cpu", "mps") else "cpu")


def _largest_node_cpus(ray: Any) -> int | None:
    cpus = [n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
    return int(max(cpus)) if cpus else None


def _read_optional(path: str | None, what: str) -> bytes | None:
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise DreamError(f"cannot read {what} {path}: {e.strerror or e}") from None


def _spec(ray_options: RayOptions, cfg: DreamConfig, pool: Pool, spell: Spelling) -> WorkerSpec:
    weights = ray_options.weights
    shared_fs, precision = ray_options.shared_fs, ray_options.precision
    own_model = cfg.model.endswith(".py") or ".py:" in cfg.model
    if shared_fs or own_model:  # a model file is code: it must be on every node anyway
        return WorkerSpec(
            cfg, pool.device, precision, pool.threads, shared_fs, weights, spell=spell
        )
    return WorkerSpec(
        cfg,
        pool.device,
        precision,
        pool.threads,
        False,
        weights_data=_read_optional(weights, "weights file"),
        weights_name=Path(weights).name if weights else "weights.pth",
        guide_data=_read_optional(cfg.guide, "guide image"),
        spell=spell,
    )


def workers_for(
    ray: Any, ray_options: RayOptions, cfg: DreamConfig, spell: Spelling = python_spelling
) -> tuple[Pool, WorkerSpec]:
    """How many workers this cluster gets (``workers``, ``threads``) and what each is sent."""
    resources, node_cpus = ray.cluster_resources(), _largest_node_cpus(ray)
    pool = Pool.choose(resources, ray_options.workers, ray_options.device, node_cpus)
    if ray_options.threads and not pool.gpus:
        pool.threads = ray_options.threads  # the user's word, per worker
    return pool, _spec(ray_options, cfg, pool, spell)


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


def _jobs(
    request: BatchRun, cfg: DreamConfig, pairs: list[tuple[Path, Path]]
) -> tuple[list[Job], int, list[dict[str, Any]]]:
    """(jobs, outputs already made with this recipe, outputs that may not be written): what is
    known before Ray starts."""
    jobs: list[Job] = []
    skipped = 0
    failures: list[dict[str, Any]] = []
    for src, out in pairs:
        message = None
        if out.exists() and not request.overwrite:
            if made_with(out, cfg):
                skipped += 1
                continue
            error = OptionError(
                f"output {literal(out)} exists and was made otherwise; {{overwrite}} replaces it"
            )
            message = error.render(request.spell)
        else:
            try:
                io.check_output_path(out, src, inputs=request.reads, overwrite=request.overwrite)
            except DreamError as e:
                message = describe(e, request.spell) or str(e)
        if message is not None:
            print(f"deepdream: error: {message}", file=sys.stderr)
            failures.append({"input": str(src), "output": str(out), "error": message})
            continue
        jobs.append(Job(Task(len(jobs), str(src), str(out), request.overwrite), str(src)))
    return jobs, skipped, failures


def run(request: BatchRun, ray_options: RayOptions, cfg: DreamConfig) -> int:
    """The batch on Ray with the checked recipe ``cfg``; returns the exit code (as the local
    batch's)."""
    import_ray()
    files, problems = batch.expand(request.inputs)
    folder = batch.output_folder(request.output) if request.output and files else None
    for f in files:
        request.reads.add(f)  # never written over, whatever the options
    pairs = batch.plan(files, folder, request.reads)
    for _, message in problems:
        print(f"deepdream: error: {message}", file=sys.stderr)
    jobs, skipped, failures = _jobs(request, cfg, pairs)
    failures[:0] = [{"input": name, "error": message} for name, message in problems]
    done = 0
    initial = len(pairs) - len(jobs)
    with batch.progress_bar(
        len(pairs), request.quiet, "file", "batch", initial, steady=True
    ) as bar:
        if jobs:
            with connected(ray_options.address) as ray:
                pool, spec = workers_for(ray, ray_options, cfg, request.spell)
                note_one_machine(ray, pool, request.quiet)
                driver = _Driver(ray, spec, pool, jobs, bar, request)
                done, more_skipped, lost = driver.results()
                skipped += more_skipped
                failures += lost
    manifest = write_manifest(folder or Path.cwd(), failures)
    failed = [f["input"] for f in failures]
    total = len(pairs) + len(problems)
    if failed or not request.quiet:  # on stderr, as the local batch's
        line = batch.summary(done, skipped, failed, request.spell)
        print(f"deepdream: {total} inputs: {line}", file=sys.stderr)
    if manifest is not None:
        print(f"deepdream: failures listed in {manifest}", file=sys.stderr)
    return batch.EXIT_ERROR if failed else 0


def note_one_machine(ray: Any, pool: Pool, quiet: bool) -> None:
    """Says when the cluster is this machine's CPUs alone (usually slower than no Ray)."""
    note = None if quiet else one_machine_note(ray, pool.count, pool.gpus)
    if note:
        tqdm.write(note, file=sys.stderr)


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


class _Driver(Scheduler):
    """The batch: one file per job; the driver reads inputs and writes outputs."""

    def __init__(
        self, ray: Any, spec: WorkerSpec, pool: Pool, jobs: list[Job], bar: Any, request: BatchRun
    ) -> None:
        super().__init__(ray, start_actors(ray, pool, DreamWorker, spec), jobs)
        self.shared, self.bar, self.quiet = spec.shared_fs, bar, request.quiet
        self.spell = request.spell
        self.done = self.skipped = 0
        self.failures: list[dict[str, Any]] = []

    def _fail(self, job: Job, message: str) -> None:
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
            data = io.read_input(task.input)
            task = Task(task.index, task.input, task.output, task.overwrite, data)
        return actor.dream.remote(task)

    def _started(self) -> None:
        self.bar.unpause()  # rate and ETA from here: Ray's start-up is no file's time

    def _done(self, job: Job, outcome: Outcome) -> None:
        if outcome.status == "skipped":
            self.skipped += 1
        else:
            if outcome.data is not None:
                try:
                    io.write_encoded(job.task.output, outcome.data, overwrite=job.task.overwrite)
                except DreamError as e:
                    self._fail(job, describe(e, self.spell) or str(e))
                    return
            self.done += 1
            if not self.quiet:  # as the local batch: each output on stdout
                tqdm.write(job.task.output, file=sys.stdout)
        self.bar.update(1)

    def results(self) -> tuple[int, int, list[dict[str, Any]]]:
        self.run()
        return self.done, self.skipped, self.failures
