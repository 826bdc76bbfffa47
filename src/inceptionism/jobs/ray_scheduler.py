"""The scheduler of a ``--ray`` run: Ray actors fed one job each, failures tried again.

Shared by the batch (``jobs/cluster.py``: one file a job) and the clip (``jobs/cluster_video.py``:
one chunk of frames a job). Every blocking Ray call goes through :func:`ray_runtime.call`, so a
Ctrl-C or a SIGTERM during it ends the run as the command says (130, 143), not in a traceback.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from inceptionism.errors import DreamError, Spelling, python_spelling
from inceptionism.jobs.batch import describe
from inceptionism.jobs.ray_runtime import call

#: Tries per file for transient failures (a dead worker, a lost node, an unexpected error).
ATTEMPTS = 3
#: How long the driver waits with no worker alive (restarting, or waiting for a node).
NO_WORKER_TIMEOUT_S = 600.0


@dataclass
class Outcome:
    """``done`` (with the output's bytes, or written by the worker), ``skipped`` (the output
    was already there), ``bad`` (this input: not retried) or ``transient`` (retried)."""

    status: str
    message: str = ""
    data: bytes | None = None
    node: str = ""
    frames: Any = None  # a clip's chunk: its dreamed frames, (N, H, W, 3) uint8


@dataclass
class Job:
    task: Any
    label: str  # how messages name it: the input file, or a chunk of a clip
    attempts: int = 0
    errors: list[str] = field(default_factory=list)


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
        self.spell: Spelling = python_spelling  # how the front end names options

    def _submit(self, actor: Any, job: Job) -> Any:
        raise NotImplementedError

    def _done(self, job: Job, outcome: Outcome) -> None:
        raise NotImplementedError

    def _fail(self, job: Job, message: str) -> None:
        raise NotImplementedError

    def _refill(self) -> None:
        """Add jobs to ``todo`` (called whenever a worker may be free)."""

    def _transient(self, job: Job, message: str) -> None:
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

    def _started(self) -> None:
        """The first worker is set up (Ray's and the model's start-up are over)."""

    def _give_up(self, why: str) -> None:
        for job in self.todo:
            self._fail(job, f"{job.label}: {why}")
        self.todo.clear()

    def _woke(self, actor: Any, ref: Any) -> None:
        """An actor answered its ``ready()`` ping: idle, dead for good, or asked again."""
        ray = self.ray
        try:
            error = call(ray.get, ref)
        except ray.exceptions.ActorDiedError:
            return  # dead for good (restarts used up): the others go on
        except self.lost:
            time.sleep(0.2)  # still restarting (or out of reach): ask again
            self.waking[actor.ready.remote()] = actor
            return
        if error is not None:
            raise DreamError(error)  # a bad setting: every worker says so
        if not self.up:
            self.up = True
            self._started()
        self.idle.append(actor)

    def _answered(self, actor: Any, job: Job, ref: Any) -> None:
        """A job's call returned: its outcome, or its worker was lost (tried again)."""
        try:
            outcome = call(self.ray.get, ref)
        except self.lost as e:
            self._transient(job, f"{type(e).__name__} (worker lost)")
            self.waking[actor.ready.remote()] = actor  # back once Ray restarted it
            return
        self._finish(job, outcome)
        self.idle.append(actor)
        self._refill()

    def _feed(self) -> None:
        """One job to each idle actor while there are both."""
        while self.idle and self.todo:
            job = self.todo.popleft()
            actor = self.idle.pop()
            try:
                job.attempts += 1
                self.busy[self._submit(actor, job)] = (actor, job)
            except DreamError as e:  # the input cannot be read here: not retried
                self._fail(job, describe(e, self.spell) or str(e))
                self.idle.append(actor)
            self._refill()

    def run(self) -> None:
        ray = self.ray
        self.lost = (
            ray.exceptions.RayActorError,
            ray.exceptions.ActorUnavailableError,
            ray.exceptions.ObjectLostError,
            ray.exceptions.OwnerDiedError,
            ray.exceptions.WorkerCrashedError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.RayTaskError,  # an error our job did not catch: try again
        )
        self.waking: dict[Any, Any] = {a.ready.remote(): a for a in self.actors}  # ping: actor
        self.idle: list[Any] = []
        self.busy: dict[Any, tuple[Any, Job]] = {}  # call -> (actor, job)
        self.up = False
        last_alive = time.monotonic()
        try:
            self._refill()
            while self.todo or self.busy:
                self._feed()
                if not self.busy and not self.waking:
                    self._give_up("no Ray worker left to dream it")
                    break
                if self.busy or self.idle:
                    last_alive = time.monotonic()
                elif time.monotonic() - last_alive > NO_WORKER_TIMEOUT_S:
                    self._give_up("no Ray worker came up in time")
                    break
                ready, _ = call(ray.wait, [*self.busy, *self.waking], num_returns=1, timeout=5.0)
                for ref in ready:
                    if ref in self.waking:
                        self._woke(self.waking.pop(ref), ref)
                    else:
                        self._answered(*self.busy.pop(ref), ref)
        finally:
            for actor in self.actors:
                with contextlib.suppress(Exception):
                    ray.kill(actor, no_restart=True)
