"""A clip as the Video tab asks for it, free of Gradio: the video options the page shows, the
video settings from its fields, and ``dream_video`` (the code path of ``deepdream video``) run
in a thread of its own, its callbacks relayed as events."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from inceptionism.config import DreamConfig
from inceptionism.frontends.web.recipe import field_value
from inceptionism.frontends.web.studio import Job, Studio, Upload
from inceptionism.io.video import parse_time
from inceptionism.options import PYTHON, VIDEO_OPTION, VIDEO_OPTIONS
from inceptionism.video.clip import dream_video

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
    return [o for o in VIDEO_OPTIONS if PYTHON in o.where]


def video_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """``dream_video``'s video keywords from the video fields (option name -> field value),
    each checked by its declaration, times read as the command reads them."""
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
