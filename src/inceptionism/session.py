"""A dream session: set up once, then dream any number of images with the same recipe.

:class:`Dreamer` does what every dream needs once (the model prepared for dreaming, the
objective, the per-step shaping, the device) and is what every front end dreams through: the
CLI, batches, ``inceptionism.dream``, video, the web UI and cluster workers. A session is never
changed by dreaming, so one may serve several threads at once.

``dream()`` returns the picture; ``steps()`` yields a :class:`DreamEvent` per gradient step (with
a preview when asked), for progress bars and live previews. Both stop within one step when a
cancel flag is set (:class:`~inceptionism.errors.Cancelled`), and closing ``steps()`` stops the
dream too.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import inceptionism.runtime as runtime
from inceptionism.algorithm.engine import (
    DreamWarning,
    Step,
    dream_steps,
    octave_side,
    pyramid,
    total_steps,
)
from inceptionism.algorithm.objectives import Objective, objective_for
from inceptionism.algorithm.plan import DreamPlan, make_plan
from inceptionism.algorithm.shaping import shaping_for
from inceptionism.algorithm.tiling import resolve_tile, slow_tile_note
from inceptionism.config import DreamConfig, make_config
from inceptionism.errors import Cancelled, DreamError, is_out_of_memory, out_of_memory
from inceptionism.io import LoadedImage, load_image
from inceptionism.models.base import DreamModel, check_precision
from inceptionism.models.cache import get_model
from inceptionism.models.devices import pick_device
from inceptionism.threads import check_threads, thread_schedule
from inceptionism.version import __version__

#: What ``dream``/``steps`` take: a file, a PIL image, or pixels (H, W, 3) in 0..255.
ImageLike = str | os.PathLike | Image.Image | np.ndarray | LoadedImage


def shared_model(
    name: str, weights: str | Path | None = None, device: str | torch.device = "cpu"
) -> DreamModel:
    """The process-wide copy of a registered (or ``file.py:factory``) model on ``device``,
    loaded once and shared by every thread (never changed after set-up: ``models.cache``)."""
    return get_model(name, weights, device)


class DreamEvent:
    """Progress of a dream after one gradient step.

    ``octave`` (1-based) of ``octaves``; ``step`` (1-based, counted over all octaves) of at most
    ``total`` (``max_loss`` may end octaves early); ``loss`` the objective before the step (read
    from the device only when asked for); ``preview`` uint8 RGB (h, w, 3) at the octave's size
    when previews were asked for and this step has one; ``result`` the finished dream, float32
    RGB (H, W, 3) in 0..255, on the last event only, with ``warnings``: one-line messages about
    a dream that did less than its settings suggest (e.g. ``max_loss`` ended octaves before
    their first step), for the front end to show and to record in the output's metadata, and
    ``threads``: the CPU threads each octave ran on (empty off the CPU), for the metadata too.
    """

    __slots__ = (
        "_loss", "octave", "octaves", "preview", "result", "step", "threads", "total", "warnings",
    )  # fmt: skip

    def __init__(
        self,
        octave: int,
        octaves: int,
        step: int,
        total: int,
        loss: float | torch.Tensor,
        preview: np.ndarray | None = None,
        result: np.ndarray | None = None,
        warnings: tuple[str, ...] = (),
        threads: tuple[int, ...] = (),
    ) -> None:
        self.octave, self.octaves, self.step, self.total = octave, octaves, step, total
        self._loss = loss
        self.preview, self.result = preview, result
        self.warnings, self.threads = warnings, threads

    @property
    def loss(self) -> float:
        if not isinstance(self._loss, float):
            self._loss = float(self._loss)  # on a GPU this waits for the step to finish
        return self._loss

    def __repr__(self) -> str:
        extra = " +preview" if self.preview is not None else ""
        extra += " +result" if self.result is not None else ""
        return (
            f"DreamEvent(octave {self.octave}/{self.octaves}, step {self.step}/{self.total}, "
            f"loss {self.loss:.4g}{extra})"
        )


class Dreamer:
    """One recipe on one model and device, set up once; dreams any number of images.

    ``model`` is a registered model name (loaded once per process, from the shared cache), a
    ``file.py:factory`` name, or a :class:`DreamModel`; None takes ``config.model``. ``config``
    is the recipe (default: the ``default`` preset for the model). ``device``: ``auto``, ``cpu``,
    ``cuda[:N]`` or ``mps``; ``precision``: ``auto`` (bf16 where measured to pay for the model
    on this device, else fp32: resolved once, ``plan.precision``), ``fp32``, ``bf16``, ``fp16``;
    ``weights``: a local weights file for a registered model; ``objective``: a composed
    :class:`Objective` instead of the config's layers, classes and guide. ``threads``: CPU
    threads, N for every dream or a recorded count per octave to replay (a dream's metadata
    ``threads``); default: the process's setting, else chosen per octave from the free CPUs.

    ``config`` is the resolved recipe: ``tile="auto"`` is fixed by the first image dreamed (and
    for each other image size once), so every frame of a video is tiled alike. ``plan`` is
    the set-up resolved once (:class:`~inceptionism.algorithm.plan.DreamPlan`): the engine
    dreams from it and nothing below the session asks the model again.
    """

    def __init__(
        self,
        model: str | DreamModel | None = None,
        config: DreamConfig | None = None,
        *,
        device: str | torch.device = "auto",
        precision: str = "auto",
        weights: str | Path | None = None,
        objective: Objective | None = None,
        threads: int | Sequence[int] | None = None,
    ) -> None:
        name = model.name if isinstance(model, DreamModel) else model
        if config is None:
            config = make_config(model=name)
        elif isinstance(model, str) and config.model != model:
            raise DreamError(f"the recipe is for model {config.model!r}, not {model!r}")
        self.device = pick_device(device) if isinstance(device, str) else device
        check_precision(precision, self.device)  # before any work
        self.precision = precision
        runtime.configure(self.device)
        if isinstance(model, DreamModel):
            self._loaded = model.to(self.device)  # a copy when it is elsewhere: never moved
        else:
            self._loaded = shared_model(config.model, weights, self.device)
        self.objective = objective or objective_for(config, self._loaded)
        self.plan: DreamPlan = make_plan(  # layers checked here: unknown names fail first
            self._loaded,
            self.objective,
            device=self.device,
            precision=precision,
            threads=_thread_policy(threads),
        )
        self.model = self.plan.model
        self.shaping = shaping_for(config, self.model.preprocess)
        self.recipe = config  # as given (tile may be "auto")
        self.config = config  # tile fixed by the first image dreamed
        self._tiles: dict[tuple[int, int], DreamConfig] = {}
        self._lock = threading.Lock()
        self._running: set[threading.Event] = set()

    # -- the recipe ------------------------------------------------------------------------------
    def config_for(self, shape: tuple[int, int]) -> DreamConfig:
        """The recipe for an image of ``shape`` (H, W): ``tile="auto"`` resolved once per size."""
        shape = (int(shape[0]), int(shape[1]))
        with self._lock:
            if shape not in self._tiles:
                cfg = resolve_tile(self.recipe, self.plan, shape, self.device)
                self._tiles[shape] = cfg
                if len(self._tiles) == 1:
                    self.config = cfg
            return self._tiles[shape]

    def total_steps(self, shape: tuple[int, int]) -> int:
        """Steps a dream of ``shape`` takes at most (``max_loss`` may end octaves early)."""
        return total_steps(self.plan, shape, self.recipe)

    def octave_sizes(self, shape: tuple[int, int]) -> list[tuple[int, int]]:
        """The (H, W) of each octave a dream of ``shape`` visits, smallest first: a step costs
        about its octave's pixels, so a progress bar weighs steps by them for its ETA."""
        return pyramid(shape, self.recipe, self.plan.min_side)

    def octaves_run(self, shape: tuple[int, int]) -> int:
        """How many octaves a dream of ``shape`` runs: those of the recipe's that keep the
        layers' minimum size (fewer than asked on a small image)."""
        return len(self.octave_sizes(shape))

    def notes(self, shape: tuple[int, int]) -> list[str]:
        """One line for each way a dream of ``shape`` runs otherwise than the recipe says (fewer
        octaves, a tile much slower than untiled): no setting changes silently. The CLI prints
        them, the metadata records them."""
        out = []
        asked, run = self.recipe.octaves, self.octaves_run(shape)
        if run < asked:
            need = self.plan.min_side
            side = octave_side(min(shape), self.recipe.octave_scale, run)
            out.append(
                f"{run} of {asked} octaves run: at {shape[1]}x{shape[0]} px the next would be "
                f"{side} px on its short side, under the {need} px these layers need"
            )
        tile = slow_tile_note(self.recipe, self.plan, shape)
        return [*out, tile] if tile else out

    def metadata(
        self,
        shape: tuple[int, int] | None = None,
        seed: int | None = None,
        warnings: tuple[str, ...] | list[str] = (),
        threads: Sequence[int] = (),
    ) -> dict:
        """Everything needed to reproduce a dream from its output file: the full recipe (tile as
        used for ``shape``, default: the first image's; ``seed`` if a call overrode it), and the
        dream's ``warnings`` (its last event's) if it had any. The recipe is kept as asked, so
        ``--config-from`` repeats the dream; what ran differently is beside it (``octaves_run``,
        ``notes``), and so are the CPU ``threads`` of each octave (the last event's) and the
        ``precision`` the model dreamed in (``auto`` resolved), which ``--config-from`` replays:
        the same pixels need the same counts and arithmetic."""
        cfg = self.config_for(shape) if shape is not None else self.config
        if seed is not None:
            cfg = cfg.replace(seed=seed)
        meta = {
            "software": f"inceptionism {__version__}",
            "version": __version__,
            "config": cfg.to_dict(),
            "model": self.model.name,
            "layers": cfg.effective_layers(self.model.default_layers),
            "objective": self.objective.name,
            "precision": self.plan.precision,
        }
        if shape is not None:
            meta["octaves_run"] = self.octaves_run(shape)
            if notes := self.notes(shape):
                meta["notes"] = notes
        if warnings:
            meta["warnings"] = list(warnings)
        if threads:
            meta["threads"] = [int(n) for n in threads]
        return meta

    # -- dreaming --------------------------------------------------------------------------------
    def dream(
        self,
        image: ImageLike,
        *,
        init: np.ndarray | None = None,
        seed: int | None = None,
        cancel: threading.Event | None = None,
    ) -> np.ndarray:
        """The dream of ``image`` as float32 RGB (H, W, 3) in 0..255, the size of ``image``.

        ``image``: a file or PIL image (shrunk to the recipe's ``max_side``) or pixels (H, W, 3)
        in 0..255 taken as they are. ``init``: pixels of the same size where the ascent starts
        (default: the image); the detail the octaves add back still comes from ``image``.
        ``seed`` overrides the recipe's. ``cancel``: a flag checked at every step; once set the
        dream raises :class:`Cancelled`. A dream that did less than its settings suggest (e.g.
        ``max_loss`` ended octaves before their first step) warns: a :class:`DreamWarning`.
        """
        event = None
        for event in self.steps(image, init=init, seed=seed, cancel=cancel):  # noqa: B007
            pass
        assert event is not None and event.result is not None
        for message in event.warnings:
            warnings.warn(message, DreamWarning, stacklevel=2)
        return event.result

    def steps(
        self,
        image: ImageLike,
        *,
        init: np.ndarray | None = None,
        seed: int | None = None,
        preview_every: int | None = None,
        cancel: threading.Event | None = None,
        threads: int | Sequence[int] | None = None,
    ) -> Iterator[DreamEvent]:
        """The dream as it goes: one :class:`DreamEvent` per gradient step, the last one with the
        result (when ``max_loss`` ends the dream early, one more event repeats the last step's
        numbers with it). ``preview_every=N``: a preview every N steps and at the end of each
        octave. ``threads``: N, or a recorded count per octave to replay, for this dream alone (a
        clip's frames, see ``video.thread_record``), over the session's. Arguments as :meth:`dream`;
        closing the generator stops the dream.
        """
        if preview_every is not None and (
            isinstance(preview_every, bool)
            or not isinstance(preview_every, int)
            or preview_every < 1
        ):
            raise DreamError(f"invalid preview_every {preview_every!r}: need a whole number >= 1")
        rgb = self._pixels(image, "image")
        shape = rgb.shape[:2]
        start = None if init is None else self._pixels(init, "init")
        if start is not None and start.shape != rgb.shape:
            raise DreamError(
                f"init is {start.shape[1]}x{start.shape[0]} px, the image "
                f"{rgb.shape[1]}x{rgb.shape[0]}: they must be the same size"
            )
        config = self.config_for(shape)
        if seed is not None:
            config = config.replace(seed=seed)
        policy = self.plan.threads if threads is None else _thread_policy(threads)
        stop = threading.Event()
        with self._lock:
            self._running.add(stop)
        try:
            yield from self._run(rgb, start, config, preview_every, stop, cancel, policy)
        finally:
            with self._lock:
                self._running.discard(stop)

    def cancel(self) -> None:
        """Stop every dream this session is running now (each raises :class:`Cancelled`)."""
        with self._lock:
            for flag in self._running:
                flag.set()

    # -- inside ----------------------------------------------------------------------------------
    def _run(
        self,
        rgb: np.ndarray,
        start: np.ndarray | None,
        config: DreamConfig,
        preview_every: int | None,
        stop: threading.Event,
        cancel: threading.Event | None,
        policy: runtime.ThreadPolicy | None,
    ) -> Iterator[DreamEvent]:
        def check() -> None:
            if stop.is_set() or (cancel is not None and cancel.is_set()):
                raise Cancelled()

        check()
        pixels = self._tensor(rgb)
        init = None if start is None else self._tensor(start)
        said: list[str] = []
        octave_threads = runtime.OctaveThreads(policy)
        trim = pixels.shape[-2] * pixels.shape[-1] > runtime.TRIM_ABOVE_PIXELS
        engine = dream_steps(
            self.plan, pixels, config, self.shaping, init, said.append, octave_threads
        )
        last: Step | None = None
        try:
            with runtime.keep_freed_memory():
                while True:
                    try:
                        s = next(engine)
                    except StopIteration as end:
                        if last is None:  # no steps at all (iterations=0)
                            last = Step(1, 1, 0, 0, torch.tensor(float("nan")), pixels)
                        yield self._event(
                            last, None, self._array(end.value), said, octave_threads.used
                        )
                        return
                    check()
                    if trim:  # a big photo: the step's freed pages go back (see runtime)
                        runtime.trim_freed_memory()
                    preview = self._preview(s, config, preview_every)
                    if s.step == s.total:  # the last step: add the final detail, then report
                        try:
                            next(engine)
                        except StopIteration as end:
                            result = self._array(end.value)
                            if preview is not None:  # the finished picture, detail and all
                                preview = np.clip(np.rint(result), 0, 255).astype(np.uint8)
                            yield self._event(s, preview, result, said, octave_threads.used)
                            return
                    yield self._event(s, preview, None)
                    last = s
        except (MemoryError, RuntimeError) as e:
            if is_out_of_memory(e):
                raise out_of_memory() from e
            raise
        finally:
            engine.close()

    @staticmethod
    def _event(
        s: Step,
        preview: np.ndarray | None,
        result: np.ndarray | None,
        said: list[str] | None = None,
        threads: list[int] | None = None,
    ) -> DreamEvent:
        return DreamEvent(
            s.octave, s.octaves, s.step, s.total, s.loss, preview, result, tuple(said or ()),
            tuple(threads or ()),
        )  # fmt: skip

    def _preview(self, s: Step, config: DreamConfig, every: int | None) -> np.ndarray | None:
        if not every:
            return None
        octave_end = s.step == s.octave * config.iterations
        if s.step % every and not octave_end:
            return None
        img = self.model.preprocess.invert(s.image.detach())[0].clamp(0, 255).round()
        return img.to(torch.uint8).permute(1, 2, 0).cpu().numpy()

    def _pixels(self, image: ImageLike, what: str) -> np.ndarray:
        """Float32 (H, W, 3) 0..255: files and PIL images loaded (``max_side`` applied)."""
        if isinstance(image, LoadedImage):
            return image.rgb
        if isinstance(image, np.ndarray):
            if image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
                raise DreamError(f"{what}: expected an (H, W, 3) RGB array, got {image.shape}")
            a = np.ascontiguousarray(image, dtype=np.float32)
            if not np.isfinite(a).all():
                raise DreamError(f"{what}: contains NaN or infinite values")
            return a
        return load_image(image, max_side=self.recipe.max_side).rgb

    def _tensor(self, rgb: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None]
        return t.to(self.device, self.plan.dtype)

    @staticmethod
    def _array(out: torch.Tensor) -> np.ndarray:
        return np.ascontiguousarray(out[0].permute(1, 2, 0).cpu().numpy(), dtype=np.float32)

    def __repr__(self) -> str:
        return f"Dreamer({self.model.name!r}, {self.objective.name}, device={self.device})"


def _thread_policy(threads: int | Sequence[int] | None) -> runtime.ThreadPolicy | None:
    """``Dreamer(threads=...)`` as a policy: N forced, a sequence replayed, None the process's."""
    if threads is None:
        return None
    if isinstance(threads, int) and not isinstance(threads, bool):
        return runtime.ThreadPolicy(forced=check_threads(threads))
    if isinstance(threads, (str, bytes)) or not isinstance(threads, Sequence):
        raise DreamError(f"invalid threads {threads!r}: need N or a count per octave")
    return runtime.ThreadPolicy(schedule=thread_schedule(threads))
