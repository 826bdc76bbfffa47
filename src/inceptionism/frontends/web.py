"""``deepdream ui``: a local web studio on the :class:`~inceptionism.Dreamer` session (Gradio).

Drop a picture, pick settings, watch the dream grow octave by octave, stop it when it looks
right, download it with its full recipe inside; or a short clip, dreamed frame by frame as
``deepdream video`` dreams it, sound and all. The form is generated from the options schema
(:data:`inceptionism.options.OPTIONS`, and ``video.clip.VIDEO_OPTIONS`` for a clip): no option
is declared here a second time.

Two halves: :class:`Studio` is the server's state and rules, free of Gradio (one dream per
device at a time, each browser session's cancel flags and step counters, what an upload may be,
the recipe from the form, the equivalent ``deepdream dream`` command, a clip's dream in a
thread of its own); :func:`build_app` draws the page on it. Gradio is imported only when the
page is built, after its temporary folder has been pointed at ours.

Trust: everything from the page is untrusted. Uploads are read only through
:func:`inceptionism.io.load_image` and :func:`inceptionism.io.video.open_clip` (the CLI's
checks and messages), only registered models can be chosen, no field names a file, and
settings read from an uploaded dream are read as ``--config-from`` reads them, through
:func:`inceptionism.safety.untrusted_settings`. Text from an upload that the page shows as HTML
(an error's message) is escaped (:mod:`inceptionism.frontends.web_checks`).
"""

# No "from __future__ import annotations": Gradio reads the handlers' hints (gr.Request) at
# runtime.

import contextlib
import hashlib
import ipaddress
import math
import os
import shlex
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from inceptionism.config import DEFAULT_MODEL, DEFAULT_PRESET, DreamConfig, make_config
from inceptionism.errors import Cancelled, DreamError, user_error

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
DEFAULT_MAX_UPLOAD = "25MB"
#: Jobs waiting for the device beyond the one running; more are refused ("queue is full").
DEFAULT_QUEUE = 8
SAMPLE = Path(__file__).parents[1] / "data" / "chelsea.png"
#: Least time between two previews sent to the page (each is an image to encode and send).
PREVIEW_INTERVAL_S = 0.35
#: Steps between two previews the session renders (the page gets the latest, at most every
#: PREVIEW_INTERVAL_S, and always the end of each octave).
PREVIEW_EVERY = 3
#: Options the page never shows: the server decides how it computes (--device, threads), and
#: no field names a file on the server (weights).
SERVER_OPTIONS = frozenset({"device", "weights", "threads"})
#: Fields that pick one of the model's layers rather than take free text.
LAYER_FIELDS = frozenset({"guide_layer"})


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


# -- models and layers, as the page lists them --------------------------------------------------


@cache
def layer_listing(model: str) -> tuple[tuple[str, int, int], ...]:
    """(name, channels, stride) of every layer of a registered model, from its architecture
    alone: a user sees the layers before any download."""
    from inceptionism.models.registry import get_spec

    return tuple((li.name, li.channels, li.stride) for li in get_spec(model).layer_info())


def model_choices() -> list[tuple[str, str]]:
    """(label, name) of every registered model; those whose weights are not here say so."""
    from inceptionism.models import REGISTRY

    return [
        (name if spec.weights_here() else f"{name} (weights not here)", name)
        for name, spec in REGISTRY.items()
    ]


def model_note(model: str) -> str:
    """What the page says about a model: what it is, and how to get weights that are not here."""
    from inceptionism.models.registry import get_spec

    spec = get_spec(model)
    if spec.weights_here():
        return f"**{model}**: {spec.description}"
    return (
        f"**{model}**: {spec.description}. Its weights are not on this machine yet: the first "
        f"dream with it downloads them (this needs internet), or fetch them beforehand with "
        f"`deepdream dream --model {model} <any picture>`, or start the studio on a machine "
        "that has them."
    )


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
        from inceptionism.algorithm.engine import pick_device

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
        from inceptionism.io import load_image

        try:
            return load_image(upload.path, max_side=max_side)
        except DreamError as e:
            raise _renamed(e, upload) from None

    def open_clip(self, upload: Upload, config: DreamConfig, video: Mapping[str, Any]) -> Any:
        """The uploaded clip checked as ``deepdream video`` checks its input (no frame read),
        before it waits for the device: a bad file gets the command's message at once."""
        from inceptionism.io import video as vio

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
            raise _renamed(e, upload) from None

    def job_folder(self, session: str) -> Path:
        """A new folder for one job's files (a clip's frames and video), removed with ours."""
        folder = self.results / _safe(session) / uuid.uuid4().hex[:8]
        folder.mkdir(parents=True)
        return folder

    def result_path(self, session: str, stem: str) -> Path:
        folder = self.results / _safe(session)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{_safe(Path(stem).stem)}.dream-{uuid.uuid4().hex[:6]}.png"

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


def _renamed(e: DreamError, upload: Upload) -> DreamError:
    text = str(upload.path)
    return DreamError(e.message.replace(text, upload.name), e.hint and e.hint.replace(text, ""))


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:64] or "picture"


def is_sample(upload: Upload) -> bool:
    """Whether the picture is the bundled sample (then the command names the sample's file)."""
    try:
        if upload.path.stat().st_size != SAMPLE.stat().st_size:
            return False
        return _digest(upload.path) == _digest(SAMPLE)
    except OSError:
        return False


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the form, generated from the options schema -----------------------------------------------


def form_options() -> list[Any]:
    """The options the page shows: every recipe option, and the run options a user may choose
    per dream (precision), in the schema's order. Not the server's (device, threads, weights)
    nor the command line's own (quiet, overwrite)."""
    from inceptionism.options import OPTIONS, PYTHON

    return [
        o
        for o in OPTIONS
        if PYTHON in o.where and o.name not in SERVER_OPTIONS and o.kind != "device"
    ]


def spell_for_page(option: str, value: str = "") -> str:
    """How a hint names an option on the page: its field's label (quoted)."""
    from inceptionism.options import OPTION
    from inceptionism.video.clip import VIDEO_OPTION

    known = {**VIDEO_OPTION, **OPTION}
    label = known[option].title if option in known else option.replace("_", " ")
    return f"the “{label}” field" + (f" ({value})" if value else "")


def page_message(e: DreamError) -> str:
    return e.render(spell_for_page)


def recipe_from_form(
    values: Mapping[str, Any],
    *,
    layers: Sequence[str] = (),
    channels: str = "",
    classes: Sequence[str] = (),
    guide: Upload | None = None,
) -> tuple[DreamConfig, dict[str, Any]]:
    """(recipe, run options) from the form's values (option name -> field value) and the
    special fields (layers with channels, classes, guide picture). Checked as the CLI checks."""
    from inceptionism.options import OPTION

    given: dict[str, Any] = {}
    run: dict[str, Any] = {}
    for name, value in values.items():
        opt = OPTION[name]
        value = field_value(opt, value)
        if opt.recipe:
            given[name] = value
        else:
            run[name] = value if value is not None else opt.default
    if layers:
        chans = channels.replace(" ", "").strip(",")
        given["layers"] = {f"{n}:{chans}" if chans else n: 1.0 for n in layers}
    given["classes"] = dict.fromkeys(classes, 1.0)
    given["guide"] = str(guide.path) if guide is not None else None
    if given.get("guide") is None:
        given["guide_layer"] = None
    preset = given.pop("preset", DEFAULT_PRESET) or None
    model = given.pop("model", DEFAULT_MODEL) or DEFAULT_MODEL
    from inceptionism.models.registry import get_spec

    get_spec(model)  # registered models only: never a file.py:factory from the page
    if given.get("layers"):
        from inceptionism.algorithm.objectives import parse_layer

        for key in given["layers"]:
            parse_layer(key)  # channels in the CLI's syntax, with its message
    return make_config(preset, model=model, **given), run


def field_value(opt: Any, value: Any) -> Any:
    """A field's value as the option's type: whole numbers as int; numbers typed as text (an
    optional number, or one that may be infinite) parsed, empty meaning none (infinity for
    max loss); a tile as 'auto' or pixels."""
    if isinstance(value, str):
        value = value.strip()
        if value == "" and (opt.kind != "str" or opt.optional):
            value = None
    if value is None:
        if opt.kind == "float" and not opt.finite:
            return math.inf
        return None
    if isinstance(value, str) and opt.kind in ("int", "float", "tile") and value != "auto":
        try:
            return int(value) if opt.kind != "float" else float(value)
        except ValueError:
            raise DreamError(f"invalid {opt.title} {value!r}: need {opt.requirement()}") from None
    if opt.kind in ("int", "tile") and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def typed_as_text(opt: Any) -> bool:
    """Whether a number field is text: a number input cannot be empty (none) or infinite."""
    return opt.kind in ("int", "float") and (opt.optional or not opt.finite)


def shown(value: Any) -> str:
    """A value as a text field shows it: none as empty, infinity as inf."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return str(value)


def form_defaults(preset: str | None, model: str) -> dict[str, Any]:
    """What each field shows for ``preset`` on ``model``: the schema's defaults, the preset's
    values over them."""
    from inceptionism.options import defaults

    return defaults(preset or None, model)


# -- the equivalent command --------------------------------------------------------------------


def _number(v: float) -> str:
    return f"{v:g}" if float(f"{v:g}") == v else repr(float(v))


def command_for(
    config: DreamConfig,
    run: Mapping[str, Any],
    input_name: str,
    output_name: str,
    *,
    guide_name: str | None = None,
    device: str = "auto",
    command: str = "dream",
    more: Sequence[tuple[Any, Any]] = (),
) -> str:
    """The ``deepdream dream`` (or ``command``) command that makes the same pixels from the same
    input: every recipe value that differs from what the command line would take anyway, then
    each of ``more`` ((option, value): ``deepdream video``'s own) that is not its default."""
    from inceptionism.options import CLI, where

    base = make_config(config.preset, model=config.model)
    words = ["deepdream", command, input_name, "-o", output_name, "--model", config.model]
    if config.preset != DEFAULT_PRESET:
        words += ["--preset", config.preset or "seed"]
    for opt in where(CLI):
        if not opt.recipe or opt.name in ("model", "preset"):
            continue
        value, before = getattr(config, opt.name), getattr(base, opt.name)
        if value == before and opt.name != "seed":
            continue
        flag = opt.cli_flag
        if opt.kind == "layers":
            for key, w in (value or {}).items():
                words += [flag, key if w == 1 else f"{key}={_number(w)}"]
        elif opt.kind == "classes":
            for key, w in value.items():
                words += [flag, key if w == 1 else f"{key}={_number(w)}"]
        elif opt.kind == "bool":
            words.append(flag if value else "--no-" + flag[2:])
        elif opt.kind == "path":
            if value is not None:
                words += [flag, guide_name or Path(value).name]
        elif value is not None:
            words += [flag, _number(value) if isinstance(value, float) else str(value)]
    if device != "auto":
        words += ["--device", device]
    for name, value in run.items():
        from inceptionism.options import OPTION

        opt = OPTION[name]
        if CLI in opt.where and value != opt.default and value is not None:
            words += [opt.cli_flag, str(value)]
    for opt, value in more:
        if CLI in opt.where and value != opt.default and value is not None:
            words += [opt.cli_flag, _number(value) if isinstance(value, float) else str(value)]
    return " ".join(shlex.quote(w) for w in words)


# -- progress ------------------------------------------------------------------------------------


class Progress:
    """Octave k of N, step, loss and time left, from the events of a dream.

    Later octaves are bigger, so a step there costs more: the work is counted in pixels (each
    step costs its octave's area), and the time left is the work left at the speed measured
    since the first step (the model's set-up before it is not a step's cost). Each octave's
    steps are counted from its own first step: ``max_loss`` may end an octave early.
    """

    def __init__(self, sizes: Sequence[tuple[int, int]], iterations: int) -> None:
        self.areas = [h * w for h, w in sizes]  # the octaves the dream visits, smallest first
        self.iterations = max(iterations, 1)
        self.start = time.monotonic()
        self.octave = 0
        self.octave_first = 1  # the step number of the octave's first step
        self.first: tuple[float, float] | None = None  # (time, work) at the first step
        self.done = 0.0  # pixels of work done
        self.now = self.start

    def tick(self, octave: int, step: int) -> None:
        """Step ``step`` (over all octaves) of ``octave`` is done: called for every step."""
        if octave != self.octave:
            self.octave, self.octave_first = octave, step
        before = self.iterations * sum(self.areas[: octave - 1])
        k = min(len(self.areas), octave) - 1
        self.done = before + (step - self.octave_first + 1) * self.areas[k]
        self.now = time.monotonic()
        if self.first is None:
            self.first = (self.now, self.done)

    def seconds_left(self) -> float:
        """The time left at the speed since the first step (nan until there is a speed)."""
        if self.first is None or self.done <= self.first[1] or self.now <= self.first[0]:
            return math.nan
        speed = (self.done - self.first[1]) / (self.now - self.first[0])
        return max(self.iterations * sum(self.areas) - self.done, 0.0) / speed

    def line(self, octave: int, octaves: int, step: int, total: int, loss: float) -> str:
        elapsed = time.monotonic() - self.start
        left = self.seconds_left()
        eta = f"{left:.0f} s left" if math.isfinite(left) else "…"
        return (
            f"octave {octave}/{octaves} · step {step}/{total} · loss {loss:.3f} · "
            f"{elapsed:.1f} s · {eta}"
        )


def enlarged(preview: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """An octave's preview at the picture's size, so the dream grows in place on the page."""
    if preview.shape[:2] == tuple(shape):
        return preview
    from PIL import Image

    pil = Image.fromarray(preview).resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
    return np.asarray(pil)


# -- a clip as the page asked for it -------------------------------------------------------------

#: Where the Video tab's dream fields start other than at the preset's values: every frame is
#: a dream, so a small frame keeps a clip's dream short on a laptop CPU (measured on 2 shared
#: cores: 24 frames at 256x144 px in 7 s, default preset).
VIDEO_PAGE_DEFAULTS: dict[str, Any] = {"max_side": 256}
#: ... and its video fields: the first seconds only (clear the field for the whole clip).
VIDEO_FIELD_DEFAULTS: dict[str, Any] = {"duration": "3"}
VIDEO_FORMATS = (".mp4", ".mov", ".webm", ".mkv", ".avi")


def video_options() -> list[Any]:
    """The video options the page shows: ``deepdream video``'s own (``VIDEO_OPTIONS``), less
    those of the command line only (keeping the work folder)."""
    from inceptionism.options import PYTHON
    from inceptionism.video.clip import VIDEO_OPTIONS

    return [o for o in VIDEO_OPTIONS if PYTHON in o.where]


def video_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """``dream_video``'s video keywords from the video fields (option name -> field value),
    each checked by its declaration, times read as the command reads them."""
    from inceptionism.io.video import parse_time
    from inceptionism.video.clip import VIDEO_OPTION

    out: dict[str, Any] = {}
    for name, value in values.items():
        opt = VIDEO_OPTION[name]
        value = field_value(opt, value)
        if name in ("start", "duration"):
            parse_time(value)  # the command's message for a bad time, before the device
        else:
            value = opt.check(value)
        out[name] = value
    return out


class ClipProgress:
    """Frame i of N and the time left. Later frames take ``frame_iterations`` steps per octave,
    the first (and a scene cut) the full ``iterations``, so the time left is measured on the
    later frames once there are some, and estimated from the first until then."""

    def __init__(self, count: int | None, iterations: int, frame_iterations: int) -> None:
        self.count = count
        self.ratio = max(frame_iterations, 1) / max(iterations, 1)
        self.start = time.monotonic()
        self.first: float | None = None
        self.later: list[float] = []
        self.done = 0

    def frame(self, seconds: float) -> None:
        if self.first is None:
            self.first = seconds
        else:
            self.later.append(seconds)
        self.done += 1

    def line(self, step: int | None = None, total: int | None = None) -> str:
        """Where the dream is (the frame being dreamed, its step) and the time left."""
        elapsed = time.monotonic() - self.start
        if self.count and self.done >= self.count:
            return f"{self.done}/{self.count} frames · {elapsed:.1f} s"
        where = f"frame {self.done + 1}" + (f"/{self.count}" if self.count else "")
        if step is not None and total:
            where += f" · step {step}/{total}"
        eta = "…"
        if self.count and self.first is not None:
            per = sum(self.later) / len(self.later) if self.later else self.first * self.ratio
            eta = f"{(self.count - self.done) * per:.0f} s left"
        elif self.count and step:  # the first frame: its speed so far, the rest at the ratio
            first = elapsed * (total or step) / step
            eta = f"{first - elapsed + (self.count - 1) * first * self.ratio:.0f} s left"
        return f"{where} · {elapsed:.1f} s · {eta}"


def dream_clip(
    studio: Studio,
    job: Job,
    upload: Upload,
    output: Path,
    config: DreamConfig,
    run: Mapping[str, Any],
    video: Mapping[str, Any],
) -> Iterator[tuple[Any, ...]]:
    """``dream_video`` (the code path of ``deepdream video``) in a thread of its own, its
    callbacks relayed as events: ``("start", ClipDreamer)``, ``("step", done, total)``,
    ``("frame", DreamedFrame)``, ``("note", text)``, and last ``("done", path)``. Every step is
    counted for ``/steps``; its errors are raised here. The job's cancel flag stops it within
    one step; closing this iterator (the page went away) sets it and waits for the thread."""
    import queue

    from inceptionism.video.clip import dream_video

    events: queue.Queue[tuple[Any, ...]] = queue.Queue()

    def step(done: int, total: int) -> None:
        studio.count_step(job.session)
        events.put(("step", done, total))

    def work() -> None:
        try:
            out = dream_video(
                upload.path,
                output,
                config,
                **video,
                **run,
                device=studio.device,
                cancel=job.cancel,
                notify=lambda text: events.put(("note", text)),
                on_start=lambda clip_job: events.put(("start", clip_job)),
                on_frame=lambda frame, _job: events.put(("frame", frame)),
                progress=step,
            )
            events.put(("done", out))
        except BaseException as e:  # relayed to the page's thread, raised there
            events.put(("error", e))

    thread = threading.Thread(target=work, name=f"video-{job.session[:8]}", daemon=True)
    thread.start()
    try:
        while True:
            event = events.get()
            if event[0] == "error":
                raise event[1]
            yield event
            if event[0] == "done":
                return
    finally:
        if thread.is_alive():
            job.cancel.set()
        thread.join()


# -- the page ------------------------------------------------------------------------------------

GROUP_TITLES = {
    "model": "Model",
    "steering": "What to dream of",
    "schedule": "Schedule",
    "quality": "Quality",
    "size": "Size",
    "run": "Computation",
}
MODEL_DEFAULT = "(the model's default)"
EVERY_LAYER = "(every layer: one tile each)"
OPEN_GROUPS = frozenset({"model", "steering", "schedule"})
CSS = """
#status textarea { font-family: ui-monospace, monospace; }
"""


def layer_choices(model: str, empty: str | None = None) -> list[tuple[str, str]]:
    """(label, name) of the model's layers, channels and stride in the label; ``empty``: the
    label of a first choice meaning "none chosen"."""
    out = [(empty, "")] if empty else []
    for name, channels, stride in layer_listing(model):
        where = f"/{stride}" if stride else "scores"
        out.append((f"{name} · {channels} ch · {where}", name))
    return out


def class_choices() -> list[tuple[str, str]]:
    from inceptionism.models.classes import search

    return [(f"{i} {name}", name) for i, name in search("")]


def raw_upload(component: Any, what: str) -> Any:
    """``component`` (a gr.Image or gr.Video) handing over the file the browser sent, unopened:
    our loaders check it and name what is wrong as the CLI does (gr.Image would open it with
    PIL first and answer a bad file with an error of its own). An inline data: URL, which would
    bypass the server's upload limit, is refused. Not a subclass: Gradio would write a .pyi
    file beside this module for a component class defined here."""
    import gradio as gr

    def preprocess(payload: Any) -> str | None:
        if payload is None:
            return None
        if not getattr(payload, "path", None):
            raise gr.Error(f"{what}s must be uploaded as files", print_exception=False)
        return str(payload.path)

    component.preprocess = preprocess
    return component


def picture_input(**kw: Any) -> Any:
    import gradio as gr

    return raw_upload(gr.Image(**kw), "picture")


def page_error(e: BaseException, upload: Upload | None = None) -> BaseException:
    """What the page shows for ``e``: a user's error (bad input, out of memory, a file the
    system refused) in one line, naming ``upload`` as the user called it, escaped (it may quote
    a file, and Gradio shows it as HTML); anything else is a bug, raised as it is."""
    import gradio as gr

    from inceptionism.frontends.web_checks import page_text

    error = user_error(e)
    if error is None:
        return e
    if upload is not None:
        error = _renamed(error, upload)
    return gr.Error(page_text(page_message(error)), print_exception=False)


def run_controls(prefix: str = "") -> tuple[Any, Any, Any]:
    """The Dream and Stop buttons and the progress line of a tab (element ids with ``prefix``,
    which the browser test finds them by)."""
    import gradio as gr

    with gr.Row():
        dream = gr.Button("Dream", variant="primary", elem_id=f"{prefix}dream")
        stop = gr.Button("Stop", variant="stop", elem_id=f"{prefix}stop")
    status = gr.Textbox(label="Progress", interactive=False, elem_id=f"{prefix}status", max_lines=2)
    return dream, stop, status


def option_field(opt: Any, value: Any, elem_id: str) -> Any:
    """The field of a plain option (a number, a switch, a choice or text), with its bounds,
    value and help from its declaration."""
    import gradio as gr

    label = opt.title.capitalize()
    # a free-text field's requirement is just "a string or none": its help says what to type
    info = opt.help if opt.kind == "str" and not opt.need else f"{opt.help}; {opt.requirement()}"
    if opt.kind in ("int", "float") and not typed_as_text(opt):
        hi = opt.maximum if opt.maximum is not None and opt.maximum < 2**53 else None
        return gr.Number(
            value=value,
            minimum=opt.minimum,
            maximum=hi,
            precision=0 if opt.kind == "int" else None,
            step=1 if opt.kind == "int" else 0.01,
            label=label,
            info=info,
            elem_id=elem_id,
        )
    if opt.kind == "bool":
        return gr.Checkbox(value=bool(value), label=label, info=opt.help, elem_id=elem_id)
    if opt.kind == "choice":
        return gr.Dropdown(
            list(opt.allowed()),
            value=value or opt.default,
            label=label,
            info=opt.help,
            elem_id=elem_id,
        )
    # tile, str, numbers that may be none or infinite: text as the CLI takes it
    empty = "; empty: none" if opt.optional else ""
    return gr.Textbox(value=shown(value), label=label, info=info + empty, elem_id=elem_id)


class SettingsForm:
    """A dream's settings as fields, generated from the options schema. The Image and Video
    tabs each draw one (``prefix`` keeps their element ids apart), so no option is declared for
    a tab; ``page_defaults`` are the values a tab starts from other than the preset's (the
    Video tab's smaller size). Only what Gradio needs is here: the rules are the Studio's."""

    def __init__(
        self,
        studio: Studio,
        prefix: str = "",
        page_defaults: Mapping[str, Any] | None = None,
        open_groups: frozenset[str] = OPEN_GROUPS,
    ) -> None:
        self.studio = studio
        self.prefix = prefix
        self.open_groups = open_groups
        self.page_defaults = dict(page_defaults or {})
        self.fields: dict[str, Any] = {}  # generic fields: option name -> component
        self.special: dict[str, Any] = {}  # model (and its note), layers, channels, ...

    def values_for(self, preset: str | None, model: str) -> dict[str, Any]:
        return {**form_defaults(preset, model), **self.page_defaults}

    def draw(self, options: Sequence[Any]) -> None:
        """Every option, in accordions by group, in the schema's order."""
        import gradio as gr

        first = self.values_for(DEFAULT_PRESET, DEFAULT_MODEL)
        groups: dict[str, list[Any]] = {}
        for opt in options:
            groups.setdefault(opt.group, []).append(opt)
        for group, opts in groups.items():
            with gr.Accordion(
                GROUP_TITLES.get(group, group.capitalize()), open=group in self.open_groups
            ):
                for opt in opts:
                    self._draw(opt, first.get(opt.name))

    def _draw(self, opt: Any, value: Any) -> None:
        import gradio as gr

        eid = self.prefix + opt.name
        if opt.name == "model":
            self.special["model"] = gr.Dropdown(
                model_choices(),
                value=DEFAULT_MODEL,
                label=opt.title.capitalize(),
                info=opt.help,
                elem_id=self.prefix + "model",
            )
            self.special["model_note"] = gr.Markdown(model_note(DEFAULT_MODEL))
        elif opt.kind == "layers":
            self.special["layers"] = gr.Dropdown(
                layer_choices(DEFAULT_MODEL),
                value=[],
                multiselect=True,
                label="Layers",
                info="layers to amplify (empty: the model's default); channels · stride shown",
                elem_id=self.prefix + "layers",
            )
            self.special["channels"] = gr.Textbox(
                label="Channels",
                info="only these channels of the chosen layers, e.g. 3,17 (empty: all)",
                elem_id=self.prefix + "channels",
            )
        elif opt.kind == "classes":
            self.special["classes"] = gr.Dropdown(
                class_choices(),
                value=[],
                multiselect=True,
                filterable=True,
                label="Classes",
                info=f"{opt.help}: type to search the 1000 ImageNet names",
                elem_id=self.prefix + "classes",
            )
        elif opt.kind == "path":
            self.special[opt.name] = picture_input(
                type="filepath",
                sources=["upload", "clipboard"],
                label=f"{opt.title.capitalize()} picture",
                height=160,
                elem_id=eid,
            )
        elif opt.name in LAYER_FIELDS:
            self.fields[opt.name] = gr.Dropdown(
                layer_choices(DEFAULT_MODEL, MODEL_DEFAULT),
                value="",
                label=opt.title.capitalize(),
                info=opt.help,
                elem_id=eid,
            )
        else:
            self.fields[opt.name] = option_field(opt, value, eid)

    @property
    def inputs(self) -> list[Any]:
        """The fields a dream reads, in a fixed order (the API's parameters)."""
        special = [c for k, c in self.special.items() if k != "model_note"]
        return [*special, *self.fields.values()]

    def recipe(self, data: Mapping[Any, Any]) -> tuple[DreamConfig, dict[str, Any], Upload | None]:
        """(recipe, run options, guide picture) from the submitted values of this form."""
        special = self.special
        guide_path = data.get(special["guide"]) if "guide" in special else None
        guide = self.studio.upload(guide_path, "guide picture") if guide_path else None
        values = {name: data[c] for name, c in self.fields.items()}
        values["model"] = data[special["model"]]
        cfg, run = recipe_from_form(
            values,
            layers=data[special["layers"]] or (),
            channels=data[special["channels"]] or "",
            classes=data[special["classes"]] or (),
            guide=guide,
        )
        return cfg, run, guide

    def follow(self, model: str, preset: str | None) -> list[Any]:
        """Updates of the generic fields for ``preset`` on ``model``."""
        import gradio as gr

        values = self.values_for(preset, model)
        out: list[Any] = []
        for name, component in self.fields.items():
            if name in LAYER_FIELDS:
                out.append(gr.update(choices=layer_choices(model, MODEL_DEFAULT), value=""))
            elif name == "preset":
                out.append(gr.update())
            else:
                v = values.get(name)
                out.append(gr.update(value=shown(v) if isinstance(component, gr.Textbox) else v))
        return out

    def wire(self, extra: Sequence[tuple[Any, Callable[[str], Any]]] = ()) -> None:
        """Choosing a model updates its note, its layers and the fields (``extra``: other
        components, each with its update for a model); choosing a preset, the fields."""
        import gradio as gr

        preset = self.fields.get("preset")
        model = self.special["model"]
        generic = list(self.fields.values())

        def on_model(name: str, preset_name: str | None) -> list[Any]:
            try:
                note = model_note(name)
                chosen = layer_choices(name)
            except DreamError as e:
                raise page_error(e) from None
            return [
                note,
                gr.update(choices=chosen, value=[]),
                *(update(name) for _, update in extra),
                *self.follow(name, preset_name),
            ]

        outputs = [self.special["model_note"], self.special["layers"], *(c for c, _ in extra)]
        model.input(on_model, [model, preset], [*outputs, *generic], queue=False, api_name=False)
        if preset is not None:
            preset.input(self.follow, [model, preset], generic, queue=False, api_name=False)


def build_app(studio: Studio) -> Any:
    """The Gradio page on ``studio``: the Image, Video and Layer atlas tabs, and the ``/steps``
    and ``/stop`` API endpoints the tests (and scripts) use."""
    import gradio as gr

    from inceptionism.atlas import ATLAS_SIDE, contact_sheet, dream_atlas, parse_channels, tiles_for
    from inceptionism.io import save_image
    from inceptionism.options import OPTION

    fail = page_error
    options = form_options()
    image_form = SettingsForm(studio)
    fields, special = image_form.fields, image_form.special
    # (the size group open: the frame's size decides how long a clip takes)
    video_form = SettingsForm(studio, "video_", VIDEO_PAGE_DEFAULTS, OPEN_GROUPS | {"size"})

    with gr.Blocks(
        title="deepdream studio", analytics_enabled=False, delete_cache=(1800, 3600)
    ) as app:
        history = gr.State([])
        gr.Markdown(
            "## deepdream studio\nDrop a picture (or use the sample), pick a model and layers, "
            "press **Dream** and watch it grow; **Stop** ends it within one step."
        )
        with gr.Tab("Image"), gr.Row():
            with gr.Column(scale=5):
                picture = picture_input(
                    value=str(SAMPLE),
                    type="filepath",
                    sources=["upload", "clipboard"],
                    label="Picture (upload, paste, or the sample)",
                    elem_id="picture",
                )
                sample_btn = gr.Button("Use the sample picture", size="sm")
                image_form.draw(options)
                settings_file = gr.File(
                    label="Load the settings of a dream (a picture made by deepdream)",
                    file_types=["image"],
                    elem_id="settings_file",
                )
            with gr.Column(scale=6):
                dream_btn, stop_btn, status = run_controls()
                view = gr.Image(
                    label="Dream", interactive=False, format="png", elem_id="view", height=420
                )
                download = gr.File(
                    label="The dream as PNG, its recipe inside", interactive=False, elem_id="png"
                )
                command = gr.Code(
                    label="The same dream from the command line",
                    language="shell",
                    interactive=False,
                    lines=2,
                    elem_id="command",
                )
                history_gallery = gr.Gallery(
                    label="This session's dreams", columns=5, height=200, elem_id="history"
                )
                history_table = gr.Dataframe(
                    headers=["#", "time", "settings (the command)"],
                    label="Their settings",
                    interactive=False,
                    wrap=True,
                    elem_id="history_table",
                )
        with gr.Tab("Video"), gr.Row():
            with gr.Column(scale=5):
                # a file field: a video field would play a bad file at once, and the browser
                # show its own error before ours; the clip is shown once it is checked
                clip = raw_upload(
                    gr.File(
                        file_types=list(VIDEO_FORMATS),
                        label=f"Clip ({', '.join(f[1:] for f in VIDEO_FORMATS)}; a few seconds)",
                        elem_id="clip",
                        height=120,
                    ),
                    "video",
                )
                clip_view = gr.Video(
                    label="The clip", interactive=False, elem_id="clip_view", height=240
                )
                video_fields: dict[str, Any] = {}
                with gr.Accordion("Video", open=True):  # the tab's own, first
                    for opt in video_options():
                        value = VIDEO_FIELD_DEFAULTS.get(opt.name, opt.default)
                        video_fields[opt.name] = option_field(opt, value, "video_" + opt.name)
                video_form.draw(options)
            with gr.Column(scale=6):
                gr.Markdown(
                    "Every frame is dreamed, carrying the last frame's dream along the motion, "
                    "so the dream stays put on moving things; the sound is kept. Keep clips "
                    "short and small: the first seconds at a small size are dreamed by default."
                )
                video_btn, video_stop, video_status = run_controls("video_")
                video_frame = gr.Image(
                    label="The last frame dreamed",
                    interactive=False,
                    format="png",
                    elem_id="video_frame",
                    height=300,
                )
                video_result = gr.Video(
                    label="The dream", interactive=False, elem_id="video_result", height=300
                )
                video_file = gr.File(
                    label="The dream as MP4, with the clip's sound",
                    interactive=False,
                    elem_id="video_file",
                )
                video_command = gr.Code(
                    label="The same dream from the command line",
                    language="shell",
                    interactive=False,
                    lines=2,
                    elem_id="video_command",
                )
        with gr.Tab("Layer atlas"):
            gr.Markdown(
                "One small dream of this tab's picture per layer of the model, or per channel "
                "of one layer, with the settings of the Image tab: see what each paints before "
                "choosing. The same from the command line: `deepdream atlas PICTURE --model M "
                "[--layer L --channels 0-15] -o sheet.png`."
            )
            with gr.Row():
                atlas_picture = picture_input(
                    value=str(SAMPLE),
                    type="filepath",
                    sources=["upload", "clipboard"],
                    label="Atlas picture (upload, paste, or the sample)",
                    elem_id="atlas_picture",
                    height=200,
                )
                atlas_sample_btn = gr.Button("Use the sample picture", size="sm")
            with gr.Row():
                atlas_layer = gr.Dropdown(
                    layer_choices(DEFAULT_MODEL, EVERY_LAYER),
                    value="",
                    label="Atlas of",
                    info="the model's layers (one tile each), or one layer's channels",
                    elem_id="atlas_layer",
                )
                atlas_channels = gr.Textbox(
                    value="0-15",
                    label="Channels of that layer",
                    info="e.g. 0-15 or 3,7,9",
                    elem_id="atlas_ch",
                )
                atlas_side = gr.Number(
                    value=ATLAS_SIDE,
                    minimum=32,
                    maximum=512,
                    precision=0,
                    label="Tile size (px)",
                    elem_id="atlas_side",
                )
            with gr.Row():
                atlas_btn = gr.Button("Build the atlas", variant="primary", elem_id="atlas")
                atlas_stop = gr.Button("Stop", variant="stop", elem_id="atlas_stop")
            atlas_status = gr.Textbox(label="Progress", interactive=False, elem_id="atlas_status")
            atlas_gallery = gr.Gallery(
                label="Atlas", columns=6, height=520, object_fit="contain", elem_id="atlas_gallery"
            )
            atlas_sheet = gr.File(label="Contact sheet (PNG)", interactive=False, elem_id="sheet")

        generic = list(fields.values())
        generic_names = list(fields)
        model_field = special["model"]
        # the inputs of a dream, in a fixed order (the API's parameters)
        form_inputs = [picture, *image_form.inputs]

        # -- model and preset: the fields follow ------------------------------------------------
        image_form.wire(
            [(atlas_layer, lambda m: gr.update(choices=layer_choices(m, EVERY_LAYER), value=""))]
        )
        video_form.wire()
        sample_btn.click(lambda: str(SAMPLE), None, picture, queue=False, api_name=False)
        atlas_sample_btn.click(
            lambda: str(SAMPLE), None, atlas_picture, queue=False, api_name=False
        )

        # -- settings from an uploaded dream (untrusted) -----------------------------------------
        def load_settings(path: str | None) -> list[Any]:
            """The settings of an uploaded dream into the form: read as the CLI's --config-from
            reads them, untrusted, and only names the page's choice fields offer."""
            from inceptionism.frontends.web_checks import dream_settings

            if not path:
                return [gr.update()] * (len(generic) + 4)
            try:
                cfg, names = dream_settings(studio.upload(path, "dream").path)
            except DreamError as e:
                raise fail(e, Upload(Path(path), Path(path).name)) from None
            out = [
                gr.update(value=names["model"]),
                gr.update(choices=layer_choices(cfg.model), value=names["layers"]),
                gr.update(value=names["channels"]),
                gr.update(value=names["classes"]),
            ]
            for name in generic_names:
                v = getattr(cfg, name, None) if OPTION[name].recipe else fields[name].value
                if name in LAYER_FIELDS:
                    out.append(
                        gr.update(choices=layer_choices(cfg.model, MODEL_DEFAULT), value=v or "")
                    )
                elif isinstance(fields[name], gr.Textbox):
                    out.append(gr.update(value=shown(v)))
                else:
                    out.append(gr.update(value=v))
            return out

        settings_file.upload(
            load_settings,
            settings_file,
            [model_field, special["layers"], special["channels"], special["classes"], *generic],
            api_name="load_settings",
        )

        # -- dreaming ----------------------------------------------------------------------------
        def dream(data: dict, past: list, request: gr.Request) -> Iterator[dict]:
            session = request.session_hash or "anonymous"
            clicked = time.monotonic()
            try:
                upload = studio.upload(data[picture], "picture")
                cfg, run, guide = image_form.recipe(data)
                loaded = studio.load(upload, cfg.max_side)
            except DreamError as e:
                raise fail(e) from None
            # the previous dream's PNG and command are not this one's
            yield {status: "waiting for the device…", download: None, command: ""}
            with studio.job(session) as job:
                try:
                    yield from _dream_job(job, clicked, upload, loaded, cfg, run, guide, past)
                except Cancelled:
                    yield {status: f"stopped at {job.where}", download: None, command: ""}
                except (DreamError, MemoryError, RuntimeError, OSError) as e:
                    raise fail(e, guide) from None  # (the picture is read: only the guide is)

        def _dream_job(
            job: Job,
            clicked: float,
            upload: Upload,
            loaded: Any,
            cfg: DreamConfig,
            run: dict[str, Any],
            guide: Upload | None,
            past: list,
        ) -> Iterator[dict]:
            from inceptionism.session import Dreamer

            dreamer = Dreamer(cfg.model, cfg, device=studio.device, **run)
            shape = loaded.rgb.shape[:2]
            progress = Progress(dreamer.octave_sizes(shape), cfg.iterations)
            sent = 0.0
            event = None
            for event in dreamer.steps(loaded, preview_every=PREVIEW_EVERY, cancel=job.cancel):
                studio.count_step(job.session)
                progress.tick(event.octave, event.step)
                job.where = (
                    f"octave {event.octave}/{event.octaves} · step {event.step}/{event.total}"
                )
                now = time.monotonic()
                octave_end = event.step % max(cfg.iterations, 1) == 0
                if (
                    event.result is None
                    and event.preview is not None
                    and (octave_end or now - sent >= PREVIEW_INTERVAL_S)
                ):
                    line = progress.line(
                        event.octave, event.octaves, event.step, event.total, event.loss
                    )
                    if not sent:
                        line += f" · first preview after {now - clicked:.2f} s"
                    sent = now
                    yield {view: enlarged(event.preview, shape), status: line}
            assert event is not None and event.result is not None
            out = studio.result_path(job.session, upload.name)
            meta = dreamer.metadata(shape)
            if guide is not None:  # as the command names it, not where the server keeps it
                meta["config"]["guide"] = guide.name
            save_image(out, event.result, loaded.alpha, meta)
            input_name = str(SAMPLE) if is_sample(upload) else upload.name
            cmd = command_for(
                cfg,
                run,
                input_name,
                out.name,
                guide_name=guide.name if guide else None,
                device=studio.device,
            )
            took = time.monotonic() - clicked
            past = [*past, {"path": str(out), "command": cmd, "time": time.strftime("%H:%M:%S")}]
            yield {
                view: str(out),
                status: f"done: {event.total} steps in {took:.1f} s · {loaded.size[0]}x"
                f"{loaded.size[1]} px",
                download: str(out),
                command: cmd,
                history: past,
                history_gallery: [(p["path"], f"#{i}") for i, p in enumerate(past, 1)],
                history_table: [[i, p["time"], p["command"]] for i, p in enumerate(past, 1)],
            }

        dream_inputs = [*form_inputs, history]

        def dream_fn(request: gr.Request, *values: Any) -> Iterator[dict]:
            data = dict(zip(dream_inputs, values, strict=True))
            yield from dream(data, data[history], request)

        dream_outputs = [
            view,
            status,
            download,
            command,
            history,
            history_gallery,
            history_table,
        ]
        dream_event = dream_btn.click(
            dream_fn,
            dream_inputs,
            dream_outputs,
            api_name="dream",
            concurrency_limit=1,
            concurrency_id="device",
            show_progress="minimal",
        )

        # -- the atlas ---------------------------------------------------------------------------
        # its own picture (first, as the dream's), the Image tab's settings
        atlas_inputs = [atlas_picture, *image_form.inputs, atlas_layer, atlas_channels, atlas_side]

        def atlas_fn(request: gr.Request, *values: Any) -> Iterator[dict]:
            data = dict(zip(atlas_inputs, values, strict=True))
            session = request.session_hash or "anonymous"
            try:
                upload = studio.upload(data[atlas_picture], "picture")
                cfg, run, _ = image_form.recipe(data)
                side = int(data[atlas_side] or ATLAS_SIDE)
                if not 16 <= side <= 1024:
                    raise DreamError(f"invalid tile size {side}: need 16 to 1024 px")
                loaded = studio.load(upload, side)
                layer = data[atlas_layer] or None
                chans = (
                    parse_channels(data[atlas_channels]) if layer and data[atlas_channels] else None
                )
                tiles = tiles_for(_infos(cfg.model), layer, chans)
            except DreamError as e:
                raise fail(e) from None
            yield {atlas_status: f"waiting for the device… ({len(tiles)} tiles)", atlas_gallery: []}
            done: list[tuple[str, np.ndarray]] = []
            tiles_shown: list[tuple[str, str]] = []
            with studio.job(session) as job:
                start = time.monotonic()
                try:
                    steps = _counting(job)
                    job.where = f"tile 1/{len(tiles)}"
                    for tile, rgb in dream_atlas(
                        loaded.rgb, cfg.model, cfg.replace(max_side=side), tiles,
                        device=studio.device, cancel=steps, **run,
                    ):  # fmt: skip
                        done.append((tile.label, rgb))
                        job.where = f"tile {len(done) + 1}/{len(tiles)}"
                        path = studio.result_path(session, f"tile-{len(done)}")
                        save_image(path, rgb)
                        tiles_shown.append((str(path), tile.label))
                        took = time.monotonic() - start
                        yield {
                            atlas_gallery: list(tiles_shown),
                            atlas_status: f"{len(done)}/{len(tiles)} tiles · {took:.1f} s",
                        }
                except Cancelled:
                    yield {atlas_status: f"stopped after {len(done)}/{len(tiles)} tiles"}
                    return
                except (DreamError, MemoryError, RuntimeError, OSError) as e:
                    raise fail(e) from None
            sheet = contact_sheet(done, title=f"{cfg.model} · {upload.name}")
            out = studio.result_path(session, "atlas")
            save_image(out, np.asarray(sheet), None, {"atlas": [t.label for t in tiles]})
            yield {
                atlas_gallery: list(tiles_shown),
                atlas_sheet: str(out),
                atlas_status: f"done: {len(done)} tiles",
            }

        class _counting:
            """The job's cancel flag, also counting each step the session checks it at."""

            def __init__(self, job: Job) -> None:
                self.job = job

            def is_set(self) -> bool:
                studio.count_step(self.job.session)
                return self.job.cancel.is_set()

        atlas_event = atlas_btn.click(
            atlas_fn,
            atlas_inputs,
            [atlas_gallery, atlas_status, atlas_sheet],
            api_name="atlas",
            concurrency_limit=1,
            concurrency_id="device",
            show_progress="minimal",
        )

        # -- the video ---------------------------------------------------------------------------
        def clip_view_fn(path: str | None) -> tuple[Any, str]:
            """The uploaded clip shown (if a browser plays it) and described; what is wrong
            with a bad one said in the progress line, not in a popup: Dream says it there."""
            from inceptionism.frontends.web_checks import clip_preview

            if not path:
                return None, ""
            upload = Upload(Path(path), Path(path).name)
            try:
                studio.upload(path, "video")
                shown_clip, line = clip_preview(upload.path, upload.name)
            except DreamError as e:
                return None, page_message(_renamed(e, upload))
            return (str(shown_clip) if shown_clip else None), line

        clip.change(clip_view_fn, clip, [clip_view, video_status], queue=False, api_name=False)

        video_inputs = [clip, *video_form.inputs, *video_fields.values()]

        def video_fn(request: gr.Request, *values: Any) -> Iterator[dict]:
            data = dict(zip(video_inputs, values, strict=True))
            session = request.session_hash or "anonymous"
            clicked = time.monotonic()
            try:
                upload = studio.upload(data[clip], "video")
                cfg, run, guide = video_form.recipe(data)
                video = video_settings({name: data[c] for name, c in video_fields.items()})
                probed = studio.open_clip(upload, cfg, video)
            except DreamError as e:
                raise fail(e) from None
            frames = f"{probed.count} frames" if probed.count else "frames"
            yield {video_status: f"waiting for the device… ({frames} of {probed.width}x"
                   f"{probed.height} px)"}  # fmt: skip
            with studio.job(session) as job:
                folder = studio.job_folder(session)
                finished = False
                try:
                    yield from _video_job(job, clicked, upload, folder, cfg, run, guide, video)
                    finished = True
                except Cancelled:
                    yield {video_status: f"stopped at {job.where}"}
                except (DreamError, MemoryError, RuntimeError, OSError) as e:
                    raise fail(e, upload) from None
                finally:
                    if not finished:  # a stopped or failed dream leaves nothing behind
                        shutil.rmtree(folder, ignore_errors=True)

        def _video_job(
            job: Job,
            clicked: float,
            upload: Upload,
            folder: Path,
            cfg: DreamConfig,
            run: dict[str, Any],
            guide: Upload | None,
            video: dict[str, Any],
        ) -> Iterator[dict]:
            out = folder / f"{_safe(Path(upload.name).stem)}.dream.mp4"
            progress: ClipProgress | None = None
            notes: list[str] = []
            sent = 0.0
            size = ""
            sound = False
            for event in dream_clip(studio, job, upload, out, cfg, run, video):
                kind, now = event[0], time.monotonic()
                if kind == "start":
                    clip_job = event[1]
                    progress = ClipProgress(
                        clip_job.clip.count, cfg.iterations, clip_job.frame_iterations
                    )
                    size = f"{clip_job.clip.width}x{clip_job.clip.height} px"
                    sound = bool(clip_job.clip.audio)
                    job.where = progress.line()
                elif kind == "note":
                    notes.append(event[1])
                elif kind == "step" and progress is not None:
                    job.where = progress.line(event[1], event[2])
                    if now - sent >= PREVIEW_INTERVAL_S:
                        sent = now
                        yield {video_status: job.where}
                elif kind == "frame" and progress is not None:
                    progress.frame(event[1].seconds)
                    job.where = progress.line()
                    sent = now
                    yield {video_frame: event[1].rgb, video_status: job.where}
            assert progress is not None
            input_name = upload.name
            cmd = command_for(
                cfg,
                run,
                input_name,
                out.name,
                guide_name=guide.name if guide else None,
                device=studio.device,
                command="video",
                more=[(o, video[o.name]) for o in video_options()],
            )
            took = time.monotonic() - clicked
            said = "".join(f" · {n}" for n in notes)
            yield {
                video_status: f"done: {progress.done} frames in {took:.1f} s · {size} · "
                f"{'sound kept' if sound else 'no sound'}{said}",
                video_result: str(out),
                video_file: str(out),
                video_command: cmd,
            }

        video_event = video_btn.click(
            video_fn,
            video_inputs,
            [video_status, video_frame, video_result, video_file, video_command],
            api_name="video",
            concurrency_limit=1,
            concurrency_id="device",
            show_progress="minimal",
        )

        # -- stopping and counting ----------------------------------------------------------------
        def stop_fn(request: gr.Request) -> str:
            jobs = studio.stop(request.session_hash or "anonymous")
            return f"stopped at {jobs[0].where}" if jobs else "nothing to stop"

        def stop_dream_fn(request: gr.Request) -> tuple[str, Any, Any]:
            """Stop, and no longer offer a PNG or command: not the stopped dream's."""
            said = stop_fn(request)
            if said == "nothing to stop":
                return said, gr.update(), gr.update()
            return said, None, ""

        stops = (
            (stop_btn, stop_dream_fn, [status, download, command]),
            (atlas_stop, stop_fn, atlas_status),
            (video_stop, stop_fn, video_status),
        )
        for button, fn, out in stops:
            button.click(
                fn,
                None,
                out,
                api_name="stop" if button is stop_btn else False,
                queue=False,
                cancels=[dream_event, atlas_event, video_event],
            )

        def steps_fn(request: gr.Request) -> dict:
            return studio.steps(request.session_hash or "anonymous")

        gr.api(steps_fn, api_name="steps", queue=False)

        def left(request: gr.Request) -> None:
            """A closed or reloaded tab: its dreams stop (nobody is watching them)."""
            studio.stop(request.session_hash or "anonymous")

        app.unload(left)
    return app


@cache
def _infos(model: str) -> tuple[Any, ...]:
    from inceptionism.models.base import LayerInfo

    return tuple(LayerInfo(n, c, s, "") for n, c, s in layer_listing(model))


# -- serving -------------------------------------------------------------------------------------


def warm_up(studio: Studio) -> None:
    """Load the default model and run one tiny dream, so the first click shows a preview at
    once instead of after the model's set-up."""
    from inceptionism.session import Dreamer

    cfg = make_config(DEFAULT_PRESET, model=DEFAULT_MODEL, octaves=1, iterations=1)
    Dreamer(DEFAULT_MODEL, cfg, device=studio.device).dream(np.full((96, 96, 3), 128, np.float32))


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    max_upload: str = DEFAULT_MAX_UPLOAD,
    device: str = "auto",
    queue_size: int = DEFAULT_QUEUE,
) -> int:
    """Run the studio until interrupted (Ctrl-C or SIGTERM); its temporary folder, which holds
    every upload and result, is removed at the end."""
    import signal

    if not is_loopback(host):
        print(
            f"deepdream: warning: the studio listens on {host}, not only on this machine: "
            f"anyone who can reach port {port} can use the page and this machine's {device} "
            "device",
            file=sys.stderr,
        )
    limit = parse_size(max_upload)
    if queue_size < 1:
        raise DreamError(f"invalid queue size {queue_size}: need a whole number >= 1")
    studio = Studio(device, max_upload=limit, queue_size=queue_size)

    def interrupted(_sig: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        # Gradio reads its folders when it is imported: ours, so every upload and cached file
        # lies in one folder, removed when the studio stops.
        os.environ["GRADIO_TEMP_DIR"] = str(studio.temp_dir)
        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
        from inceptionism.extras import require_extra

        gr = require_extra("gradio", "ui", "the web studio")
        print(f"temporary files: {studio.temp_dir} (removed on exit)", flush=True)
        warm_up(studio)
        app = build_app(studio)
        app.queue(max_size=queue_size, default_concurrency_limit=1)
        theme = gr.themes.Default(
            font=["ui-sans-serif", "system-ui", "sans-serif"],
            font_mono=["ui-monospace", "monospace"],
        )  # system fonts: the page loads nothing from the internet
        app.launch(
            server_name=host,
            server_port=port,
            max_file_size=limit,
            show_error=True,
            ssr_mode=False,
            theme=theme,
            css=CSS,
            footer_links=["api"],
        )
    except KeyboardInterrupt:
        pass
    finally:
        studio.cleanup()
    return 0
