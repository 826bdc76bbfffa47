"""The studio's page: :func:`build_app` puts the tabs together on a
:class:`~inceptionism.frontends.web.studio.Studio` with Stop, ``/steps`` and a closed tab's
dreams stopped (:mod:`.server` runs it).

This module imports Gradio: it is reached only through :func:`.server.serve`, which points
Gradio's temporary folder at the studio's and checks for the ``ui`` extra first.
"""

# No "from __future__ import annotations": Gradio reads the handlers' hints (gr.Request) at
# runtime.

from collections.abc import Sequence
from typing import Any

import gradio as gr

from inceptionism.frontends.web.atlas_tab import AtlasTab
from inceptionism.frontends.web.image_tab import ImageTab
from inceptionism.frontends.web.live_tab import LiveTab
from inceptionism.frontends.web.recipe import form_options
from inceptionism.frontends.web.studio import Studio
from inceptionism.frontends.web.video_tab import VideoTab
from inceptionism.frontends.web.widgets import CSS

__all__ = ["CSS", "build_app"]  # CSS: the server launches the page with it

INTRO = (
    "## deepdream studio\nDrop a picture (or use the sample), pick a model and layers, "
    "press **Dream** and watch it grow; **Stop** ends it within one step."
)


def build_app(studio: Studio) -> Any:
    """The Gradio page on ``studio``: the Image, Video and Layer atlas tabs, and the ``/steps``
    and ``/stop`` API endpoints the tests (and scripts) use."""
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

    def steps_fn(request: gr.Request) -> dict:
        return studio.steps(request.session_hash or "anonymous")

    gr.api(steps_fn, api_name="steps", queue=False)

    def left(request: gr.Request) -> None:
        """A closed or reloaded tab: its dreams stop (nobody is watching them)."""
        studio.stop(request.session_hash or "anonymous")

    app.unload(left)
