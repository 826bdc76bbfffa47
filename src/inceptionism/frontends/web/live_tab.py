"""The Live tab: the browser's camera streams to the server, each frame is dreamed coherently
with the last (``inceptionism.live``, as ``deepdream live`` does), and the dream streams back.

One live session holds the device at a time: a second visitor is told it is busy until the
first presses Stop or leaves (no frame for ``STALE_S``). The settings are the generated form;
changing one while live starts the dream afresh with it on the next frame.
"""

# No "from __future__ import annotations": Gradio reads the handlers' hints (gr.Request) at
# runtime.

import threading
import time
from collections.abc import Sequence
from typing import Any

import gradio as gr
import numpy as np

from inceptionism.errors import Cancelled, DreamError
from inceptionism.frontends.web.form import SettingsForm
from inceptionism.frontends.web.recipe import page_message
from inceptionism.frontends.web.studio import Studio
from inceptionism.frontends.web.widgets import OPEN_GROUPS
from inceptionism.live.loop import LIVE_RECIPE, CoherentDreamer, LiveSettings, frame_loop
from inceptionism.live.sources import fit

#: The tab starts from live's own recipe (256 px, one short octave) and sends a camera frame
#: this often; a frame that arrives while the last is still being dreamed waits for none.
LIVE_PAGE_DEFAULTS = dict(LIVE_RECIPE)
STREAM_EVERY_S = 0.05
TIME_LIMIT_S = 600  # one live run at most; press record again for more
STALE_S = 3.0  # a holder that sent no frame this long has left: another visitor may go live
INTRO = (
    "Allow the camera, press its record button, and watch yourself dreamed live: each frame "
    "carries the last one's dream along the motion. Change the settings while live; **Stop** "
    "ends it and frees the device for others."
)


class LiveDesk:
    """Who is live now (one browser session at a time) and their dreamer, free of Gradio."""

    def __init__(self, stale_s: float = STALE_S) -> None:
        self._lock = threading.Lock()
        self.stale_s = stale_s
        self.holder: str | None = None
        self.seen = 0.0
        self.key: tuple = ()
        self.dreamer: CoherentDreamer | None = None
        self.cancel = threading.Event()
        self.frames = 0
        self.started = 0.0

    def claim(self, session: str) -> bool:
        """Whether ``session`` may dream live now (it holds the desk, or the desk is free)."""
        with self._lock:
            now = time.monotonic()
            if self.holder not in (None, session) and now - self.seen < self.stale_s:
                return False
            if self.holder != session:
                self.holder, self.key, self.dreamer, self.frames = session, (), None, 0
                self.cancel, self.started = threading.Event(), now
            self.seen = now
            return True

    def release(self, session: str) -> bool:
        """Free the desk if ``session`` holds it; its dream in progress stops."""
        with self._lock:
            if self.holder != session:
                return False
            self.cancel.set()
            self.holder, self.dreamer, self.key = None, None, ()
            return True

    def status(self) -> str:
        fps = self.frames / max(time.monotonic() - self.started, 1e-6)
        return f"live: {self.frames} frames dreamed ({fps:.1f} fps)"


class LiveTab:
    """The Live tab's components and handlers on ``studio``."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.form = SettingsForm(studio, "live_", LIVE_PAGE_DEFAULTS, OPEN_GROUPS)
        self.desk = LiveDesk()

    def draw(self, options: Sequence[Any]) -> None:
        """The camera and the form on the left, the live dream on the right."""
        with gr.Tab("Live"), gr.Row():
            with gr.Column(scale=5):
                self.camera = gr.Image(
                    sources=["webcam"],
                    streaming=True,
                    type="numpy",
                    label="Your camera",
                    elem_id="live-camera",
                )
                self.form.draw(options)
            with gr.Column(scale=6):
                gr.Markdown(INTRO)
                self.stop_btn = gr.Button("Stop", variant="stop", elem_id="live_stop")
                self.status = gr.Textbox(label="Live", interactive=False, elem_id="live_status")
                self.output = gr.Image(
                    label="The dream, live",
                    interactive=False,
                    streaming=True,
                    elem_id="live-output",
                    format="jpeg",
                )

    def wire(self) -> Any:
        """The camera's stream (returns its event, which Stop cancels) and Stop."""
        self.form.wire()
        inputs = [self.camera, *self.form.inputs]

        def live_fn(request: gr.Request, *values: Any) -> tuple[Any, str]:
            data = dict(zip(inputs, values, strict=True))
            return self.frame(request.session_hash or "anonymous", data[self.camera], data)

        event = self.camera.stream(
            live_fn,
            inputs,
            [self.output, self.status],
            stream_every=STREAM_EVERY_S,
            time_limit=TIME_LIMIT_S,
            concurrency_limit=1,
            show_progress="hidden",
            api_name=False,
        )

        def stop_fn(request: gr.Request) -> str:
            session = request.session_hash or "anonymous"
            self.studio.stop(session)
            return "stopped" if self.desk.release(session) else "nothing to stop"

        self.stop_btn.click(stop_fn, None, self.status, queue=False, cancels=[event])
        return event

    def frame(self, session: str, rgb: np.ndarray | None, data: dict) -> tuple[Any, str]:
        """One camera frame of ``session`` dreamed, or why not (busy, bad settings)."""
        if rgb is None:
            return gr.update(), ""
        if not self.desk.claim(session):
            return gr.update(), "busy: another visitor is dreaming live; try again soon"
        try:
            dreamer, rgb = self._dreamer(data, rgb)
            with self.studio.job(session):
                dream = dreamer.dream(self.desk.frames, rgb)
        except Cancelled:
            return gr.update(), "stopped"
        except DreamError as e:
            return gr.update(), page_message(e)
        self.desk.frames += 1
        return dream.rgb, self.desk.status()

    def _dreamer(self, data: dict, rgb: np.ndarray) -> tuple[CoherentDreamer, np.ndarray]:
        """The desk's dreamer for these settings and frame size (a new one when either
        changed: the dream starts afresh) and the frame at the recipe's size."""
        cfg, run, _guide = self.form.recipe(data)
        rgb = fit(np.asarray(rgb, np.uint8)[..., :3], cfg.max_side)
        key = (repr(cfg.to_dict()), rgb.shape)
        desk = self.desk
        if desk.dreamer is None or desk.key != key:
            settings = LiveSettings()
            loop = frame_loop(cfg, settings, rgb.shape[:2], device=self.studio.device, warm=False)
            desk.dreamer, desk.key = CoherentDreamer(loop, desk.cancel), key
        del run
        return desk.dreamer, rgb
