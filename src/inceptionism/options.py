"""Every dream option, declared once.

:data:`OPTIONS` lists each option with its type, default, bounds or choices, help text, group,
and whether it belongs to the reproducible *recipe* (a :class:`~inceptionism.DreamConfig` field,
stored in every output) or to the *run* (device, precision, weights file, threads, quiet,
overwrite: how this machine computes it). Everything else is generated from it:

* the flags of ``deepdream dream`` and their help (:func:`add_arguments`);
* the keys of ``--config`` TOML files, their type checks and messages (:func:`from_file`), and
  ``--print-config`` (:func:`to_file`);
* the checks of ``DreamConfig`` and of the keywords of ``inceptionism.dream`` (:func:`check`,
  :func:`check_keywords`), so a bad value gets the same one-line message however it came in;
* a form: :meth:`Option.describe` gives a front end all it needs to draw a field.

Adding an option is one entry here (a recipe option is also a ``DreamConfig`` field, which a
test keeps in step with this list).
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import limits
from .errors import DreamError, quote, unknown_name
from .limits import check_count, check_text

#: The largest seed the random generators take (an unsigned 64-bit number).
SEED_MAX = 2**64 - 1
#: Most octaves a schedule may ask for. The reference uses 10 and the presets 3 or 4; even at a
#: scale of 1.1, 100 octaves shrink an image 13,780-fold, far below any layer's minimum size, so
#: a longer schedule is a mistake, and refusing it up front keeps a typo such as
#: ``--octaves 1000000000`` from building a huge pyramid (or overflowing ``scale ** octave``).
MAX_OCTAVES = 100
DEFAULT_MODEL = "efficientnet-lite0"
DEFAULT_PRESET = "default"
#: Arithmetic of the network on the device: auto = float32 for now (see
#: ``models.base.AUTO_CUDA_PRECISION``); bf16/fp16: CUDA autocast.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: Where an option can be given: the command line, a TOML settings file, Python keywords.
CLI, FILE, PYTHON = "cli", "file", "python"
EVERYWHERE = frozenset({CLI, FILE, PYTHON})
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
_KINDS = ("int", "float", "bool", "str", "path", "choice", "tile", "layers", "classes", "device")


@dataclass(frozen=True)
class Option:
    """One option. ``kind`` is one of ``int``, ``float``, ``bool``, ``str``, ``path`` (a file
    name), ``choice``, ``tile`` (``"auto"`` or pixels), ``layers`` / ``classes`` (weights by
    name) or ``device``. ``minimum``/``maximum`` bound numbers (``above``: the minimum itself is
    excluded); ``optional``: None is allowed (unset); ``recipe``: a DreamConfig field."""

    name: str
    kind: str
    default: Any
    help: str
    group: str
    recipe: bool
    minimum: float | None = None
    maximum: float | None = None
    above: bool = False
    finite: bool = True
    choices: Sequence[str] | Callable[[], Sequence[str]] | None = None
    optional: bool = False
    where: frozenset[str] = EVERYWHERE
    flag: str | None = None  # default: --name-with-dashes
    short: str | None = None
    metavar: str | None = None
    label: str | None = None  # in messages; default: the name with spaces
    need: str | None = None  # what a valid value is, when the bounds do not say it all
    key: str | None = None  # the key --print-config writes; default: the name

    # -- names --------------------------------------------------------------------------------
    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def file_key(self) -> str:
        """The key ``--print-config`` writes (``layer`` for layers, else the name); a file may
        also spell it as the name or the flag, with dashes or underscores."""
        return self.key or self.name

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ")

    def allowed(self) -> tuple[str, ...]:
        c = self.choices() if callable(self.choices) else self.choices
        return tuple(c or ())

    # -- what a valid value is ----------------------------------------------------------------
    def expected(self, where: str = PYTHON) -> str:
        """The type a value must have (in a type error), as said to the user."""
        if self.kind in ("layers", "classes"):
            if where == FILE:
                what = "NAME[:CH,...][=WEIGHT]" if self.kind == "layers" else "NAME|INDEX[=WEIGHT]"
                return f"a string {what}, a list of them, or a table of weights"
            if self.kind == "layers":
                return "a mapping of layer name to weight, e.g. {'block8': 1.0}"
            return "class names or indexes, or a mapping of them to weights"
        one = {
            "int": "a whole number",
            "float": "a number",
            "bool": "true or false",
            "tile": "'auto' or a whole number of pixels",
            "path": "a file name",
        }.get(self.kind, "a string")
        return f"{one} or none" if self.optional and where == PYTHON else one

    def requirement(self) -> str:
        """What a valid value is, bounds and all (in a value error, a help text, a form)."""
        if self.need:
            return self.need
        if self.kind == "choice":
            return "one of " + ", ".join(self.allowed())
        what = self.expected()
        if self.kind == "float" and self.finite:
            what = "a finite number"
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            return f"{what} from {_num(lo)} to {_num(hi)}"
        if lo is not None:
            return f"{what} {'>' if self.above else '>='} {_num(lo)}"
        return what

    def describe(self) -> dict[str, Any]:
        """Everything a front end needs to draw this option as a form field."""
        return {
            "name": self.name,
            "kind": self.kind,
            "default": self.default,
            "help": self.help,
            "group": self.group,
            "recipe": self.recipe,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "choices": list(self.allowed()) or None,
            "optional": self.optional,
            "requirement": self.requirement(),
        }

    # -- checking -------------------------------------------------------------------------------
    def wrong_type(self, value: Any, spelled: str | None = None, where: str = PYTHON) -> DreamError:
        what = self.requirement() if self.kind == "int" else self.expected(where)
        return DreamError(
            f"{spelled or self.name} must be {what}, got {type(value).__name__} {quote(value)}"
        )

    def invalid(self, value: Any) -> DreamError:
        return DreamError(f"invalid {self.title} {quote(value)}: need {self.requirement()}")

    def check(self, value: Any, spelled: str | None = None) -> Any:
        """``value`` checked (type, then bounds or choices) and normalised; one-line
        :class:`DreamError` otherwise. The one place an option's value is validated."""
        if value is None:
            if self.kind == "classes":
                return {}  # no classes
            if self.optional:
                return None
            raise self.wrong_type(value, spelled)
        return _CHECKS[self.kind](self, value, spelled)

    # -- the command line ---------------------------------------------------------------------
    def parse(self, text: str) -> Any:
        """A command-line word as this option's value (argparse's ``type``)."""
        try:
            if self.kind == "layers":
                return _layer_word(text)
            if self.kind == "classes":
                return _class_words(text)
            value = _from_text(self, text)
            return self.check(value) if self.kind == "choice" else value
        except DreamError as e:
            raise argparse.ArgumentTypeError(str(e)) from None


def _num(x: float) -> str:
    if x == SEED_MAX:
        return "2**64-1"
    return f"{x:g}"


def _bad_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _check_int(opt: Option, value: Any, spelled: str | None) -> int:
    if _bad_bool(value) or not isinstance(value, int):
        raise opt.wrong_type(value, spelled)
    _bounds(opt, value)
    return value


def _check_float(opt: Option, value: Any, spelled: str | None) -> float:
    if _bad_bool(value) or not isinstance(value, (int, float)):
        raise opt.wrong_type(value, spelled)
    value = float(value)
    if math.isnan(value) or (opt.finite and math.isinf(value)):
        raise opt.invalid(value)
    _bounds(opt, value)
    return value


def _bounds(opt: Option, value: float) -> None:
    lo, hi = opt.minimum, opt.maximum
    if lo is not None and (value <= lo if opt.above else value < lo):
        raise opt.invalid(value)
    if hi is not None and value > hi:
        raise opt.invalid(value)


def _check_bool(opt: Option, value: Any, spelled: str | None) -> bool:
    if not isinstance(value, bool):
        raise opt.wrong_type(value, spelled)
    return value


def _check_str(opt: Option, value: Any, spelled: str | None) -> str:
    if not isinstance(value, str):
        raise opt.wrong_type(value, spelled)
    if not value:
        raise opt.invalid(value)
    return check_text(value, spelled or opt.title)


def _check_path(opt: Option, value: Any, spelled: str | None) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    return _check_str(opt, value, spelled)


def _check_choice(opt: Option, value: Any, spelled: str | None) -> str:
    value = _check_str(opt, value, spelled)
    allowed = opt.allowed()
    if value not in allowed:
        raise DreamError(
            f"unknown {opt.title} {quote(value)}: invalid choice (choose from {', '.join(allowed)})"
        )
    return value


def _check_device(opt: Option, value: Any, spelled: str | None) -> str:
    value = _check_str(opt, value, spelled)
    if not _DEVICE.fullmatch(value):
        raise DreamError(f"unknown device {quote(value)} (choose cpu, cuda, mps or auto)")
    return value


def _check_tile(opt: Option, value: Any, spelled: str | None) -> int | str:
    if value == "auto":
        return value
    if _bad_bool(value) or not isinstance(value, int):
        if isinstance(value, str):
            raise opt.invalid(value)
        raise opt.wrong_type(value, spelled)
    _bounds(opt, value)
    return value


def _weight(kind: str, key: Any, w: Any) -> float:
    if _bad_bool(w) or not isinstance(w, (int, float)):
        raise DreamError(f"invalid weight {quote(w)} for {kind} {quote(key)}: need a number")
    if not math.isfinite(w) or abs(w) > limits.MAX_WEIGHT:
        raise DreamError(
            f"invalid weight {quote(w)} for {kind} {quote(key)}: need a finite number from "
            f"-{limits.MAX_WEIGHT:g} to {limits.MAX_WEIGHT:g}"
        )
    return float(w)


def _check_layers(opt: Option, value: Any, spelled: str | None) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise opt.wrong_type(value, spelled)
    out = {}
    for key, w in check_count(value, "layers").items():
        if not isinstance(key, str) or not key:
            raise DreamError(f"invalid layer name {quote(key)}: need a string")
        check_text(key, "a layer name")
        out[key] = _weight("layer", key, w)
    return out


def _check_classes(opt: Option, value: Any, spelled: str | None) -> dict[str, float]:
    """Names or indexes (weight 1 each), one or a list of them, or a mapping to weights."""
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, (str, int)) and not _bad_bool(value):
        pairs = [(value, 1.0)]
    elif isinstance(value, (list, tuple)):
        pairs = [(v, 1.0) for v in value]
    else:
        raise opt.wrong_type(value, spelled)
    out: dict[str, float] = {}
    for key, w in check_count(pairs, "classes"):
        if _bad_bool(key) or not isinstance(key, (str, int)):
            raise DreamError(f"invalid class {quote(key)}: need a class name or index")
        check_text(str(key), "a class name")
        out[str(key)] = _weight("class", key, w)
    return out


_CHECKS: dict[str, Callable[[Option, Any, str | None], Any]] = {
    "int": _check_int,
    "float": _check_float,
    "bool": _check_bool,
    "str": _check_str,
    "path": _check_path,
    "choice": _check_choice,
    "device": _check_device,
    "tile": _check_tile,
    "layers": _check_layers,
    "classes": _check_classes,
}


# -- command-line words -----------------------------------------------------------------------


def _from_text(opt: Option, text: str) -> Any:
    if opt.kind == "int":
        try:
            return int(text)
        except ValueError:
            raise DreamError(f"not a whole number: {quote(text)}") from None
    if opt.kind == "float":
        return _finite(text)
    if opt.kind == "tile":
        if text == "auto":
            return text
        try:
            return int(text)  # its bounds: checked with the recipe, as from anywhere else
        except ValueError:
            raise DreamError(f"not 'auto' or a whole number: {quote(text)}") from None
    return text


def _finite(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise DreamError(f"not a number: {quote(text)}") from None
    if math.isnan(v):
        raise DreamError(f"not a number: {quote(text)}")
    return v


def _layer_word(text: str) -> tuple[str, float]:
    """``NAME[:CHANNEL[,CHANNEL...]][=WEIGHT]``, the key normalised (``block8:17,40``)."""
    from inceptionism.algorithm.objectives import parse_layer

    spec, _, weight = text.partition("=")
    if not spec:
        raise DreamError(f"empty layer name in {quote(text)}")
    name, chans = parse_layer(spec)
    key = f"{name}:{','.join(map(str, chans))}" if chans else name
    return key, _finite(weight) if weight else 1.0


def _class_words(text: str) -> list[tuple[str, float]]:
    """``NAME_OR_INDEX[=WEIGHT][,...]``: names are checked against the model later."""
    out = []
    for item in text.split(","):
        spec, _, weight = item.partition("=")
        if not spec.strip():
            raise DreamError(f"empty class in {quote(text)}")
        out.append((" ".join(spec.split()), _finite(weight) if weight else 1.0))
    return out


def summed(pairs: Iterable[tuple[str, float]] | None) -> dict[str, float] | None:
    """Repeated names add up: ``--layer a --layer a=2`` weighs a by 3."""
    if not pairs:
        return None
    out: dict[str, float] = {}
    for k, w in pairs:
        out[k] = out.get(k, 0.0) + w
    return out


# -- the options ------------------------------------------------------------------------------


def _presets() -> tuple[str, ...]:
    from .config import PRESETS

    return tuple(sorted(PRESETS))


OPTIONS: tuple[Option, ...] = (
    # what to dream with, and of
    Option(
        "model", "str", DEFAULT_MODEL, f"model name (default {DEFAULT_MODEL})", "model", True,
        metavar="MODEL",
    ),
    Option(
        "layers", "layers", None,
        "layer (or some of its channels) to amplify, repeatable (default: the model's)",
        "steering", True, optional=True, flag="--layer", metavar="NAME[:CH[,CH...]][=WEIGHT]",
        key="layer",
    ),
    Option(
        "classes", "classes", {}, "ImageNet class to dream of, e.g. 'tabby cat' or 281; "
        "repeatable or a,b", "steering", True, flag="--class", metavar="NAME|INDEX[=WEIGHT]",
        label="class",
    ),
    Option(
        "guide", "path", None, "dream towards the features of this image", "steering", True,
        optional=True, metavar="IMAGE",
    ),
    Option(
        "guide_layer", "str", None, "layer the guide is matched at (default: model's)",
        "steering", True, optional=True, metavar="NAME",
    ),
    Option(
        "guide_weight", "float", 1.0, "weight of the guide term (default 1)", "steering", True,
        minimum=-limits.MAX_WEIGHT, maximum=limits.MAX_WEIGHT, metavar="W",
    ),
    Option(
        "smooth", "float", 0.0, "blur the gradient, sigma in px (0: off)", "quality", True,
        minimum=0, maximum=limits.MAX_SMOOTH, metavar="SIGMA",
        need=f"a finite number from 0 to {limits.MAX_SMOOTH:g} (0: off)",
    ),
    Option(
        "lap_norm", "int", 0, "normalise the gradient over this many Laplacian-pyramid bands: "
        "less grain (0: off)", "quality", True, minimum=0, maximum=12, metavar="LEVELS",
        need="a whole number of levels from 0 to 12 (0: off)",
    ),
    Option("preserve_colors", "bool", False, "dream the luminance only", "quality", True),
    Option("clip", "bool", False, "keep pixels in 0..255 at every step", "quality", True),
    Option(
        "clip_knee", "float", 0.0, "with --clip: slow steps down over the last LEVELS levels "
        "before 0 and 255, so pixels don't pile up there (0: a hard clip)", "quality", True,
        minimum=0, maximum=64, metavar="LEVELS",
    ),
    # the schedule
    Option(
        "preset", "choice", DEFAULT_PRESET,
        f"settings to start from: {DEFAULT_PRESET} (tuned) or seed (the reference); each "
        "option below shows the value it gives (--preset NAME --help: that preset's)", "schedule",
        True, choices=_presets, optional=True, metavar="{default,seed}",
    ),
    Option(
        "octaves", "int", 10, "number of scales", "schedule", True, minimum=1,
        maximum=MAX_OCTAVES,
    ),
    Option(
        "octave_scale", "float", 1.2, "size ratio between scales (> 1)", "schedule", True,
        minimum=1, above=True, maximum=limits.MAX_OCTAVE_SCALE,
        need=f"a finite number > 1 and at most {limits.MAX_OCTAVE_SCALE:g}",
    ),
    Option(
        "iterations", "int", 10, "gradient steps per octave", "schedule", True, minimum=0,
        maximum=limits.MAX_ITERATIONS,
    ),
    Option(
        "step", "float", 0.01, "step size (in the model's input units; > 0: a dream ascends)",
        "schedule", True, minimum=0, above=True, maximum=limits.MAX_STEP,
        need=f"a finite number > 0 and at most {limits.MAX_STEP:g}",
    ),
    Option(
        "max_loss", "float", None, "stop an octave once the loss exceeds this (inf: off; "
        "default: the reference's 10 on inception-v1, off on other models)", "schedule",
        True, finite=False, label="max loss", optional=True,
        need="a number (inf disables the early stop)",
    ),
    Option(
        "jitter", "int", 0, "random roll in pixels per step (0: none)", "schedule", True,
        minimum=0, maximum=limits.MAX_PIXELS_SIDE,
        need=f"a whole number of pixels from 0 to {limits.MAX_PIXELS_SIDE}",
    ),
    Option(
        "seed", "int", 0, "random seed (same seed, same pixels)", "schedule", True, minimum=0,
        maximum=SEED_MAX,
    ),
    # how this machine runs it
    Option(
        "device", "device", "auto", "cpu, cuda, mps or auto (default)", "run", False,
        metavar="DEVICE",
    ),
    Option(
        "precision", "choice", "auto",
        "arithmetic: auto (default; float32 for now), fp32, bf16 (CUDA, or CPU: faster on "
        "big images, less exact), fp16 (CUDA)",
        "run", False, choices=PRECISIONS, metavar="{" + ",".join(PRECISIONS) + "}",
    ),
    Option(
        "weights", "path", None, "local weights file instead of the default source", "run",
        False, optional=True, metavar="WEIGHTS",
    ),
    Option(
        "threads", "int", None, "CPU threads for the network (default: the free cores)", "run",
        False, minimum=1, maximum=limits.MAX_THREADS, optional=True, metavar="N",
        need=f"a whole number of threads from 1 to {limits.MAX_THREADS}",
    ),
    # the size of the work
    Option(
        "max_side", "int", None, "shrink the input to at most this many px", "size", True,
        minimum=1, maximum=limits.MAX_PIXELS_SIDE, optional=True,
        need=f"a whole number of pixels from 1 to {limits.MAX_PIXELS_SIDE}",
    ),
    Option(
        "tile", "tile", "auto",
        "largest square the network sees at once: auto (default; from free memory), 0 = off",
        "size", True, minimum=0, maximum=limits.MAX_PIXELS_SIDE, metavar="PX",
        need=f"'auto', 0 (off) or a whole number of pixels up to {limits.MAX_PIXELS_SIDE}",
    ),
    # the command line's own
    Option(
        "quiet", "bool", False, "no progress bar", "run", False, where=frozenset({CLI}),
        short="-q",
    ),
    Option(
        "overwrite", "bool", False, "replace existing outputs (never an input); without it, -o "
        "must not exist, the default name moves on to NAME.dream-2.png, and a batch skips "
        "finished outputs", "run", False,
        where=frozenset({CLI}),
    ),
)  # fmt: skip

OPTION: dict[str, Option] = {o.name: o for o in OPTIONS}
RECIPE: tuple[Option, ...] = tuple(o for o in OPTIONS if o.recipe)
RUN: tuple[Option, ...] = tuple(o for o in OPTIONS if not o.recipe)


def cli_spelling(option: str, value: str = "") -> str:
    """An option as the ``deepdream`` command names it in a hint: ``--weights FILE``."""
    if option == "class_names":
        return "deepdream classes"
    flag = OPTION[option].cli_flag if option in OPTION else "--" + option.replace("_", "-")
    return f"{flag} {value}" if value else flag


def where(context: str) -> tuple[Option, ...]:
    """The options a front end takes (``cli``, ``file`` or ``python``), in order."""
    return tuple(o for o in OPTIONS if context in o.where)


def check(name: str, value: Any, spelled: str | None = None) -> Any:
    """``OPTION[name].check(value)``: the one validation of an option's value."""
    return OPTION[name].check(value, spelled)


def check_keywords(keywords: Mapping[str, Any], allowed: Iterable[Option] = RECIPE) -> None:
    """Python keywords: each must name an option (else the closest is suggested) of the right
    type and range."""
    known = {o.name: o for o in allowed if PYTHON in o.where}
    for key, value in keywords.items():
        if key not in known:
            raise unknown_name("option", key, known)
        known[key].check(value)


def defaults(preset: str | None = DEFAULT_PRESET, model: str | None = None) -> dict[str, Any]:
    """Each option's value when none is given: the preset's for the model, else the option's
    default (what a form shows before the user changes anything)."""
    from .config import make_config

    cfg = make_config(preset, model=model)
    return {o.name: getattr(cfg, o.name) if o.recipe else o.default for o in OPTIONS}


# -- argparse -----------------------------------------------------------------------------------


def add_arguments(
    parser: argparse.ArgumentParser,
    *,
    defaults: bool = True,
    options: Iterable[Option] | None = None,
) -> None:
    """One flag per command-line option, help from the schema. Recipe options default to None
    (not given: the preset's or the file's value applies), except ``preset``; run options to
    their default. ``defaults=False`` leaves defaults to the parser (to tell what was given).
    ``options``: other declarations than the dream's (``video.clip.VIDEO_OPTIONS``)."""
    for o in where(CLI) if options is None else (o for o in options if CLI in o.where):
        names = [o.short, o.cli_flag] if o.short else [o.cli_flag]
        kw: dict[str, Any] = {"dest": o.name, "help": o.help}
        if o.kind == "bool":
            kw["action"] = argparse.BooleanOptionalAction if o.recipe else "store_true"
            kw["default"] = None if o.recipe else o.default
        else:
            kw["type"] = o.parse
            kw["default"] = o.default if (not o.recipe or o.name == "preset") else None
            if o.metavar:
                kw["metavar"] = o.metavar
            if o.kind == "layers":
                kw["action"] = "append"
            elif o.kind == "classes":
                kw["action"] = "extend"
        if not defaults:
            kw.pop("default")
        parser.add_argument(*names, **kw)


def recipe_values(namespace: Any) -> dict[str, Any]:
    """The recipe options set in an argparse namespace (None: not given), weights summed."""
    out = {}
    for o in RECIPE:
        value = getattr(namespace, o.name, None)
        if o.kind in ("layers", "classes"):
            value = summed(value)
        out[o.name] = value
    return out


# -- settings files ---------------------------------------------------------------------------


#: Other spellings of file keys: each option's name, its flag's spelling, dashes for underscores.
def _file_keys() -> dict[str, Option]:
    keys: dict[str, Option] = {}
    for o in where(FILE):
        for k in (o.name, o.file_key, o.cli_flag[2:].replace("-", "_")):
            keys[k] = o
            keys[k.replace("_", "-")] = o
    return keys


def file_key_names() -> list[str]:
    """The keys a settings file may use (for the "did you mean" of an unknown one)."""
    names: list[str] = []
    for o in where(FILE):
        names += dict.fromkeys([o.file_key, o.name])
    return names


def from_file(data: Mapping[str, Any], label: str) -> dict[str, Any]:
    """Option name -> value (as the command line gives it) for a table of settings read from
    ``label`` (a TOML file, or a dream's metadata); one-line errors name the file and key."""
    keys = _file_keys()
    out: dict[str, Any] = {}
    for key, value in data.items():
        opt = keys.get(key) if isinstance(key, str) else None
        if opt is None:
            raise unknown_name(f"key in {label}", str(key), file_key_names())
        try:
            out[opt.name] = _file_value(opt, key, value)
            if not opt.recipe:  # no recipe checks it later: its range now
                out[opt.name] = opt.check(out[opt.name], key)
        except DreamError as e:
            raise DreamError(f"{label}: {e.message}", e.hint) from None
    return out


def _file_value(opt: Option, key: str, value: Any) -> Any:
    """A settings-file value in the form the command line gives it (a list of (name, weight)
    pairs for layers and classes), its type checked; bounds are checked with the recipe."""
    if opt.kind in ("layers", "classes"):
        parse = _layer_word if opt.kind == "layers" else _class_words
        if isinstance(value, Mapping):  # {block8 = 1.0}
            word = "layer" if opt.kind == "layers" else "class"
            return [(parse_key(opt, k), _weight(word, k, w)) for k, w in value.items()]
        items = value if isinstance(value, list) else [value]
        pairs: list[tuple[str, float]] = []
        for item in items:
            if opt.kind == "classes" and isinstance(item, int) and not _bad_bool(item):
                item = str(item)
            if not isinstance(item, str):
                raise opt.wrong_type(value, key, FILE)
            got = parse(item)
            pairs += got if isinstance(got, list) else [got]
        return pairs or None
    if opt.kind in ("int", "float", "bool") or (opt.kind == "tile" and value != "auto"):
        if opt.kind == "tile" and isinstance(value, str):
            raise opt.invalid(value)
        ok = {
            "int": lambda v: isinstance(v, int) and not _bad_bool(v),
            "tile": lambda v: isinstance(v, int) and not _bad_bool(v),
            "float": lambda v: isinstance(v, (int, float)) and not _bad_bool(v),
            "bool": lambda v: isinstance(v, bool),
        }[opt.kind]
        if not ok(value):
            raise opt.wrong_type(value, key, FILE)
        return float(value) if opt.kind == "float" else value
    if not isinstance(value, str):
        raise opt.wrong_type(value, key, FILE)
    return opt.check(value, key) if opt.kind in ("choice", "device") else value


def parse_key(opt: Option, key: str) -> str:
    """A table key of layers (``"block8:3"``) normalised as the command line does."""
    if opt.kind == "layers":
        return _layer_word(key)[0]
    return " ".join(str(key).split())


def to_file(values: Mapping[str, Any]) -> dict[str, Any]:
    """Option name -> value, as the keys and values ``--print-config`` writes (weights as
    ``NAME=WEIGHT`` strings), in the options' order; None (unset) left out."""
    out: dict[str, Any] = {}
    for o in where(FILE):
        value = values.get(o.name)
        if o.kind in ("layers", "classes") and value is not None:
            value = [f"{n}={_short(w)}" for n, w in dict(value).items()] or None
        if value is not None:
            out[o.file_key] = value
    return out


def _short(w: float) -> str:
    return f"{w:g}" if float(f"{w:g}") == w else repr(float(w))
