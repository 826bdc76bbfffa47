"""``--ray`` and its companions on ``deepdream dream`` and ``deepdream video``: the flags, and
the values of :mod:`inceptionism.jobs.cluster` built from them."""

from __future__ import annotations

import argparse
import re

from inceptionism.errors import DreamError
from inceptionism.jobs.cluster import RayOptions
from inceptionism.jobs.cluster_video import CHUNK_BOUNDS, DEFAULT_CROSSFADE, DEFAULT_WARM_UP

#: The options below: about a run, never a dream setting (config files, --print-config).
RUN_OPTIONS = {"ray", "workers", "shared_fs"}

_ADDRESS = re.compile(r"^(auto|local|ray://\S+|[\w.\-\[\]:]+:\d+)$")


def add_arguments(parser: argparse.ArgumentParser, what: str = "batch") -> None:
    """The options of a Ray run (not dream settings: never in a recipe); ``what`` is spread:
    ``batch`` (``deepdream dream``) or ``clip`` (``deepdream video``, whose frames the driver
    always ships: there ``--shared-fs`` is about the weights and guide only)."""
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help=f"spread the {what} over Ray: a local Ray without ADDRESS, or join one "
        "(auto, ray://HOST:PORT, HOST:PORT); pip install 'inceptionism[ray]'",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="--ray: N workers (default: one per GPU, or one per 4 CPU cores)",
    )
    parser.add_argument(
        "--shared-fs",
        action="store_true",
        help="--ray: the workers see the same files at the same paths; they read and write them"
        if what == "batch"
        else "--ray: the workers read --weights and --guide at the same paths (not shipped)",
    )


def add_clip_arguments(parser: argparse.ArgumentParser) -> None:
    """``deepdream video``'s Ray options."""
    add_arguments(parser, "clip")
    parser.add_argument(
        "--chunk-frames",
        type=int,
        metavar="K",
        help=f"--ray: frames per chunk (default: the clip split evenly over the workers, "
        f"{CHUNK_BOUNDS[0]} to {CHUNK_BOUNDS[1]})",
    )
    parser.add_argument(
        "--warm-up-frames",
        type=int,
        default=DEFAULT_WARM_UP,
        metavar="W",
        help=f"--ray: frames each chunk dreams before its own and drops, so its dream is "
        f"already carried along the motion at its start (default {DEFAULT_WARM_UP})",
    )
    parser.add_argument(
        "--crossfade-frames",
        type=int,
        default=DEFAULT_CROSSFADE,
        metavar="X",
        help=f"--ray: frames before each seam blended from both chunks, at most W and K "
        f"(default {DEFAULT_CROSSFADE})",
    )


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
