"""``deepdream zoom``: an endless zoom into a dreamed image."""

from __future__ import annotations

import argparse
from typing import Any

from inceptionism.command_options import ZOOM_OPTIONS
from inceptionism.frontends import arguments
from inceptionism.frontends.cli.video import Bars, add_dream_options, clip_recipe, run_keywords
from inceptionism.io import video as vio
from inceptionism.video.zoom import dream_zoom

#: The camera's flags come before the dream's in ``--help``, the clip's two after them.
_CAMERA = tuple(o for o in ZOOM_OPTIONS if o.group == "zoom")
_CLIP = tuple(o for o in ZOOM_OPTIONS if o.group != "zoom")


def add_parsers(sub: Any) -> None:
    """The ``zoom`` command."""
    z = sub.add_parser(
        "zoom",
        help="endless zoom into a dreamed image",
        description="Dream an image, move the camera a little, dream again, and so on.",
    )
    z._sub = "zoom"
    z.add_argument("input", help="image file to start from")
    z.add_argument(
        "-o", "--output", required=True, help="output: .mp4, .webm, .gif, .webp or a folder"
    )
    arguments.add_arguments(z, options=_CAMERA)
    add_dream_options(z)
    arguments.add_arguments(z, options=_CLIP)


def cmd_zoom(args: argparse.Namespace) -> int:
    """The zoom dreamed frame by frame and written; its path printed."""
    cfg = clip_recipe(args)
    vio.output_kind(args.output)
    bars = Bars(args.frames, args.quiet)
    try:
        out = dream_zoom(
            args.input,
            args.output,
            cfg,
            frames=args.frames,
            fps=args.fps,
            zoom=args.zoom,
            rotate=args.rotate,
            translate=args.translate,
            frame_iterations=args.frame_iterations,
            crf=args.crf,
            **run_keywords(args),
            on_frame=lambda _i, _f: bars.frame(),
            progress=None if args.quiet else bars.step,
        )
    finally:
        bars.close()
    if not args.quiet:
        print(out)
    return 0


COMMANDS = {"zoom": cmd_zoom}
