"""``--ray`` and its companions on ``deepdream dream`` and ``deepdream video``: the flags, and
the values of :mod:`inceptionism.jobs.cluster` built from them."""

from __future__ import annotations

import argparse
import re

from inceptionism.command_options import RAY_OPTIONS, RAY_VIDEO_OPTIONS
from inceptionism.errors import DreamError
from inceptionism.frontends import arguments
from inceptionism.jobs.cluster import RayOptions

#: The options of a Ray run: about a run, never a dream setting (config files, --print-config).
RUN_OPTIONS = frozenset(o.name for o in RAY_OPTIONS)

_ADDRESS = re.compile(r"^(auto|local|ray://\S+|[\w.\-\[\]:]+:\d+)$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``deepdream dream``'s Ray options (about a run, never in a recipe), from the schema."""
    arguments.add_arguments(parser, options=RAY_OPTIONS)


def add_clip_arguments(parser: argparse.ArgumentParser) -> None:
    """``deepdream video``'s Ray options (how the clip is cut into chunks too)."""
    arguments.add_arguments(parser, options=RAY_VIDEO_OPTIONS)


def wanted(args: argparse.Namespace) -> bool:
    """Whether this run goes to Ray; ``--ray photo.jpg`` takes the file back as an input."""
    address = getattr(args, "ray", None)
    if address is None:
        return False
    if address and not _ADDRESS.match(address):
        if isinstance(args.input, list):
            args.input = [address, *args.input]
        elif args.input is None:  # `deepdream video --ray clip.mp4 -o ...`: the one input
            args.input = address
        else:
            raise DreamError(
                f"--ray {address}: not a Ray address (auto, ray://HOST:PORT or HOST:PORT)"
            )
        args.ray = ""
    return True


def ray_options(args: argparse.Namespace) -> RayOptions:
    """The Ray run the flags ask for (after :func:`wanted`)."""
    return RayOptions(
        address=args.ray,
        workers=args.workers,
        shared_fs=args.shared_fs,
        device=args.device,
        precision=args.precision,
        weights=getattr(args, "weights", None),
        threads=getattr(args, "threads", None),
    )
