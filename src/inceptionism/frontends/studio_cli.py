"""``deepdream ui`` (the web studio) and ``deepdream atlas`` (a labelled contact sheet of what
each layer, or each channel of one layer, paints on a picture)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _option(parser: argparse.ArgumentParser, name: str, **override: Any) -> None:
    """A dream option's flag as ``deepdream dream`` has it: type, help and metavar from the
    options schema (``override`` changes what differs here, e.g. a default)."""
    from inceptionism.frontends.arguments import word_parser
    from inceptionism.options import OPTION

    o = OPTION[name]
    kw: dict[str, Any] = {"dest": name, "type": word_parser(o), "help": o.help, "default": None}
    if o.metavar:
        kw["metavar"] = o.metavar
    kw.update(override)
    parser.add_argument(o.cli_flag, **kw)


def add_parsers(sub: Any, parser_class: type | None = None) -> None:
    """Add the ``ui`` and ``atlas`` subcommands to ``deepdream``'s subparsers."""
    from inceptionism.atlas import ATLAS_SIDE, DEFAULT_CHANNELS
    from inceptionism.config import DEFAULT_MODEL, DEFAULT_PRESET
    from inceptionism.frontends import web

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
    _option(u, "device", default="auto")
    u.add_argument(
        "--queue",
        type=int,
        default=web.DEFAULT_QUEUE,
        metavar="N",
        help="dreams that may wait for the device (default %(default)s)",
    )

    a = sub.add_parser(
        "atlas",
        help="a contact sheet: one small dream per layer, or per channel of one layer",
        description="Dream a small copy of IMAGE once per layer of the model (or once per "
        "channel of --layer) and lay the results out, labelled, on one sheet.",
    )
    a._sub = "atlas"
    a.add_argument("input", metavar="IMAGE", help="the picture")
    a.add_argument("-o", "--output", required=True, help="the sheet (PNG, JPEG, WebP, TIFF)")
    _option(a, "model", default=DEFAULT_MODEL)
    a.add_argument("--layer", help="one tile per channel of this layer (default: one per layer)")
    a.add_argument(
        "--channels",
        metavar="LIST",
        help=f"channels of --layer, e.g. 0-63 or 3,7,9 (default: the first {DEFAULT_CHANNELS})",
    )
    _option(a, "max_side", default=ATLAS_SIDE, help=f"size of each tile (default {ATLAS_SIDE})")
    _option(a, "preset", default=DEFAULT_PRESET)
    for name in ("octaves", "iterations", "seed"):
        _option(a, name)
    a.add_argument("--columns", type=int, help="tiles per row (default: about square)")
    _option(a, "device", default="auto")
    _option(a, "weights")
    a.add_argument("--overwrite", action="store_true", help="replace an existing sheet")
    a.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def cmd_ui(args: argparse.Namespace) -> int:
    from inceptionism.frontends import web

    return web.serve(args.host, args.port, args.max_upload, args.device, args.queue)


def cmd_atlas(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np
    from tqdm import tqdm

    from inceptionism import io
    from inceptionism.atlas import (
        check_sheet,
        contact_sheet,
        dream_atlas,
        parse_channels,
        tiles_for,
    )
    from inceptionism.config import make_config
    from inceptionism.errors import DreamError
    from inceptionism.session import shared_model

    out = io.check_output_path(args.output, args.input)
    if out.exists() and not args.overwrite:
        raise DreamError(f"{out} exists; pass --overwrite to replace it")
    cfg = make_config(
        args.preset,
        model=args.model,
        octaves=args.octaves,
        iterations=args.iterations,
        seed=args.seed,
        max_side=args.max_side,
    )
    channels = parse_channels(args.channels) if args.channels else None
    model = shared_model(cfg.model, args.weights)
    tiles = tiles_for(model.layer_info(), args.layer, channels)
    image = io.load_image(args.input, max_side=cfg.max_side)
    check_sheet(len(tiles), image.rgb.shape[:2], args.columns)  # before any dream
    done = []
    with tqdm(total=len(tiles), disable=args.quiet, unit="tile", file=sys.stderr) as bar:
        for tile, rgb in dream_atlas(image.rgb, model, cfg, tiles, device=args.device):
            done.append((tile.label, rgb))
            bar.set_postfix_str(tile.label, refresh=False)
            bar.update()
    what = f"{args.layer}, channels" if args.layer else "layers"
    sheet = contact_sheet(
        done, columns=args.columns, title=f"{cfg.model} · {what} · {Path(args.input).name}"
    )
    meta = {
        "atlas": {"model": cfg.model, "tiles": [t.label for t in tiles], "config": cfg.to_dict()}
    }
    io.save_image(out, np.asarray(sheet), None, meta)
    if not args.quiet:
        print(out)
    return 0


COMMANDS = {"ui": cmd_ui, "atlas": cmd_atlas}
