"""``deepdream dream``: one image, or a batch (several inputs, folders, patterns), locally or
on Ray (``--ray``). Outputs are written atomically, so a failed or interrupted dream never
leaves a partial file behind."""

from __future__ import annotations

import argparse
import contextlib
import copy
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

import inceptionism.frontends.cli.ray_flags as ray_flags
from inceptionism import io
from inceptionism.algorithm.facts import layer_facts
from inceptionism.algorithm.objectives import objective_for
from inceptionism.config import DreamConfig, make_config
from inceptionism.frontends import arguments, configfile
from inceptionism.frontends.cli.common import Parser, missing_input, spell
from inceptionism.io.files import RunInputs, next_free
from inceptionism.jobs import batch, cluster, ray_runtime
from inceptionism.jobs.batch import BatchRun
from inceptionism.jobs.filejob import dream_file
from inceptionism.session import Dreamer, DreamEvent, shared_model


def add_parsers(sub: Any, given_only: bool = False) -> None:
    """The ``dream`` command. ``given_only``: its defaults left out, so that parsing tells
    which options the command line set (they win over settings files)."""
    quiet = {"argument_default": argparse.SUPPRESS} if given_only else {}
    d = sub.add_parser("dream", help="dream on an image", **quiet)
    d._sub = "dream"
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
    arguments.add_arguments(d, defaults=not given_only)  # every dream option, from the schema
    configfile.add_arguments(d)
    d.add_argument(
        "--print-config", action="store_true", help="print the settings as TOML and exit"
    )
    ray_flags.add_arguments(d)


def given_options(argv: list[str]) -> set[str]:
    """The ``dream`` options that the command line ``argv`` set (no defaults filled in)."""
    p = Parser(prog="deepdream")
    add_parsers(p.add_subparsers(dest="command", required=True, parser_class=Parser), True)
    return set(vars(p.parse_args(argv)))


def cmd_dream_inputs(args: argparse.Namespace) -> int:
    """Settings files, then one input exactly as ``cmd_dream`` or several as a batch."""
    args = configfile.apply(args, given_options(args.argv))
    if args.print_config:
        return print_config(args)
    if ray_flags.wanted(args):
        return dream_on_ray(args)
    if not args.input:
        return missing_input("dream")
    if batch.is_batch(args.input):
        return dream_batch(args)
    args.input = args.input[0]
    return cmd_dream(args)


def print_config(args: argparse.Namespace) -> int:
    """``--print-config``: the settings as TOML, the layers checked as a dream would."""
    cfg = recipe(args)
    model = shared_model(cfg.model, args.weights)
    objective = objective_for(cfg, model)
    layer_facts(model, objective.layers, objective.min_size)  # the one check of layer names
    print(configfile.dumps(configfile.effective(args, cfg, model.default_layers)))
    return 0


def batch_run(args: argparse.Namespace) -> BatchRun:
    """The batch the flags ask for."""
    inputs = tuple(args.input)
    return BatchRun(inputs, args.output, args.overwrite, args.quiet, run_inputs(args), spell)


def dream_batch(args: argparse.Namespace) -> int:
    """Several inputs with the same settings, checked once before any work."""
    dreamer = dream_settings(args)
    run = batch_run(args)

    def dream_one(src: Path, out: Path) -> int:
        one = copy.copy(args)
        one.input, one.output = str(src), str(out)
        return cmd_dream(one, dreamer, run.reads)

    return batch.run_batch(run, dream_one)


def dream_on_ray(args: argparse.Namespace) -> int:
    """The batch spread over Ray: Ray there, and the settings checked, before it starts."""
    if not args.input:
        return missing_input("dream")
    ray_runtime.import_ray()
    cfg = recipe(args)
    return cluster.run(batch_run(args), ray_flags.ray_options(args), cfg)


def recipe(args: argparse.Namespace) -> DreamConfig:
    """The dream's recipe from the options (and settings files), checked."""
    values = arguments.recipe_values(args)
    return make_config(values.pop("preset"), **values, **getattr(args, "config_fields", {}))


def dream_settings(args: argparse.Namespace) -> Dreamer:
    """The session for the options: checked and set up once, before any input is read."""
    cfg = recipe(args)
    return Dreamer(
        cfg.model,
        cfg,
        device=args.device,
        precision=args.precision,
        weights=args.weights,
    )


class _DreamBar:
    """One dream's progress bar, drawn once the image is decoded (a bad file gets its one
    line, no bar); its ETA comes from the pixels done, not the steps: big octaves come last."""

    def __init__(self, stack: contextlib.ExitStack, dreamer: Dreamer, name: str, quiet: bool):
        self.stack, self.dreamer, self.name, self.quiet = stack, dreamer, name, quiet
        self.bar: Any = None
        self.shown = self.done = 0.0
        self.cost: list[float] = []  # a step's work per octave: about its megapixels
        self.total = 0

    def start(self, shape: tuple[int, int]) -> None:
        for note in self.dreamer.notes(shape):  # what runs otherwise than asked, before it runs
            print(f"deepdream: note: {self.name}: {note}", file=sys.stderr)
        self.cost[:] = [h * w / 1e6 for h, w in self.dreamer.octave_sizes(shape)]
        self.total = self.dreamer.total_steps(shape)
        self.bar = self.stack.enter_context(
            tqdm(
                total=sum(self.cost) * self.dreamer.recipe.iterations,
                disable=self.quiet,
                desc=f"{self.name} octave 1/{len(self.cost)} ",
                file=sys.stderr,
                dynamic_ncols=True,
                leave=None,  # below a batch's bar: cleared when done
                bar_format="{desc}{percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]",
            )
        )

    def progress(self, event: DreamEvent) -> None:
        bar = self.bar
        assert bar is not None
        self.done += self.cost[event.octave - 1]
        if event.result is not None:
            self.done = bar.total  # octaves max_loss ended early: the dream is done
        now = time.monotonic()
        if now - self.shown >= 0.5 or event.result is not None:  # a GPU loss waits for it
            self.shown = now
            bar.set_description_str(
                f"{self.name} octave {event.octave}/{event.octaves} ", refresh=False
            )
            bar.set_postfix_str(
                f"step {event.step}/{self.total}, loss {event.loss:.3f}", refresh=False
            )
        bar.update(self.done - bar.n)

    def interrupted(self) -> None:
        if self.bar is not None:
            self.bar.leave = False  # close() clears the line: the bar is drawn once, not twice


def cmd_dream(
    args: argparse.Namespace, dreamer: Dreamer | None = None, reads: RunInputs | None = None
) -> int:
    """One image dreamed and written; ``reads``: every file the run reads (a batch's)."""
    dreamer = dreamer or dream_settings(args)
    output = choose_output(args, reads if reads is not None else run_inputs(args))
    data = io.read_input(args.input)
    with contextlib.ExitStack() as stack:
        bars = _DreamBar(stack, dreamer, Path(args.input).name, args.quiet)
        progress: Callable[[DreamEvent], None] | None = None if args.quiet else bars.progress
        try:
            dreamed = dream_file(dreamer, data, args.input, output, progress, bars.start)
        except KeyboardInterrupt:
            bars.interrupted()
            raise
    for message in dreamed.warnings:  # after the bar is gone; shown even with --quiet
        print(f"deepdream: warning: {args.input}: {message}", file=sys.stderr)
    io.write_encoded(output, dreamed.data, overwrite=args.overwrite)
    if not args.quiet:
        tqdm.write(str(output), file=sys.stdout)
    return 0


def run_inputs(args: argparse.Namespace) -> RunInputs:
    """Every file this run reads: none of them may be written over, whatever the flags."""
    inputs = [args.input] if isinstance(args.input, str) else list(args.input or [])
    model = args.model or ""
    own_model = model.rpartition(":")[0] if model.rpartition(":")[0].endswith(".py") else None
    named = (args.guide, args.config, args.config_from, args.weights, own_model)
    return RunInputs([*inputs, *named])


def choose_output(args: argparse.Namespace, inputs: RunInputs) -> Path:
    """Where this dream goes, checked before it runs. An existing file is never replaced
    without ``--overwrite``: an explicit ``-o`` that exists is an error, and the default name
    moves on to the next free one (``photo.dream-2.png``), saying so."""
    if args.output:
        return io.check_output_path(
            args.output, args.input, inputs=inputs, overwrite=args.overwrite
        )
    default = io.default_output_path(args.input)
    output = default
    if not args.overwrite or default in inputs:
        output = next_free(default, inputs=inputs)
    if output != default:
        print(
            f"deepdream: {default} exists; writing {output.name} (--overwrite replaces it)",
            file=sys.stderr,
        )
    return io.check_output_path(output, args.input, inputs=inputs, overwrite=args.overwrite)


COMMANDS = {"dream": cmd_dream_inputs}
