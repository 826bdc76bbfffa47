"""The ``deepdream`` command: ``dream``, ``layers`` and ``models``.

User errors print one line on stderr and exit non-zero; outputs are written atomically, so a
failed or interrupted dream never leaves a partial file behind.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from inceptionism import __version__
from inceptionism.config import (
    DEFAULT_MODEL,
    DEFAULT_PRESET,
    PRECISIONS,
    PRESETS,
    DreamConfig,
    make_config,
)
from inceptionism.errors import DreamError
from inceptionism.jobs import cluster

if TYPE_CHECKING:
    from inceptionism.session import Dreamer, DreamEvent

EXIT_ERROR = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(
            f"deepdream: error: {message} (see deepdream {self._sub} --help)"
            if getattr(self, "_sub", "")
            else f"deepdream: error: {message}",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_USAGE)


def _finite(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if math.isnan(v):
        raise argparse.ArgumentTypeError(f"not a number: {text!r}")
    return v


def _layer(text: str) -> tuple[str, float]:
    """``NAME[:CHANNEL[,CHANNEL...]][=WEIGHT]``, the key normalised (``block8:17,40``)."""
    from inceptionism.algorithm.objectives import parse_layer

    spec, _, weight = text.partition("=")
    if not spec:
        raise argparse.ArgumentTypeError(f"empty layer name in {text!r}")
    try:
        name, chans = parse_layer(spec)
    except DreamError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    key = f"{name}:{','.join(map(str, chans))}" if chans else name
    return key, _finite(weight) if weight else 1.0


def _classes(text: str) -> list[tuple[str, float]]:
    """``NAME_OR_INDEX[=WEIGHT][,...]``: names are checked against the model later."""
    out = []
    for item in text.split(","):
        spec, _, weight = item.partition("=")
        if not spec.strip():
            raise argparse.ArgumentTypeError(f"empty class in {text!r}")
        out.append((" ".join(spec.split()), _finite(weight) if weight else 1.0))
    return out


def _summed(pairs: Sequence[tuple[str, float]] | None) -> dict[str, float] | None:
    """Repeated names add up: ``--layer a --layer a=2`` weighs a by 3."""
    if not pairs:
        return None
    out: dict[str, float] = {}
    for k, w in pairs:
        out[k] = out.get(k, 0.0) + w
    return out


def _add_steering(d: argparse.ArgumentParser) -> None:
    """What to dream of, and the quality controls (docs/steer.md)."""
    d.add_argument(
        "--class",
        dest="classes",
        action="extend",
        type=_classes,
        metavar="NAME|INDEX[=WEIGHT]",
        help="ImageNet class to dream of, e.g. 'tabby cat' or 281; repeatable or a,b",
    )
    d.add_argument("--guide", metavar="IMAGE", help="dream towards the features of this image")
    d.add_argument(
        "--guide-layer", metavar="NAME", help="layer the guide is matched at (default: model's)"
    )
    d.add_argument(
        "--guide-weight", type=_finite, metavar="W", help="weight of the guide term (default 1)"
    )
    d.add_argument(
        "--smooth", type=_finite, metavar="SIGMA", help="blur the gradient, sigma in px (0: off)"
    )
    b = argparse.BooleanOptionalAction
    d.add_argument("--preserve-colors", action=b, help="dream the luminance only")
    d.add_argument("--clip", action=b, help="keep pixels in 0..255 at every step")


def _tile(text: str) -> int | str:
    """``auto`` or a whole number of pixels >= 0 (0: no tiling)."""
    if text == "auto":
        return text
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not 'auto' or a whole number: {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"need 'auto', 0 (off) or pixels > 0, got {text!r}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="deepdream", description="Deep Dream (Inceptionism) on photos.")
    p.add_argument("--version", action="version", version=f"inceptionism {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    d = sub.add_parser("dream", help="dream on an image")
    d._sub = "dream"  # type: ignore[attr-defined]
    d.add_argument(
        "input",
        nargs="*",
        help="image file (JPEG, PNG, WebP, TIFF, BMP, GIF); several files, folders or quoted "
        "glob patterns dream as a batch",
    )
    d.add_argument(
        "-o",
        "--output",
        help="output file (default: INPUT.dream.png beside it); for a batch, a folder "
        "(created if missing)",
    )
    d.add_argument("--model", default=None, help=f"model name (default {DEFAULT_MODEL})")
    d.add_argument(
        "--layer",
        action="append",
        type=_layer,
        metavar="NAME[:CH[,CH...]][=WEIGHT]",
        help="layer (or some of its channels) to amplify, repeatable (default: the model's)",
    )
    _add_steering(d)
    d.add_argument(
        "--preset",
        default=DEFAULT_PRESET,
        choices=sorted(PRESETS),
        help=f"settings to start from (default {DEFAULT_PRESET}; 'seed' = reference)",
    )
    d.add_argument("--octaves", type=int, help="number of scales")
    d.add_argument("--octave-scale", type=_finite, help="size ratio between scales (> 1)")
    d.add_argument("--iterations", type=int, help="gradient steps per octave")
    d.add_argument("--step", type=_finite, help="step size (in the model's input units)")
    d.add_argument("--max-loss", type=_finite, help="stop an octave once the loss exceeds this")
    d.add_argument("--jitter", type=int, help="random roll in pixels per step (0: none)")
    d.add_argument("--seed", type=int, help="random seed (same seed, same pixels)")
    d.add_argument("--device", default="auto", help="cpu, cuda, mps or auto (default)")
    d.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help="arithmetic on the device: auto (default; float32 for now), fp32, bf16/fp16 (CUDA)",
    )
    d.add_argument("--weights", help="local weights file instead of the default source")
    d.add_argument("--max-side", type=int, help="shrink the input to at most this many px")
    d.add_argument(
        "--tile",
        type=_tile,
        metavar="PX",
        help="largest square the network sees at once: auto (default; from free memory), 0 = off",
    )
    d.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    d.add_argument("--overwrite", action="store_true", help="batch: redo finished outputs")
    src = d.add_mutually_exclusive_group()
    src.add_argument("--config", metavar="FILE.toml", help="settings file (flags override it)")
    src.add_argument(
        "--config-from", metavar="DREAM", help="the settings stored in a dream made by deepdream"
    )
    d.add_argument(
        "--print-config", action="store_true", help="print the settings as TOML and exit"
    )
    cluster.add_arguments(d)

    lay = sub.add_parser("layers", help="list a model's layers with channels and stride")
    lay._sub = "layers"  # type: ignore[attr-defined]
    lay.add_argument("--model", default=DEFAULT_MODEL)
    lay.add_argument("--weights", help="local weights file")

    m = sub.add_parser("models", help="list the models and whether their weights are here")
    m._sub = "models"  # type: ignore[attr-defined]

    c = sub.add_parser("classes", help="list the ImageNet class names for --class")
    c._sub = "classes"  # type: ignore[attr-defined]
    c.add_argument("word", nargs="?", default="", help="only names containing this")
    return p


def cmd_dream_inputs(args: argparse.Namespace) -> int:
    """Settings files, then one input exactly as ``cmd_dream`` or several as a batch."""
    from inceptionism.frontends import configfile
    from inceptionism.jobs import batch, cluster

    args = configfile.apply(args, args.argv, build_parser)
    if args.print_config:
        from inceptionism.session import shared_model

        cfg = recipe(args)
        model = shared_model(cfg.model, args.weights)
        actions = configfile.setting_actions(build_parser())
        print(configfile.dumps(configfile.effective(args, cfg, model.default_layers, actions)))
        return 0
    if cluster.wanted(args):
        return cluster.run(args, recipe)
    if not args.input:
        print(
            "deepdream: error: the following arguments are required: input "
            "(see deepdream dream --help)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if batch.is_batch(args.input):
        return batch.run(args, dream_settings, cmd_dream)
    args.input = args.input[0]
    return cmd_dream(args)


def recipe(args: argparse.Namespace) -> DreamConfig:
    """The dream's recipe from the options (and settings files), checked."""
    return make_config(
        args.preset,
        model=args.model,
        layers=_summed(args.layer),
        classes=_summed(args.classes),
        guide=args.guide,
        guide_layer=args.guide_layer,
        guide_weight=args.guide_weight,
        smooth=args.smooth,
        preserve_colors=args.preserve_colors,
        clip=args.clip,
        octaves=args.octaves,
        octave_scale=args.octave_scale,
        iterations=args.iterations,
        step=args.step,
        max_loss=args.max_loss,
        jitter=args.jitter,
        seed=args.seed,
        max_side=args.max_side,
        tile=args.tile,
        **getattr(args, "config_fields", {}),
    )


def dream_settings(args: argparse.Namespace) -> Dreamer:
    """The session for the options: checked and set up once, before any input is read."""
    from inceptionism.session import Dreamer

    cfg = recipe(args)
    return Dreamer(
        cfg.model,
        cfg,
        device=args.device,
        precision=args.precision,
        weights=args.weights,
    )


def cmd_dream(args: argparse.Namespace, dreamer: Dreamer | None = None) -> int:
    from tqdm import tqdm

    from inceptionism import io
    from inceptionism.jobs.filejob import dream_file

    dreamer = dreamer or dream_settings(args)
    output = io.check_output_path(args.output or io.default_output_path(args.input), args.input)
    data = io.read_input(args.input)
    with tqdm(
        total=None,  # the first step says how many
        disable=args.quiet,
        unit="step",
        desc=Path(args.input).name,
        file=sys.stderr,
        dynamic_ncols=True,
        leave=None,  # below a batch's bar: cleared when done
    ) as bar:
        shown = 0.0

        def progress(event: DreamEvent) -> None:
            nonlocal shown
            bar.total = event.total
            bar.update(event.step - bar.n)
            now = time.monotonic()
            if now - shown >= 0.5 or event.step == event.total:  # a GPU loss waits for it
                shown = now
                bar.set_postfix(loss=f"{event.loss:.3f}", refresh=False)

        done = dream_file(dreamer, data, args.input, output, None if args.quiet else progress)
    io.write_encoded(output, done.data)
    if not args.quiet:
        tqdm.write(str(output), file=sys.stdout)
    return 0


def cmd_layers(args: argparse.Namespace) -> int:
    from inceptionism.session import shared_model

    model = shared_model(args.model, args.weights)
    aliases: dict[str, list[str]] = {}
    for alias, name in model.aliases.items():
        aliases.setdefault(name, []).append(alias)
    print(f"{'layer':<16} {'channels':>8} {'stride':>6}  module")
    for li in model.layer_info():
        extra = f"  (also {', '.join(aliases[li.name])})" if li.name in aliases else ""
        stride = str(li.stride) if li.stride else "-"
        default = " *" if li.name in model.default_layers else ""
        print(f"{li.name:<16} {li.channels:>8} {stride:>6}  {li.module}{extra}{default}")
    print("* default layer")
    return 0


def cmd_models(_args: argparse.Namespace) -> int:
    from inceptionism.models import REGISTRY

    for spec in REGISTRY.values():
        here = "weights here" if spec.weights_here() else "weights not downloaded yet"
        layers = ", ".join(f"{k}={v:g}" for k, v in spec.default_layers.items())
        print(f"{spec.name:<20} {layers:<40} {here:<26} {spec.description}")
    return 0


def cmd_classes(args: argparse.Namespace) -> int:
    from inceptionism.models.classes import search

    for i, name in search(args.word):
        print(f"{i:>4}  {name}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)  # to tell flags from defaults
    commands = {
        "dream": cmd_dream_inputs,
        "layers": cmd_layers,
        "models": cmd_models,
        "classes": cmd_classes,
    }
    try:
        return commands[args.command](args)
    except DreamError as e:
        print(f"deepdream: error: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print("deepdream: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `deepdream layers | head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 0
    except MemoryError:
        print("deepdream: error: out of memory; try a smaller --max-side", file=sys.stderr)
    except OSError as e:
        print(
            f"deepdream: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr
        )
    except RuntimeError as e:
        if "out of memory" not in str(e):
            raise
        print("deepdream: error: out of memory; try a smaller --max-side", file=sys.stderr)
    return EXIT_ERROR
