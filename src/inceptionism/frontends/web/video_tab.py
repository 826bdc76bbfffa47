"""The Video tab: a short clip dreamed frame by frame as ``deepdream video`` dreams it, sound
and all, with its own generated form (a smaller size to start from) and video fields."""

# No "from __future__ import annotations": Gradio reads the handlers' hints (gr.Request) at
# runtime.

import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from inceptionism.config import DreamConfig
from inceptionism.errors import Cancelled, DreamError
from inceptionism.frontends.web.checks import clip_preview
from inceptionism.frontends.web.clip import (
    VIDEO_FIELD_DEFAULTS,
    VIDEO_FORMATS,
    VIDEO_PAGE_DEFAULTS,
    dream_clip,
    video_options,
    video_settings,
)
from inceptionism.frontends.web.form import SettingsForm
from inceptionism.frontends.web.progress import PREVIEW_INTERVAL_S, ClipProgress
from inceptionism.frontends.web.recipe import command_for, page_message
from inceptionism.frontends.web.studio import Job, Studio, Upload, renamed_error, safe_name
from inceptionism.frontends.web.widgets import (
    OPEN_GROUPS,
    option_field,
    page_error,
    raw_upload,
    run_controls,
)

INTRO = (
    "Every frame is dreamed, carrying the last frame's dream along the motion, "
    "so the dream stays put on moving things; the sound is kept. Keep clips "
    "short and small: the first seconds at a small size are dreamed by default."
)


class VideoTab:
    """The Video tab's components and handlers on ``studio``."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        # (the size group open: the frame's size decides how long a clip takes)
        self.form = SettingsForm(studio, "video_", VIDEO_PAGE_DEFAULTS, OPEN_GROUPS | {"size"})
        self.video_fields: dict[str, Any] = {}

    def draw(self, options: Sequence[Any]) -> None:
        """The tab: the clip and its fields on the left, the dream and its recipe on the right."""
        with gr.Tab("Video"), gr.Row():
            with gr.Column(scale=5):
                self._draw_inputs(options)
            with gr.Column(scale=6):
                self._draw_results()

    def _draw_inputs(self, options: Sequence[Any]) -> None:
        """The clip (a file field), its preview, the video fields and the generated form."""
        # a file field: a video field would play a bad file at once, and the browser
        # show its own error before ours; the clip is shown once it is checked
        self.clip = raw_upload(
            gr.File(
                file_types=list(VIDEO_FORMATS),
                label=f"Clip ({', '.join(f[1:] for f in VIDEO_FORMATS)}; a few seconds)",
                elem_id="clip",
                height=120,
            ),
            "video",
        )
        self.clip_view = gr.Video(
            label="The clip", interactive=False, elem_id="clip_view", height=240
        )
        with gr.Accordion("Video", open=True):  # the tab's own, first
            for opt in video_options():
                value = VIDEO_FIELD_DEFAULTS.get(opt.name, opt.default)
                self.video_fields[opt.name] = option_field(opt, value, "video_" + opt.name)
        self.form.draw(options)

    def _draw_results(self) -> None:
        """Dream and Stop, the progress, the last frame, the clip, its MP4 and command."""
        gr.Markdown(INTRO)
        self.button, self.stop_btn, self.status = run_controls("video_")
        self.frame = gr.Image(
            label="The last frame dreamed",
            interactive=False,
            format="png",
            elem_id="video_frame",
            height=300,
        )
        self.result = gr.Video(
            label="The dream", interactive=False, elem_id="video_result", height=300
        )
        self.file = gr.File(
            label="The dream as MP4, with the clip's sound",
            interactive=False,
            elem_id="video_file",
        )
        self.command = gr.Code(
            label="The same dream from the command line",
            language="shell",
            interactive=False,
            lines=2,
            elem_id="video_command",
        )

    def clip_view_fn(self, path: str | None) -> tuple[Any, str]:
        """The uploaded clip shown (if a browser plays it) and described; what is wrong
        with a bad one said in the progress line, not in a popup: Dream says it there."""
        if not path:
            return None, ""
        upload = Upload(Path(path), Path(path).name)
        try:
            self.studio.upload(path, "video")
            shown_clip, line = clip_preview(upload.path, upload.name)
        except DreamError as e:
            return None, page_message(renamed_error(e, upload))
        return (str(shown_clip) if shown_clip else None), line

    def wire(self) -> Any:
        """The clip's preview, and the Dream button (the ``/video`` endpoint); returns its
        event, which Stop cancels."""
        self.clip.change(
            self.clip_view_fn, self.clip, [self.clip_view, self.status], queue=False, api_name=False
        )
        inputs = [self.clip, *self.form.inputs, *self.video_fields.values()]

        def video_fn(request: gr.Request, *values: Any) -> Iterator[dict]:
            data = dict(zip(inputs, values, strict=True))
            yield from self.video(data, request.session_hash or "anonymous")

        return self.button.click(
            video_fn,
            inputs,
            [self.status, self.frame, self.result, self.file, self.command],
            api_name="video",
            concurrency_limit=1,
            concurrency_id="device",
            show_progress="minimal",
        )

    def video(self, data: dict, session: str) -> Iterator[dict]:
        """One clip's dream of ``session``: checked before it waits for the device; a stopped
        or failed dream leaves nothing behind."""
        clicked = time.monotonic()
        try:
            upload = self.studio.upload(data[self.clip], "video")
            cfg, run, guide = self.form.recipe(data)
            video = video_settings({name: data[c] for name, c in self.video_fields.items()})
            probed = self.studio.open_clip(upload, cfg, video)
        except DreamError as e:
            raise page_error(e) from None
        frames = f"{probed.count} frames" if probed.count else "frames"
        yield {self.status: f"waiting for the device… ({frames} of {probed.width}x"
               f"{probed.height} px)"}  # fmt: skip
        with self.studio.job(session) as job:
            folder = self.studio.job_folder(session)
            finished = False
            try:
                out = folder / f"{safe_name(Path(upload.name).stem)}.dream.mp4"
                said = yield from self._frames(job, upload, out, cfg, run, video)
                yield self._finished(clicked, upload, out, cfg, run, guide, video, said)
                finished = True
            except Cancelled:
                yield {self.status: f"stopped at {job.where}"}
            except (DreamError, MemoryError, RuntimeError, OSError) as e:
                raise page_error(e, upload) from None
            finally:
                if not finished:
                    shutil.rmtree(folder, ignore_errors=True)

    def _frames(
        self,
        job: Job,
        upload: Upload,
        out: Path,
        cfg: DreamConfig,
        run: dict[str, Any],
        video: dict[str, Any],
    ) -> Iterator[dict]:
        """The clip's dream, its progress and each dreamed frame shown; returns (frames done,
        what the last line says of the clip: size, sound, notes)."""
        progress: ClipProgress | None = None
        notes: list[str] = []
        sent = 0.0
        size = ""
        sound = False
        for event in dream_clip(self.studio, job, upload, out, cfg, run, video):
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
                    yield {self.status: job.where}
            elif kind == "frame" and progress is not None:
                progress.frame(event[1].seconds)
                job.where = progress.line()
                sent = now
                yield {self.frame: event[1].rgb, self.status: job.where}
        assert progress is not None
        said = "".join(f" · {n}" for n in notes)
        return progress.done, f"{size} · {'sound kept' if sound else 'no sound'}{said}"

    def _finished(
        self,
        clicked: float,
        upload: Upload,
        out: Path,
        cfg: DreamConfig,
        run: dict[str, Any],
        guide: Upload | None,
        video: dict[str, Any],
        said: tuple[int, str],
    ) -> dict:
        """The page's last update: the line, the clip, its file and the equivalent command."""
        cmd = command_for(
            cfg,
            run,
            upload.name,
            out.name,
            guide_name=guide.name if guide else None,
            device=self.studio.device,
            command="video",
            more=[(o, video[o.name]) for o in video_options()],
        )
        took = time.monotonic() - clicked
        return {
            self.status: f"done: {said[0]} frames in {took:.1f} s · {said[1]}",
            self.result: str(out),
            self.file: str(out),
            self.command: cmd,
        }
