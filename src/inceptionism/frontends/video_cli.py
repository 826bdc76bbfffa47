"""``deepdream video`` and ``deepdream zoom``: dreamed clips and endless zooms.

Kept apart from ``cli.py`` (which only hooks them in) so the dream options come from the same
place as ``deepdream dream``'s and the video flags live beside the code they drive.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any


def _number(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return v


def _add_dream_options(p: argparse.ArgumentParser) -> None:
    """The dream options, as ``deepdream dream`` has them (generated from the schema), and the
    settings files that may set them."""
    from inceptionism.frontends import arguments, configfile

    arguments.add_arguments(p)
    configfile.add_arguments(p)


def _given(argv: list[str]) -> set[str]:
    """The dream options the command line set (they win over ``--config``/``--config-from``):
    the same flags parsed with no defaults, the command's own flags left aside."""
    from inceptionism.frontends import arguments

    p = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    arguments.add_arguments(p, defaults=False)
    for action in p._actions:
        action.default = argparse.SUPPRESS
    known, _ = p.parse_known_args(argv[1:])
    return set(vars(known))


def _video_options(p: argparse.ArgumentParser, *names: str) -> None:
    """Flags declared in ``options.VIDEO_OPTIONS`` (all, or those named)."""
    from inceptionism.frontends import arguments
    from inceptionism.options import VIDEO_OPTIONS

    chosen = [o for o in VIDEO_OPTIONS if not names or o.name in names]
    arguments.add_arguments(p, options=chosen)


def _translate(text: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"need X,Y in pixels per second, got {text!r}")
    return _number(parts[0]), _number(parts[1])


def add_parsers(sub: Any, parser_class: type | None = None) -> None:
    """Add the ``video`` and ``zoom`` subcommands to ``deepdream``'s subparsers."""
    from inceptionism.jobs import cluster_video
    from inceptionism.video.zoom import DEFAULT_FPS, DEFAULT_ZOOM

    v = sub.add_parser(
        "video",
        help="dream a video clip, frame to frame coherent (sound and timing kept)",
        description="Dream a clip. The dream follows the motion (optical flow), so it stays "
        "put on moving things; interrupted runs continue where they stopped.",
    )
    v._sub = "video"
    v.add_argument(  # optional for argparse only: `--ray clip.mp4` may have taken it (cmd_video)
        "input",
        nargs="?",
        help="video file (MP4, MOV, MKV, WebM, AVI, GIF) or a folder of frames",
    )
    v.add_argument(
        "-o",
        "--output",
        required=True,
        help="output: .mp4 (H.264), .webm (VP9), .gif, .webp, or a folder for PNG frames",
    )
    _add_dream_options(v)
    _video_options(v)
    cluster_video.add_arguments(v)

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
    _add_dream_options(z)
    _video_options(z, "frame_iterations", "crf")


def _config(args: argparse.Namespace) -> Any:
    """The recipe: settings files first (``--config``, ``--config-from``), flags over them."""
    from inceptionism.frontends import configfile
    from inceptionism.frontends.cli import recipe

    return recipe(configfile.apply(args, _given(args.argv)))


def _reads(args: argparse.Namespace) -> list[str | None]:
    """The files named on the command line that the run reads besides its input: never an
    output, whatever the flags (the run adds the input, the guide and the weights itself)."""
    return [args.config, args.config_from, args.guide, args.weights]


def _note(text: str) -> None:
    """Something the user should know (audio dropped, a pixel cropped): one line, not an error."""
    from tqdm import tqdm

    tqdm.write(f"deepdream: note: {text}", file=sys.stderr)


class _Bars:
    """A bar over frames (with an ETA) and one within the frame being dreamed."""

    def __init__(self, total: int | None, quiet: bool, unit: str = "frame") -> None:
        from tqdm import tqdm

        self.quiet = quiet
        kw: dict[str, Any] = {"file": sys.stderr, "dynamic_ncols": True, "disable": quiet}
        self.frames = tqdm(total=total, unit=unit, desc="frames", position=0, **kw)
        self.steps = tqdm(total=1, unit="step", desc="  frame", position=1, leave=False, **kw)

    def step(self, done: int, total: int) -> None:
        if self.steps.total != total:
            self.steps.reset(total=total)
        self.steps.update(done - self.steps.n)

    def frame(self, note: str = "") -> None:
        self.steps.reset()
        self.frames.update(1)
        if note:
            self.frames.set_postfix_str(note, refresh=False)

    def close(self) -> None:
        self.steps.close()
        self.frames.close()


def cmd_video(args: argparse.Namespace) -> int:
    from inceptionism.io import video as vio
    from inceptionism.jobs import cluster, cluster_video
    from inceptionism.video.clip import VIDEO_OPTIONS, dream_video

    on_ray = cluster.wanted(args)
    if args.input is None:
        print(
            "deepdream: error: the following arguments are required: input "
            "(see deepdream video --help)",
            file=sys.stderr,
        )
        return 2
    cfg = _config(args)
    if on_ray:
        out = cluster_video.run(args, cfg, _note)
        if not args.quiet:
            print(out)
        return 0
    bars: _Bars | None = None

    def on_start(job: Any) -> None:
        nonlocal bars
        bars = _Bars(job.clip.count, args.quiet)

    def on_frame(frame: Any, _job: Any) -> None:
        assert bars is not None
        status = "resumed" if frame.resumed else ("fresh" if frame.fresh and frame.index else "")
        bars.frame(status)

    def step(done: int, total: int) -> None:
        if bars is not None:
            bars.step(done, total)

    vio.output_kind(args.output)  # a bad extension fails before the model loads
    try:
        out = dream_video(
            args.input,
            args.output,
            cfg,
            **{o.name: getattr(args, o.name) for o in VIDEO_OPTIONS},
            overwrite=args.overwrite,
            device=args.device,
            precision=args.precision,
            weights=args.weights,
            notify=_note,
            reads=_reads(args),
            on_start=on_start,
            on_frame=on_frame,
            progress=None if args.quiet else step,
        )
    except KeyboardInterrupt:
        if bars is not None:
            bars.close()
        print("deepdream: interrupted; run the same command again to continue", file=sys.stderr)
        return 130
    finally:
        if bars is not None:
            bars.close()
    if not args.quiet:
        print(out)
    return 0


def cmd_zoom(args: argparse.Namespace) -> int:
    from inceptionism.io import video as vio
    from inceptionism.video.zoom import dream_zoom

    cfg = _config(args)
    vio.output_kind(args.output)
    bars = _Bars(args.frames, args.quiet)
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
            notify=_note,
            reads=_reads(args),
            on_frame=lambda _i, _f: bars.frame(),
            progress=None if args.quiet else bars.step,
        )
    finally:
        bars.close()
    if not args.quiet:
        print(out)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"video": cmd_video, "zoom": cmd_zoom}
