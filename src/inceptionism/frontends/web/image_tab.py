"""The Image tab: a picture dreamed with the generated form, the dream growing octave by octave,
the PNG with its recipe inside, the equivalent command, and this session's dreams."""

# No "from __future__ import annotations": Gradio reads the handlers' hints (gr.Request) at
# runtime.

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import gradio as gr

from inceptionism import runtime
from inceptionism.config import DreamConfig
from inceptionism.errors import Cancelled, DreamError
from inceptionism.frontends.web.form import SettingsForm
from inceptionism.frontends.web.progress import (
    PREVIEW_EVERY,
    PREVIEW_INTERVAL_S,
    Progress,
    enlarged,
)
from inceptionism.frontends.web.recipe import command_for
from inceptionism.frontends.web.settings_loading import wire_settings_loading
from inceptionism.frontends.web.studio import SAMPLE, Job, Studio, Upload, is_sample
from inceptionism.frontends.web.widgets import page_error, picture_input, run_controls
from inceptionism.io import save_image
from inceptionism.session import Dreamer


class ImageTab:
    """The Image tab's components and handlers on ``studio``; ``history`` (a gr.State the app
    makes first) holds this session's dreams."""

    def __init__(self, studio: Studio, history: Any) -> None:
        self.studio = studio
        self.history = history
        self.form = SettingsForm(studio)

    def draw(self, options: Sequence[Any]) -> None:
        """The tab: the picture and form on the left, the dream and its recipe on the right."""
        with gr.Tab("Image"), gr.Row():
            with gr.Column(scale=5):
                self._draw_inputs(options)
            with gr.Column(scale=6):
                self._draw_results()

    def _draw_inputs(self, options: Sequence[Any]) -> None:
        """The picture, the generated form and the settings-loading field."""
        self.picture = picture_input(
            value=str(SAMPLE),
            type="filepath",
            sources=["upload", "clipboard"],
            label="Picture (upload, paste, or the sample)",
            elem_id="picture",
        )
        self.sample_btn = gr.Button("Use the sample picture", size="sm")
        self.form.draw(options)
        self.settings_file = gr.File(
            label="Load the settings of a dream (a picture made by deepdream)",
            file_types=["image"],
            elem_id="settings_file",
        )

    def _draw_results(self) -> None:
        """Dream and Stop, the progress, the dream, its PNG and command, the session's dreams."""
        self.dream_btn, self.stop_btn, self.status = run_controls()
        self.view = gr.Image(
            label="Dream", interactive=False, format="png", elem_id="view", height=420
        )
        self.download = gr.File(
            label="The dream as PNG, its recipe inside", interactive=False, elem_id="png"
        )
        self.command = gr.Code(
            label="The same dream from the command line",
            language="shell",
            interactive=False,
            lines=2,
            elem_id="command",
        )
        self.history_gallery = gr.Gallery(
            label="This session's dreams", columns=5, height=200, elem_id="history"
        )
        self.history_table = gr.Dataframe(
            headers=["#", "time", "settings (the command)"],
            label="Their settings",
            interactive=False,
            wrap=True,
            elem_id="history_table",
        )

    def wire_fields(self, extra: Sequence[tuple[Any, Callable[[str], Any]]]) -> None:
        """Choosing a model or preset updates the form (and ``extra``: other tabs' fields)."""
        self.form.wire(extra)

    def wire_sample(self) -> None:
        """The sample button puts the bundled picture back."""
        self.sample_btn.click(lambda: str(SAMPLE), None, self.picture, queue=False, api_name=False)

    def wire_settings(self) -> None:
        """An uploaded dream's settings fill the form (untrusted)."""
        wire_settings_loading(self.studio, self.form, self.settings_file)

    def wire_dream(self) -> Any:
        """The Dream button (the ``/dream`` endpoint); returns its event, which Stop cancels."""
        inputs = [self.picture, *self.form.inputs, self.history]

        def dream_fn(request: gr.Request, *values: Any) -> Iterator[dict]:
            data = dict(zip(inputs, values, strict=True))
            yield from self.dream(data, data[self.history], request.session_hash or "anonymous")

        outputs = [self.view, self.status, self.download, self.command, self.history]
        return self.dream_btn.click(
            dream_fn,
            inputs,
            [*outputs, self.history_gallery, self.history_table],
            api_name="dream",
            concurrency_limit=1,
            concurrency_id="device",
            show_progress="minimal",
        )

    def stop_outputs(self) -> list[Any]:
        """What Stop updates: the progress line, and no PNG or command (not the stopped
        dream's)."""
        return [self.status, self.download, self.command]

    def dream(self, data: dict, past: list, session: str) -> Iterator[dict]:
        """One dream of ``session``: checked before it waits for the device, then run."""
        clicked = time.monotonic()
        try:
            upload = self.studio.upload(data[self.picture], "picture")
            cfg, run, guide = self.form.recipe(data)
            loaded = self.studio.load(upload, cfg.max_side)
        except DreamError as e:
            raise page_error(e) from None
        # the previous dream's PNG and command are not this one's
        yield {self.status: "waiting for the device…", self.download: None, self.command: ""}
        with self.studio.job(session) as job:
            try:
                yield from self._dream_job(job, clicked, upload, loaded, cfg, run, guide, past)
            except Cancelled:
                yield {
                    self.status: f"stopped at {job.where}",
                    self.download: None,
                    self.command: "",
                }
            except (DreamError, MemoryError, RuntimeError, OSError) as e:
                raise page_error(e, guide) from None  # (the picture is read: only the guide is)

    def _dream_job(
        self,
        job: Job,
        clicked: float,
        upload: Upload,
        loaded: Any,
        cfg: DreamConfig,
        run: dict[str, Any],
        guide: Upload | None,
        past: list,
    ) -> Iterator[dict]:
        """The dream on the device: its previews, then the PNG, the command and the history."""
        dreamer = Dreamer(cfg.model, cfg, device=self.studio.device, **run)
        shape = loaded.rgb.shape[:2]
        event = yield from self._previews(job, clicked, dreamer, loaded, cfg)
        out = self.studio.result_path(job.session, upload.name)
        meta = dreamer.metadata(shape, threads=event.threads)
        if guide is not None:  # as the command names it, not where the server keeps it
            meta["config"]["guide"] = guide.name
        save_image(out, event.result, loaded.alpha, meta)
        input_name = str(SAMPLE) if is_sample(upload) else upload.name
        threads = runtime.threads_flag(event.threads, dreamer.octave_sizes(shape))
        cmd = command_for(
            cfg,
            {**run, "threads": threads} if threads else run,  # the counts that made its pixels
            input_name,
            out.name,
            guide_name=guide.name if guide else None,
            device=self.studio.device,
        )
        took = time.monotonic() - clicked
        notes = "".join(f" · note: {n}" for n in dreamer.notes(shape))  # nothing silent
        past = [*past, {"path": str(out), "command": cmd, "time": time.strftime("%H:%M:%S")}]
        yield {
            self.view: str(out),
            self.status: f"done: {event.total} steps in {took:.1f} s · {loaded.size[0]}x"
            f"{loaded.size[1]} px{notes}",
            self.download: str(out),
            self.command: cmd,
            self.history: past,
            self.history_gallery: [(p["path"], f"#{i}") for i, p in enumerate(past, 1)],
            self.history_table: [[i, p["time"], p["command"]] for i, p in enumerate(past, 1)],
        }

    def _previews(
        self, job: Job, clicked: float, dreamer: Any, loaded: Any, cfg: DreamConfig
    ) -> Iterator[dict]:
        """The dream's steps, each counted, its previews sent at most every
        PREVIEW_INTERVAL_S and at each octave's end; returns the last event (the result)."""
        shape = loaded.rgb.shape[:2]
        progress = Progress(dreamer.octave_sizes(shape), cfg.iterations)
        sent = 0.0
        event = None
        for event in dreamer.steps(loaded, preview_every=PREVIEW_EVERY, cancel=job.cancel):
            self.studio.count_step(job.session)
            progress.tick(event.octave, event.step)
            job.where = f"octave {event.octave}/{event.octaves} · step {event.step}/{event.total}"
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
                yield {self.view: enlarged(event.preview, shape), self.status: line}
        assert event is not None and event.result is not None
        return event
