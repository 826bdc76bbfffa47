"""The studio's page and server: :func:`build_app` puts the tabs together on a
:class:`~inceptionism.frontends.web.studio.Studio` with Stop, ``/steps`` and a closed tab's
dreams stopped; :func:`serve` runs it until interrupted and removes its temporary folder.

Gradio is imported only when the page is built, after its temporary folder has been pointed at
ours.
"""

# No "from __future__ import annotations": Gradio reads the handlers' hints (gr.Request) at
# runtime.

import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from inceptionism.config import DEFAULT_MODEL, DEFAULT_PRESET, make_config
from inceptionism.errors import DreamError
from inceptionism.frontends.web.atlas_tab import AtlasTab
from inceptionism.frontends.web.image_tab import ImageTab
from inceptionism.frontends.web.live_tab import LiveTab
from inceptionism.frontends.web.recipe import form_options
from inceptionism.frontends.web.studio import (
    DEFAULT_HOST,
    DEFAULT_MAX_UPLOAD,
    DEFAULT_PORT,
    DEFAULT_QUEUE,
    Studio,
    is_loopback,
    parse_size,
)
from inceptionism.frontends.web.video_tab import VideoTab
from inceptionism.frontends.web.widgets import CSS

INTRO = (
    "## deepdream studio\nDrop a picture (or use the sample), pick a model and layers, "
    "press **Dream** and watch it grow; **Stop** ends it within one step."
)


def build_app(studio: Studio) -> Any:
    """The Gradio page on ``studio``: the Image, Video and Layer atlas tabs, and the ``/steps``
    and ``/stop`` API endpoints the tests (and scripts) use."""
    import gradio as gr

    options = form_options()
    with gr.Blocks(
        title="deepdream studio", analytics_enabled=False, delete_cache=(1800, 3600)
    ) as app:
        image = ImageTab(studio, gr.State([]))
        video = VideoTab(studio)
        atlas = AtlasTab(studio, image.form)
        gr.Markdown(INTRO)
        image.draw(options)
        video.draw(options)
        live = LiveTab(studio)
        live.draw(options)
        atlas.draw()
        # model and preset: the fields follow
        image.wire_fields([(atlas.layer, atlas.follow_model)])
        video.form.wire()
        image.wire_sample()
        atlas.wire_sample()
        image.wire_settings()  # settings from an uploaded dream (untrusted)
        events = [image.wire_dream(), atlas.wire(), video.wire(), live.wire()]
        wire_stops(studio, image, atlas, video, events)
        wire_session(studio, app)
    return app


def wire_stops(
    studio: Studio, image: ImageTab, atlas: AtlasTab, video: VideoTab, events: Sequence[Any]
) -> None:
    """Each tab's Stop sets the cancel flags of the session's jobs (the Image tab's is the
    ``/stop`` endpoint) and cancels their events."""
    import gradio as gr

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
        (image.stop_btn, stop_dream_fn, image.stop_outputs()),
        (atlas.stop_btn, stop_fn, atlas.status),
        (video.stop_btn, stop_fn, video.status),
    )
    for button, fn, out in stops:
        button.click(
            fn,
            None,
            out,
            api_name="stop" if button is image.stop_btn else False,
            queue=False,
            cancels=list(events),
        )


def wire_session(studio: Studio, app: Any) -> None:
    """The ``/steps`` endpoint (steps done for the session and in all), and a closed or
    reloaded tab's dreams stopped (nobody is watching them)."""
    import gradio as gr

    def steps_fn(request: gr.Request) -> dict:
        return studio.steps(request.session_hash or "anonymous")

    gr.api(steps_fn, api_name="steps", queue=False)

    def left(request: gr.Request) -> None:
        """A closed or reloaded tab: its dreams stop (nobody is watching them)."""
        studio.stop(request.session_hash or "anonymous")

    app.unload(left)


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
