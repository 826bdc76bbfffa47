"""``deepdream ui``: the web studio, served on this machine."""

from __future__ import annotations

import argparse
from typing import Any

from inceptionism.command_options import STUDIO_OPTIONS
from inceptionism.frontends import arguments, web


def add_parsers(sub: Any) -> None:
    """The ``ui`` command."""
    u = sub.add_parser(
        "ui",
        help="the web studio: upload, dream with live previews, stop, download",
        description="A local web page for dreaming. It listens on 127.0.0.1 only unless "
        "--host says otherwise.",
    )
    u._sub = "ui"
    arguments.add_arguments(u, options=STUDIO_OPTIONS)


def cmd_ui(args: argparse.Namespace) -> int:
    """Serve the studio until stopped."""
    return web.serve(args.host, args.port, args.max_upload, args.device, args.queue)


COMMANDS = {"ui": cmd_ui}
