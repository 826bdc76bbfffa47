"""The ``deepdream`` command: ``dream``, ``layers``, ``models``; ``video`` and ``zoom``.

User errors print one line on stderr and exit non-zero; outputs are written atomically, so a
failed or interrupted dream never leaves a partial file behind.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import faulthandler
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from inceptionism import __version__, runtime
from inceptionism.config import DEFAULT_MODEL, DEFAULT_PRESET, DreamConfig, make_config
from inceptionism.errors import DreamError, user_error
from inceptionism.frontends import studio_cli, video_cli
from inceptionism.jobs import cluster

if TYPE_CHECKING:
    from inceptionism.io.files import RunInputs
    from inceptionism.session import Dreamer, DreamEvent

EXIT_ERROR = 1
EXIT_USAGE = 2

#: The photo every example dreams on: the bundled sample, as pasted from the repository's root.
SAMPLE = "src/inceptionism/data/chelsea.png"
#: ``--help`` examples of ``deepdream`` (key "") and of each command; each line runs as pasted
#: from the repository's root, in the order shown (tests/test_recipe_caps.py parses them all,
#: runs the listings and checks each dream example's settings as a dream would).
EXAMPLES: dict[str, tuple[str, ...]] = {
    "": (
        f"deepdream dream {SAMPLE} -o cat.png",
        "deepdream layers",
        f"deepdream atlas {SAMPLE} -o atlas.png",
        f"deepdream zoom {SAMPLE} -o zoom.mp4 --frames 24",
        "deepdream ui",
    ),
    "dream": (
        f"deepdream dream {SAMPLE} -o cat.png",
        f"deepdream dream {SAMPLE} -o eyes.png --layer block6 --max-side 320",
        f"deepdream dream {SAMPLE} -o dogs.png --class 'golden retriever'",
        f"deepdream dream {SAMPLE} -o seed.png --preset seed --octaves 6",
        f"deepdream dream {SAMPLE} -o again.png --config-from cat.png",
        f"deepdream dream {SAMPLE} --preset seed --print-config > seed.toml",
    ),
    "layers": ("deepdream layers", "deepdream layers --model inception-v3"),
    "models": ("deepdream models",),
    "classes": ("deepdream classes", "deepdream classes cat"),
    "atlas": (
        f"deepdream atlas {SAMPLE} -o atlas.png",
        f"deepdream atlas {SAMPLE} -o block6.png --layer block6 --channels 0-7",
    ),
    "ui": ("deepdream ui", "deepdream ui --port 8080 --device cpu"),
    "zoom": (
        f"deepdream zoom {SAMPLE} -o zoom.mp4 --frames 24",
        f"deepdream zoom {SAMPLE} -o spin.gif --frames 24 --rotate 15 --max-side 256",
    ),
    "video": (
        f"deepdream zoom {SAMPLE} -o zoom.mp4 --frames 24   # a clip to dream on",
        "deepdream video zoom.mp4 -o dreamed.mp4",
        "deepdream video zoom.mp4 -o seed.mp4 --preset seed --octaves 2 --coherence 0.8",
    ),
}


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


def message(error: DreamError) -> str:
    """A library error in this command's terms (its hint names our flags)."""
    from inceptionism.options import cli_spelling

    return error.render(cli_spelling)


def build_parser(
    given_only: bool = False, preset: str | None = None, model: str | None = None
) -> argparse.ArgumentParser:
    """The ``deepdream`` parser. ``given_only``: the ``dream`` command's defaults left out, so
    that parsing tells which options the command line set (they win over settings files).
    ``preset``/``model``: whose values ``dream --help`` shows as each option's default."""
    from inceptionism import options
    from inceptionism.frontends import configfile

    quiet = {"argument_default": argparse.SUPPRESS} if given_only else {}
    p = _Parser(prog="deepdream", description="Deep Dream (Inceptionism) on photos.")
    p.add_argument("--version", action="version", version=f"inceptionism {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    d = sub.add_parser("dream", help="dream on an image", **quiet)
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
    options.add_arguments(d, defaults=not given_only)  # every dream option, from the schema
    if not given_only:
        _show_preset_values(d, preset, model)
    configfile.add_arguments(d)
    d.add_argument(
        "--print-config", action="store_true", help="print the settings as TOML and exit"
    )
    cluster.add_arguments(d)

    lay = sub.add_parser("layers", help="list a model's layers with channels and stride")
    lay._sub = "layers"  # type: ignore[attr-defined]
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
    m._sub = "models"  # type: ignore[attr-defined]

    c = sub.add_parser("classes", help="list the ImageNet class names for --class")
    c._sub = "classes"  # type: ignore[attr-defined]
    c.add_argument("word", nargs="?", default="", help="only names containing this")
    studio_cli.add_parsers(sub, _Parser)
    video_cli.add_parsers(sub, _Parser)
    if not given_only:
        for name in ("video", "zoom"):  # their dream options, like dream's, show the preset's
            _show_preset_values(sub.choices[name], preset, model)
    _add_examples(p, sub.choices)
    return p


def _add_examples(p: argparse.ArgumentParser, commands: dict[str, argparse.ArgumentParser]) -> None:
    """An "examples:" epilog under ``deepdream --help`` and each command's ``--help``."""
    for name, parser in [("", p), *commands.items()]:
        lines = EXAMPLES.get(name)
        if lines:
            parser.epilog = "examples:\n" + "\n".join(f"  {line}" for line in lines)
            parser.formatter_class = _ExamplesFormatter


class _ExamplesFormatter(argparse.HelpFormatter):
    """Wraps descriptions as usual but keeps the examples one command a line, as pasted."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _show_preset_values(d: argparse.ArgumentParser, preset: str | None, model: str | None) -> None:
    """Each recipe option's help ends with the value the preset gives it for the model (what
    leaving the flag out means), e.g. ``[default preset, efficientnet-lite0: 0.015]``."""
    from inceptionism import options

    try:
        cfg = make_config(preset or DEFAULT_PRESET, model=model)
    except DreamError:
        return  # an unknown preset or model: the dream itself will say so
    where = f"{cfg.preset} preset, {cfg.model}"
    for action in d._actions:
        o = options.OPTION.get(action.dest)
        if o is None or not o.recipe or o.name in ("model", "preset", "layers", "classes"):
            continue
        value = getattr(cfg, o.name)
        if value is None or action.help is None:
            continue
        if isinstance(value, bool):
            shown = "on" if value else "off"
        elif isinstance(value, float) and math.isinf(value):
            shown = "inf (off)"
        else:
            shown = f"{value:g}" if isinstance(value, float) else str(value)
        action.help = f"{action.help} [{where}: {shown}]"


def _help_context(argv: Sequence[str]) -> tuple[str | None, str | None]:
    """(preset, model) named on a command line that asks for help, for the values it shows."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--preset")
    pre.add_argument("--model")
    known, _ = pre.parse_known_args(list(argv))
    return known.preset, known.model


def cmd_dream_inputs(args: argparse.Namespace) -> int:
    """Settings files, then one input exactly as ``cmd_dream`` or several as a batch."""
    from inceptionism.frontends import configfile
    from inceptionism.jobs import batch, cluster

    given = set(vars(build_parser(given_only=True).parse_args(args.argv)))
    args = configfile.apply(args, given)
    if args.print_config:
        from inceptionism.algorithm.objectives import objective_for
        from inceptionism.session import shared_model

        cfg = recipe(args)
        model = shared_model(cfg.model, args.weights)
        for layer in objective_for(cfg, model).layers:  # checked as a dream would check them
            model.resolve(layer)
        print(configfile.dumps(configfile.effective(args, cfg, model.default_layers)))
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
        return batch.run_batch(args, dream_settings, cmd_dream)
    args.input = args.input[0]
    return cmd_dream(args)


def recipe(args: argparse.Namespace) -> DreamConfig:
    """The dream's recipe from the options (and settings files), checked."""
    from inceptionism.options import recipe_values

    values = recipe_values(args)
    return make_config(values.pop("preset"), **values, **getattr(args, "config_fields", {}))


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
    output = choose_output(args, getattr(args, "run_inputs", None) or run_inputs(args))
    data = io.read_input(args.input)
    name = Path(args.input).name
    with contextlib.ExitStack() as stack:
        bar = None  # drawn once the image is decoded: a bad file gets its one line, no bar
        shown = 0.0
        done = 0.0
        cost: list[float] = []  # a step's work per octave: about its megapixels
        total = 0

        def start(shape: tuple[int, int]) -> None:
            nonlocal total, bar
            for note in dreamer.notes(shape):  # what runs otherwise than asked, before it runs
                print(f"deepdream: note: {name}: {note}", file=sys.stderr)
            cost[:] = [h * w / 1e6 for h, w in dreamer.octave_sizes(shape)]
            total = dreamer.total_steps(shape)
            bar = stack.enter_context(
                tqdm(
                    total=sum(cost) * dreamer.recipe.iterations,
                    disable=args.quiet,
                    desc=f"{name} octave 1/{len(cost)} ",
                    file=sys.stderr,
                    dynamic_ncols=True,
                    leave=None,  # below a batch's bar: cleared when done
                    # the ETA comes from the pixels done, not the steps: big octaves come last
                    bar_format="{desc}{percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]",
                )
            )

        def progress(event: DreamEvent) -> None:
            nonlocal shown, done
            assert bar is not None
            done += cost[event.octave - 1]
            if event.result is not None:
                done = bar.total  # octaves max_loss ended early: the dream is done
            now = time.monotonic()
            if now - shown >= 0.5 or event.result is not None:  # a GPU loss waits for it
                shown = now
                bar.set_description_str(
                    f"{name} octave {event.octave}/{event.octaves} ", refresh=False
                )
                bar.set_postfix_str(
                    f"step {event.step}/{total}, loss {event.loss:.3f}", refresh=False
                )
            bar.update(done - bar.n)

        try:
            dreamed = dream_file(
                dreamer, data, args.input, output, None if args.quiet else progress, start
            )
        except KeyboardInterrupt:
            if bar is not None:
                bar.leave = False  # close() clears the line: the bar is drawn once, not twice
            raise
    for message in dreamed.warnings:  # after the bar is gone; shown even with --quiet
        print(f"deepdream: warning: {args.input}: {message}", file=sys.stderr)
    io.write_encoded(output, dreamed.data, overwrite=args.overwrite)
    if not args.quiet:
        tqdm.write(str(output), file=sys.stdout)
    return 0


def run_inputs(args: argparse.Namespace) -> RunInputs:
    """Every file this run reads: none of them may be written over, whatever the flags."""
    from inceptionism.io.files import RunInputs

    inputs = [args.input] if isinstance(args.input, str) else list(args.input or [])
    model = args.model or ""
    own_model = model.rpartition(":")[0] if model.rpartition(":")[0].endswith(".py") else None
    named = (args.guide, args.config, args.config_from, args.weights, own_model)
    return RunInputs([*inputs, *named])


def choose_output(args: argparse.Namespace, inputs: RunInputs) -> Path:
    """Where this dream goes, checked before it runs. An existing file is never replaced
    without ``--overwrite``: an explicit ``-o`` that exists is an error, and the default name
    moves on to the next free one (``photo.dream-2.png``), saying so."""
    from inceptionism import io
    from inceptionism.io.files import next_free

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


def cmd_layers(args: argparse.Namespace) -> int:
    """A registered model's layers come from its architecture alone (no weights, no network);
    a weights file or an own ``file.py:factory`` model is loaded, as its layout may differ."""
    from inceptionism.api import get_model
    from inceptionism.models.custom import is_factory_name
    from inceptionism.models.registry import get_spec

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
    from inceptionism.models import REGISTRY

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
    from inceptionism.models.classes import search

    for i, name in search(args.word):
        print(f"{i:>4}  {name}")
    return 0


class Terminated(BaseException):
    """SIGTERM, raised where the process is, so that cleanup runs as for Ctrl-C (a temporary
    file is removed, no partial output is left) and the exit status is 128 + 15."""


EXIT_TERMINATED = 128 + signal.SIGTERM
#: Seconds a terminated command has to clean up and exit; past them the process ends at once
#: (exit status 1), whatever it is waiting for: a hang in C code runs no Python at all.
TERMINATE_GRACE_S = 10.0
_watchdog_file: list = []  # the file faulthandler's timer writes to must stay open


def _raise_terminated(_signum: int, _frame: object) -> None:
    """The first SIGTERM cleans up and exits 143; a second one ends the process at once (the
    default action, which needs no Python), and so does the grace time running out."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if not _watchdog_file:
        _watchdog_file.append(open(os.devnull, "w"))  # noqa: SIM115
    faulthandler.dump_traceback_later(TERMINATE_GRACE_S, exit=True, file=_watchdog_file[0])
    raise Terminated


@contextlib.contextmanager
def sigterm_as_exception() -> Iterator[None]:
    """While running a command, SIGTERM raises :class:`Terminated` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    with sigterm_as_exception():
        try:
            return _main(argv)
        except Terminated:
            print("deepdream: terminated", file=sys.stderr)
            if argv is None:  # the process's own command (not a caller's): it ends now
                _exit_now(EXIT_TERMINATED)
            faulthandler.cancel_dump_traceback_later()  # a caller's process lives on
            return EXIT_TERMINATED


def _exit_now(code: int) -> None:
    """Exit hooks, flushed output, then the end, without the interpreter's tear-down: after
    a video or zoom it freed the model's objects one by one for 2 s of a busy machine, and a
    SIGTERM must end a run in moments. Every output was cleaned up where it was written."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    shown = _help_context(words) if {"-h", "--help"} & set(words) else (None, None)
    args = build_parser(preset=shown[0], model=shown[1]).parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)  # to tell flags from defaults
    commands = {
        "dream": cmd_dream_inputs,
        "layers": cmd_layers,
        "models": cmd_models,
        "classes": cmd_classes,
        **studio_cli.COMMANDS,
        **video_cli.COMMANDS,
    }
    try:
        runtime.replay_threads(None)  # --config-from sets it again for its dream
        if getattr(args, "threads", None) is not None:  # no recipe checks its range
            from inceptionism import options

            runtime.set_threads(options.check("threads", args.threads))
        return commands[args.command](args)
    except KeyboardInterrupt:
        print("deepdream: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `deepdream layers | head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 0
    except (DreamError, MemoryError, RuntimeError, OSError) as e:
        error = user_error(e)
        if error is None:
            raise
        print(f"deepdream: error: {message(error)}", file=sys.stderr)
    return EXIT_ERROR
