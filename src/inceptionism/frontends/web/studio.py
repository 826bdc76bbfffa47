"""The studio server's state and rules, free of Gradio: one dream per device at a time, each
browser session's cancel flags and step counters, what an upload may be, and where results go.

Trust: an upload is named only by the path the server gave it; :meth:`Studio.upload` refuses
any other file, and pictures and clips are read only through the CLI's loaders.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import math
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inceptionism.algorithm.engine import pick_device
from inceptionism.command_options import DEFAULT_HOST as DEFAULT_HOST  # where callers find it
from inceptionism.command_options import DEFAULT_MAX_UPLOAD, DEFAULT_QUEUE
from inceptionism.command_options import DEFAULT_PORT as DEFAULT_PORT
from inceptionism.config import DreamConfig
from inceptionism.errors import DreamError
from inceptionism.io import load_image
from inceptionism.io import video as vio

# DEFAULT_HOST, DEFAULT_PORT, DEFAULT_MAX_UPLOAD, DEFAULT_QUEUE: declared with ``deepdream
# ui``'s options. DEFAULT_QUEUE: jobs waiting for the device beyond the one running; more are
# refused ("queue is full").
SAMPLE = Path(__file__).parents[2] / "data" / "chelsea.png"


# -- sizes and addresses ------------------------------------------------------------------------


def parse_size(text: str) -> int:
    """``25MB``, ``500kb``, ``1GB`` or a number of bytes, as bytes (a KB is 1024 bytes)."""
    units = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}
    t = text.strip().upper().replace(" ", "")
    num = t.rstrip("KMGB")
    unit = t[len(num) :]
    try:
        value = float(num)
    except ValueError:
        value = -1.0
    if unit not in units or not math.isfinite(value) or value <= 0:
        raise DreamError(f"invalid size {text!r}: need a size such as 25MB, 500KB or 1GB")
    return int(value * units[unit])


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- one dream as the page asked for it --------------------------------------------------------


@dataclass
class Upload:
    """A picture from the page: where it lies in our temporary folder and what the user called
    it (their file's name: what messages and the equivalent command say)."""

    path: Path
    name: str


@dataclass(eq=False)
class Job:
    """One dream or atlas of one browser session: its cancel flag and its progress."""

    session: str
    cancel: threading.Event = field(default_factory=threading.Event)
    where: str = "before the first step"


class Studio:
    """The server's state and rules, shared by every browser session; no Gradio here.

    One dream runs on the device at a time (``device_lock``; Gradio's queue also runs one job
    of the ``device`` group at a time and keeps the others waiting with their position shown).
    Each browser session's running jobs are registered so Stop can set their cancel flags, and
    every gradient step is counted (per session and in all), which ``/steps`` reports.
    """

    def __init__(
        self,
        device: str = "auto",
        *,
        max_upload: int = parse_size(DEFAULT_MAX_UPLOAD),
        temp_dir: Path | None = None,
        queue_size: int = DEFAULT_QUEUE,
    ) -> None:
        pick_device(device)  # an unknown or absent device fails before the page starts
        self.device = device
        self.max_upload = max_upload
        self.queue_size = queue_size
        self.temp_dir = Path(temp_dir or tempfile.mkdtemp(prefix="deepdream-ui-"))
        self.results = self.temp_dir / "results"
        self.results.mkdir(parents=True, exist_ok=True)
        self.device_lock = threading.Lock()
        self._lock = threading.Lock()
        self._jobs: dict[str, set[Job]] = {}
        self.session_steps: dict[str, int] = {}
        self.steps_done = 0

    # -- jobs ------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def job(self, session: str) -> Iterator[Job]:
        """A job of ``session`` holding the device: registered for Stop while it runs."""
        job = Job(session)
        with self._lock:
            self._jobs.setdefault(session, set()).add(job)
        try:
            with self.device_lock:
                yield job
        finally:
            with self._lock:
                self._jobs.get(session, set()).discard(job)

    def stop(self, session: str) -> list[Job]:
        """Set the cancel flag of every job of ``session``: each stops within one step.
        Returns the jobs that were running."""
        with self._lock:
            jobs = list(self._jobs.get(session, ()))
        for job in jobs:
            job.cancel.set()
        return jobs

    def count_step(self, session: str) -> None:
        with self._lock:
            self.steps_done += 1
            self.session_steps[session] = self.session_steps.get(session, 0) + 1

    def steps(self, session: str) -> dict[str, int]:
        """Gradient steps done for ``session`` and in all, and how many jobs run now."""
        with self._lock:
            running = sum(len(j) for j in self._jobs.values())
            return {
                "session": self.session_steps.get(session, 0),
                "server": self.steps_done,
                "running": running,
            }

    # -- uploads ---------------------------------------------------------------------------------
    def upload(self, path: str | os.PathLike | None, what: str = "picture") -> Upload:
        """An uploaded file, only if it lies in our temporary folder (where the server put it):
        the page names no other file."""
        if not path:
            also = ", or use the sample" if what == "picture" else ""
            raise DreamError(f"no {what}: upload or paste one{also}")
        p = Path(path)
        try:
            inside = p.resolve().is_relative_to(self.temp_dir.resolve())
        except OSError:
            inside = False
        if not inside and p.resolve() != SAMPLE.resolve():
            raise DreamError(f"the {what} must be uploaded through the page")
        if p.is_dir():
            raise DreamError(f"the {what} must be a file")
        with contextlib.suppress(OSError):  # a missing file: the loader says so
            if p.stat().st_size > self.max_upload:  # however it came (the upload route: 413)
                raise DreamError(
                    f"{p.name} is larger than the studio's upload limit "
                    f"({self.max_upload / 1024**2:.3g} MB)"
                )
        return Upload(p, p.name)

    def load(self, upload: Upload, max_side: int | None) -> Any:
        """The picture, read by the CLI's loader: its errors name the user's file name, as the
        CLI names the file it was given."""
        try:
            return load_image(upload.path, max_side=max_side)
        except DreamError as e:
            raise renamed_error(e, upload) from None

    def open_clip(self, upload: Upload, config: DreamConfig, video: Mapping[str, Any]) -> Any:
        """The uploaded clip checked as ``deepdream video`` checks its input (no frame read),
        before it waits for the device: a bad file gets the command's message at once."""
        try:
            return vio.open_clip(
                upload.path,
                start=video.get("start"),
                duration=video.get("duration"),
                fps_out=video.get("fps_out"),
                max_side=config.max_side,
                even=True,  # the page's output is an .mp4
            )
        except DreamError as e:
            raise renamed_error(e, upload) from None

    def job_folder(self, session: str) -> Path:
        """A new folder for one job's files (a clip's frames and video), removed with ours."""
        folder = self.results / safe_name(session) / uuid.uuid4().hex[:8]
        folder.mkdir(parents=True)
        return folder

    def result_path(self, session: str, stem: str) -> Path:
        folder = self.results / safe_name(session)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{safe_name(Path(stem).stem)}.dream-{uuid.uuid4().hex[:6]}.png"

    def cleanup(self) -> None:
        """Stop every dream, let the running step end, and remove our temporary folder."""
        with self._lock:
            jobs = [job for running in self._jobs.values() for job in running]
        for job in jobs:
            job.cancel.set()
        if self.device_lock.acquire(timeout=30):  # the dream in progress has ended
            self.device_lock.release()
        for _ in range(5):  # a server thread may still be writing a file into it
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            if not self.temp_dir.exists():
                return
            time.sleep(0.2)


def renamed_error(e: DreamError, upload: Upload) -> DreamError:
    """``e`` naming the upload as the user called it, not where the server keeps it."""
    text = str(upload.path)
    return DreamError(e.message.replace(text, upload.name), e.hint and e.hint.replace(text, ""))


def safe_name(name: str) -> str:
    """``name`` as a file name of ours: letters, digits, - and _ only."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:64] or "picture"


def is_sample(upload: Upload) -> bool:
    """Whether the picture is the bundled sample (then the command names the sample's file)."""
    try:
        if upload.path.stat().st_size != SAMPLE.stat().st_size:
            return False
        return file_digest(upload.path) == file_digest(SAMPLE)
    except OSError:
        return False


def file_digest(path: Path) -> str:
    """The file's SHA-256: a same-sized upload is the sample only if its bytes are."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
