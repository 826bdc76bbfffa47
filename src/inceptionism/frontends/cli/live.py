"""``deepdream live``: a camera, stream or file dreamed in real time, shown and recorded.

The engine is ``inceptionism.live``; this module only reads the command line, checks the
output before anything slow, and turns Ctrl-C into a clean end (the recording is finished and
playable, the stats line printed).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from inceptionism.command_options import LIVE_OPTIONS
from inceptionism.errors import DreamError
from inceptionism.frontends import arguments
from inceptionism.frontends.cli.common import note
from inceptionism.frontends.cli.video import add_dream_options, clip_recipe, reads
from inceptionism.io import video as vio
from inceptionism.live import record
from inceptionism.live.loop import LIVE_RECIPE, LiveSettings, frame_loop, run_live
from inceptionism.live.sources import open_source
from inceptionism.video.outputs import check_output, run_inputs

#: Its source and own flag come before the dream's in ``--help``, the clip's after them.
_SOURCE = tuple(o for o in LIVE_OPTIONS if o.positional)
_OWN = tuple(o for o in LIVE_OPTIONS if o.group == "live" and not o.positional)
_CLIP = tuple(o for o in LIVE_OPTIONS if o.group != "live")
LIVE_VIDEO_OPTIONS = tuple(o.name for o in _CLIP)


def add_parsers(sub: Any) -> None:
    """Add the ``live`` subcommand to ``deepdream``'s subparsers."""
    p = sub.add_parser(
        "live",
        help="dream a camera, stream or video file in real time",
        description="Dream a camera (or a stream, or a file played at its own rate) live: "
        "frames the dream has no time for are dropped, never queued; each dreamed frame "
        "carries the last one's dream along the motion. Ctrl-C ends it cleanly.",
    )
    p._sub = "live"
    arguments.add_arguments(p, options=_SOURCE)
    p.add_argument("-o", "--output", help="record the dream here (.mp4, .webm), with the sound")
    arguments.add_arguments(p, options=_OWN)
    add_dream_options(p)
    arguments.add_arguments(p, options=_CLIP)


@contextlib.contextmanager
def ctrl_c_sets(stop: threading.Event) -> Iterator[None]:
    """While live, the first Ctrl-C sets ``stop`` (the run ends cleanly within one step); a
    second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def first(_sig: int, _frame: Any) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _settings(args: argparse.Namespace) -> LiveSettings:
    duration = vio.parse_time(args.duration)
    if duration is not None and duration <= 0:
        raise DreamError(f"duration {args.duration!r}: need a time > 0")
    given = {
        name: getattr(args, name)
        for name in ("coherence", "flow_quality", "frame_iterations")
        if getattr(args, name) is not None
    }
    settings = LiveSettings(duration=duration, **given)
    settings.video().check()
    return settings


def _show(args: argparse.Namespace) -> Callable[[Any], bool] | None:
    """The window's show, or None (asked for none, or none can be opened: said once)."""
    if args.no_window:
        return None
    if not record.has_display():
        note("no display here (or OpenCV without its GUI): no window is shown")
        return None
    return record.Window().show


def cmd_live(args: argparse.Namespace) -> int:
    for name, value in LIVE_RECIPE.items():  # live's own defaults; flags and files win
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    cfg = clip_recipe(args)
    settings = _settings(args)
    out = None
    if args.output:
        vio.output_kind(args.output)
        local = args.source if Path(args.source).is_file() else None
        inputs = run_inputs(local, cfg, args.weights, reads(args))
        out = check_output(args.output, args.source, args.overwrite, inputs)
    source = open_source(args.source, cfg.max_side)
    stop = threading.Event()
    recorder = None
    try:
        loop = frame_loop(
            cfg,
            settings,
            (source.height, source.width),
            device=args.device,
            precision=args.precision,
            weights=args.weights,
        )
        if out is not None:
            recorder = record.Recorder(
                out, source, crf=args.crf, overwrite=args.overwrite, notify=note
            )
        show = _show(args)
        with ctrl_c_sets(stop):
            stats = run_live(source, loop, settings, stop, show, recorder and recorder.keep)
        if recorder is not None:
            recorder.close(stats.last_t)
    except BaseException:
        source.close()
        if recorder is not None:
            recorder.abort()
        raise
    where = f"; recorded to {out}" if out is not None else ""
    print(stats.line() + where, flush=True)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"live": cmd_live}
