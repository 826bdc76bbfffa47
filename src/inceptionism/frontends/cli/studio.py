"""``deepdream ui``: the web studio, served on this machine."""

from __future__ import annotations

import argparse
from typing import Any

from inceptionism.frontends import web
from inceptionism.frontends.cli.common import add_schema_option


def add_parsers(sub: Any) -> None:
    """The ``ui`` command."""
    u = sub.add_parser(
        "ui",
        help="the web studio: upload, dream with live previews, stop, download",
        description="A local web page for dreaming. It listens on 127.0.0.1 only unless "
        "--host says otherwise.",
    )
    u._sub = "ui"
    u.add_argument(
        "--host", default=web.DEFAULT_HOST, help="address to listen on (default %(default)s)"
    )
    u.add_argument("--port", type=int, default=web.DEFAULT_PORT, help="port (default %(default)s)")
    u.add_argument(
        "--max-upload",
        default=web.DEFAULT_MAX_UPLOAD,
        metavar="SIZE",
        help="largest upload the server takes, e.g. 25MB (default %(default)s)",
    )
    add_schema_option(u, "device", default="auto")
    u.add_argument(
        "--queue",
        type=int,
        default=web.DEFAULT_QUEUE,
        metavar="N",
        help="dreams that may wait for the device (default %(default)s)",
    )


def cmd_ui(args: argparse.Namespace) -> int:
    """Serve the studio until stopped."""
    return web.serve(args.host, args.port, args.max_upload, args.device, args.queue)


COMMANDS = {"ui": cmd_ui}
