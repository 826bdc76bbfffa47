"""``deepdream layers``, ``models`` and ``classes``: what there is to dream with."""

from __future__ import annotations

import argparse
from typing import Any

from inceptionism.api import get_model
from inceptionism.config import DEFAULT_MODEL
from inceptionism.models import REGISTRY
from inceptionism.models.classes import search
from inceptionism.models.custom import is_factory_name
from inceptionism.models.registry import get_spec


def add_parsers(sub: Any) -> None:
    """The ``layers``, ``models`` and ``classes`` commands."""
    lay = sub.add_parser("layers", help="list a model's layers with channels and stride")
    lay._sub = "layers"
    lay.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        metavar="NAME",
        help=f"a registered model (see `deepdream models`; default {DEFAULT_MODEL}), listed "
        "from its architecture with no weights needed, or your own FILE.py:FACTORY",
    )
    lay.add_argument(
        "--weights", metavar="FILE", help="list the layers of the model loaded with this file"
    )

    m = sub.add_parser("models", help="list the models and whether their weights are here")
    m._sub = "models"

    c = sub.add_parser("classes", help="list the ImageNet class names for --class")
    c._sub = "classes"
    c.add_argument("word", nargs="?", default="", help="only names containing this")


def cmd_layers(args: argparse.Namespace) -> int:
    """A registered model's layers come from its architecture alone (no weights, no network);
    a weights file or an own ``file.py:factory`` model is loaded, as its layout may differ."""
    if args.weights or is_factory_name(args.model):
        model = get_model(args.model, args.weights)
    else:
        model = get_spec(args.model).architecture()
    aliases: dict[str, list[str]] = {}
    for alias, name in model.aliases.items():
        aliases.setdefault(name, []).append(alias)
    print(f"{'layer':<16} {'channels':>8} {'stride':>6}  module")
    infos = model.layer_info()
    for li in infos:
        extra = f"  (also {', '.join(aliases[li.name])})" if li.name in aliases else ""
        stride = str(li.stride) if li.stride else "-"
        default = " *" if li.name in model.default_layers else ""
        print(f"{li.name:<16} {li.channels:>8} {stride:>6}  {li.module}{extra}{default}")
    if any(li.name in model.default_layers for li in infos):  # a legend with no star misleads
        print("* default layer")
    return 0


def cmd_models(_args: argparse.Namespace) -> int:
    """One row per registered model, columns as wide as their longest entry."""
    rows = [("model", "default layers", "weights", "description")]
    for spec in REGISTRY.values():
        here = "weights here" if spec.weights_here() else "weights not downloaded yet"
        layers = ", ".join(f"{k}={v:g}" for k, v in spec.default_layers.items())
        rows.append((spec.name, layers, here, spec.description))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[3]]))
    return 0


def cmd_classes(args: argparse.Namespace) -> int:
    """The ImageNet class names (those containing the word), with their index."""
    for i, name in search(args.word):
        print(f"{i:>4}  {name}")
    return 0


COMMANDS = {"layers": cmd_layers, "models": cmd_models, "classes": cmd_classes}
