"""``deepdream video``: a dreamed clip, frame to frame coherent, here or on Ray; and what the
clip commands (``video``, ``zoom``) share: the dream options, settings files, progress bars."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tqdm import tqdm

import inceptionism.frontends.cli.ray_flags as ray_flags
from inceptionism.config import DreamConfig
from inceptionism.errors import DreamError
from inceptionism.frontends import arguments, configfile
from inceptionism.frontends.cli.common import EXIT_INTERRUPTED, missing_input, note, spell
from inceptionism.frontends.cli.dream import recipe, run_inputs
from inceptionism.io import video as vio
from inceptionism.jobs import cluster_video
from inceptionism.jobs.cluster_video import ClipRun
from inceptionism.options import VIDEO_OPTIONS
from inceptionism.video.clip import VideoSettings, dream_video


def add_dream_options(p: argparse.ArgumentParser) -> None:
    """The dream options, as ``deepdream dream`` has them (generated from the schema), and the
    settings files that may set them."""
    arguments.add_arguments(p)
    configfile.add_arguments(p)


def add_video_options(p: argparse.ArgumentParser, *names: str) -> None:
    """Flags declared in ``options.VIDEO_OPTIONS`` (all, or those named)."""
    chosen = [o for o in VIDEO_OPTIONS if not names or o.name in names]
    arguments.add_arguments(p, options=chosen)


def add_parsers(sub: Any) -> None:
    """The ``video`` command."""
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
    add_dream_options(v)
    add_video_options(v)
    ray_flags.add_clip_arguments(v)


def given_options(argv: list[str]) -> set[str]:
    """The dream options the command line set (they win over ``--config``/``--config-from``):
    the same flags parsed with no defaults, the command's own flags left aside."""
    p = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    arguments.add_arguments(p, defaults=False)
    for action in p._actions:
        action.default = argparse.SUPPRESS
    known, _ = p.parse_known_args(argv[1:])
    return set(vars(known))


def clip_recipe(args: argparse.Namespace) -> DreamConfig:
    """The recipe: settings files first (``--config``, ``--config-from``), flags over them."""
    return recipe(configfile.apply(args, given_options(args.argv)))


def run_keywords(args: argparse.Namespace) -> dict[str, Any]:
    """How a clip or zoom run computes and what it may replace, as ``dream_video`` and
    ``dream_zoom`` both take it: the same flags, read in one place."""
    return {
        "overwrite": args.overwrite,
        "device": args.device,
        "precision": args.precision,
        "weights": args.weights,
        "notify": note,
        "reads": reads(args),
    }


def reads(args: argparse.Namespace) -> list[str | None]:
    """The files named on the command line that the run reads besides its input: never an
    output, whatever the flags (the run adds the input, the guide and the weights itself)."""
    return [args.config, args.config_from, args.guide, args.weights]


class Bars:
    """A bar over frames (with an ETA) and one within the frame being dreamed."""

    def __init__(self, total: int | None, quiet: bool, unit: str = "frame") -> None:
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
    """The clip dreamed here, or on Ray with ``--ray``; its path printed."""
    on_ray = ray_flags.wanted(args)
    if args.input is None:
        return missing_input("video")
    cfg = clip_recipe(args)
    if on_ray:
        out = video_on_ray(args, cfg)
    else:
        out = dream_clip(args, cfg)
        if out is None:
            return EXIT_INTERRUPTED
    if not args.quiet:
        print(out)
    return 0


def video_on_ray(args: argparse.Namespace, cfg: DreamConfig) -> Any:
    """The clip in chunks on Ray (no work folder: it is written once complete, or not)."""
    if args.keep_frames:
        raise DreamError("--keep-frames: a --ray run keeps no work folder")
    run = ClipRun(
        args.input,
        args.output,
        args.overwrite,
        args.quiet,
        run_inputs(args),
        VideoSettings.from_values(vars(args)),
        args.crf,
        args.chunk_frames,
        args.warm_up_frames,
        args.crossfade_frames,
        spell,
    )
    return cluster_video.run(run, ray_flags.ray_options(args), cfg, note)


def dream_clip(args: argparse.Namespace, cfg: DreamConfig) -> Any:
    """The clip dreamed here, with its bars; None if interrupted (the work folder kept)."""
    bars: Bars | None = None

    def on_start(job: Any) -> None:
        nonlocal bars
        bars = Bars(job.clip.count, args.quiet)

    def on_frame(frame: Any, _job: Any) -> None:
        assert bars is not None
        status = "resumed" if frame.resumed else ("fresh" if frame.fresh and frame.index else "")
        bars.frame(status)

    def step(done: int, total: int) -> None:
        if bars is not None:
            bars.step(done, total)

    vio.output_kind(args.output)  # a bad extension fails before the model loads
    try:
        return dream_video(
            args.input,
            args.output,
            cfg,
            **{o.name: getattr(args, o.name) for o in VIDEO_OPTIONS},
            **run_keywords(args),
            on_start=on_start,
            on_frame=on_frame,
            progress=None if args.quiet else step,
        )
    except KeyboardInterrupt:
        if bars is not None:
            bars.close()
        print("deepdream: interrupted; run the same command again to continue", file=sys.stderr)
        return None
    finally:
        if bars is not None:
            bars.close()


COMMANDS = {"video": cmd_video}
