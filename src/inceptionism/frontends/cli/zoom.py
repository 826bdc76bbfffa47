"""``deepdream zoom``: an endless zoom into a dreamed image."""

from __future__ import annotations

import argparse
import math
from typing import Any

from inceptionism.frontends.cli.common import note
from inceptionism.frontends.cli.video import (
    Bars,
    add_dream_options,
    add_video_options,
    clip_recipe,
    reads,
)
from inceptionism.io import video as vio
from inceptionism.video.zoom import DEFAULT_FPS, DEFAULT_ZOOM, dream_zoom


def _number(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return v


def _translate(text: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"need X,Y in pixels per second, got {text!r}")
    return _number(parts[0]), _number(parts[1])


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
    z.add_argument("--frames", type=int, required=True, metavar="N", help="number of frames")
    z.add_argument(
        "--fps", type=_number, default=DEFAULT_FPS, help=f"frame rate (default {DEFAULT_FPS})"
    )
    z.add_argument(
        "--zoom",
        type=_number,
        default=DEFAULT_ZOOM,
        metavar="Z",
        help=f"zoom factor per second (default {DEFAULT_ZOOM}; < 1 zooms out)",
    )
    z.add_argument(
        "--rotate",
        type=_number,
        default=0.0,
        metavar="DEG",
        help="degrees per second, counter-clockwise (default 0)",
    )
    z.add_argument(
        "--translate",
        type=_translate,
        default=(0.0, 0.0),
        metavar="X,Y",
        help="camera shift in pixels per second (default 0,0)",
    )
    add_dream_options(z)
    add_video_options(z, "frame_iterations", "crf")


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
            overwrite=args.overwrite,
            device=args.device,
            precision=args.precision,
            weights=args.weights,
            notify=note,
            reads=reads(args),
            on_frame=lambda _i, _f: bars.frame(),
            progress=None if args.quiet else bars.step,
        )
    finally:
        bars.close()
    if not args.quiet:
        print(out)
    return 0


COMMANDS = {"zoom": cmd_zoom}
