"""``deepdream atlas``: a labelled contact sheet of what each layer, or each channel of one
layer, paints on a picture."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from inceptionism import io
from inceptionism.atlas import check_sheet, contact_sheet, dream_atlas, parse_channels, tiles_for
from inceptionism.command_options import ATLAS_OPTIONS
from inceptionism.config import make_config
from inceptionism.errors import DreamError
from inceptionism.frontends import arguments
from inceptionism.session import shared_model


def add_parsers(sub: Any) -> None:
    """The ``atlas`` command."""
    a = sub.add_parser(
        "atlas",
        help="a contact sheet: one small dream per layer, or per channel of one layer",
        description="Dream a small copy of IMAGE once per layer of the model (or once per "
        "channel of --layer) and lay the results out, labelled, on one sheet.",
    )
    a._sub = "atlas"
    a.add_argument("input", metavar="IMAGE", help="the picture")
    a.add_argument("-o", "--output", required=True, help="the sheet (PNG, JPEG, WebP, TIFF)")
    arguments.add_arguments(a, options=ATLAS_OPTIONS)


def cmd_atlas(args: argparse.Namespace) -> int:
    """The sheet: every tile's dream, laid out and labelled, written once complete."""
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


COMMANDS = {"atlas": cmd_atlas}
