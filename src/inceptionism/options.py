"""Every option, declared once: the pure schema.

:data:`OPTIONS` lists each dream option with its type, default, bounds or choices, help text,
group, and whether it belongs to the reproducible *recipe* (a :class:`~inceptionism.DreamConfig`
field, stored in every output) or to the *run* (device, precision, weights file, threads, quiet,
overwrite: how this machine computes it); :data:`VIDEO_OPTIONS` those of a clip
(``deepdream video``, ``dream_video``). This module declares and checks them, and nothing else:

* :meth:`Option.check` (and :func:`check`, :func:`check_keywords`) is the one validation of a
  value, so a bad one gets the same one-line message however it came in;
* ``DreamConfig`` and ``VideoSettings`` take their fields from here;
* the front ends adapt it: ``frontends.arguments`` (flags), ``frontends.filekeys`` (TOML keys),
  the web form (:meth:`Option.describe`) and ``frontends.reference`` (the docs' option tables).

Adding an option is one entry here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import inceptionism.limits as limits

from .errors import DreamError, match_name, quote, unknown_name
from .option_checks import CHECKS

#: The largest seed the random generators take (an unsigned 64-bit number).
SEED_MAX = 2**64 - 1
#: Most octaves a schedule may ask for. The reference uses 10 and the presets 3 or 4; even at a
#: scale of 1.1, 100 octaves shrink an image 13,780-fold, far below any layer's minimum size, so
#: a longer schedule is a mistake, and refusing it up front keeps a typo such as
#: ``--octaves 1000000000`` from building a huge pyramid (or overflowing ``scale ** octave``).
MAX_OCTAVES = 100
DEFAULT_MODEL = "efficientnet-lite0"
#: The registered models' names (``models.registry`` holds their specs, and must name these):
#: declared here so that a recipe knows a model's one spelling without importing the models.
MODEL_NAMES = (
    "efficientnet-lite0",
    "efficientnet-lite1",
    "efficientnet-lite2",
    "inception-v1",
    "inception-v3",
    "vgg16",
    "vgg19",
    "resnet50",
)
DEFAULT_PRESET = "default"
#: The presets' names (``config.PRESETS`` holds their values, and must name these).
PRESET_NAMES = ("default", "seed")
#: Effort of a clip's optical flow (``video.flow``).
FLOW_QUALITIES = ("fast", "medium", "best")
DEFAULT_COHERENCE = 0.9  # measured: benchmarks/video.py, README "Video and zoom"
#: Arithmetic of the network on the device: auto = bfloat16 where the device has it in hardware
#: and it was measured faster for the model with dreams that look the same, else float32 (see
#: ``models.precision.AUTO_BF16``); bf16: autocast on CUDA or the CPU; fp16: CUDA autocast.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: Where an option can be given: the command line, a TOML settings file, Python keywords.
CLI, FILE, PYTHON = "cli", "file", "python"
EVERYWHERE = frozenset({CLI, FILE, PYTHON})


@dataclass(frozen=True)
class Option:
    """One option. ``kind`` is one of ``int``, ``float``, ``bool``, ``str``, ``path`` (a file
    name), ``choice``, ``tile`` (``"auto"`` or pixels), ``layers`` / ``classes`` (weights by
    name), ``device`` or ``pair`` (two numbers X,Y). ``minimum``/``maximum`` bound numbers
    (``above``: the minimum itself is excluded); ``optional``: None is allowed (unset);
    ``recipe``: a DreamConfig field."""

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
    required: bool = False  # a command's option that must be given (no default)
    bare: str | None = None  # the value of the flag given without a word (``--ray``), if it may be
    word: str | None = None  # a command's own reading of its flag's word: "int" (argparse's int),
    # "finite" (a finite number), "xy" (X,Y pixels per second); default: as the kind says
    positional: bool = False  # a command's argument, not a flag (``deepdream live SOURCE``)

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

    @property
    def python_type(self) -> Any:
        """The type of a checked value (a dataclass field built from this option has it)."""
        one = _PYTHON_TYPES[self.kind]
        return one | None if self.optional else one

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
            "pair": "two numbers X,Y",
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
        return CHECKS[self.kind](self, value, spelled)


_PYTHON_TYPES: dict[str, Any] = {
    "int": int,
    "float": float,
    "bool": bool,
    "str": str,
    "path": str,
    "choice": str,
    "device": str,
    "tile": int | str,
    "layers": Mapping[str, float],
    "classes": Mapping[str, float],
    "pair": tuple[float, float],
}


def _num(x: float) -> str:
    if x == SEED_MAX:
        return "2**64-1"
    return f"{x:g}"


def summed(pairs: Iterable[tuple[str, float]] | None) -> dict[str, float] | None:
    """Repeated names add up: ``--layer a --layer a=2`` weighs a by 3."""
    if not pairs:
        return None
    out: dict[str, float] = {}
    for k, w in pairs:
        out[k] = out.get(k, 0.0) + w
    return out


# -- the options ------------------------------------------------------------------------------


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
        True, choices=PRESET_NAMES, optional=True, metavar="{default,seed}",
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
        "arithmetic: auto (default: bf16 where the device has it in hardware and it was "
        "measured faster for the model, dreams looking the same; else fp32; the one used is "
        "recorded), fp32, bf16 (CUDA or CPU), fp16 (CUDA)",
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

_VIDEO_WHERE = frozenset({CLI, PYTHON})
#: The options of a clip beyond the dream's (``deepdream video``'s flags, ``zoom`` takes the
#: last two; ``video.clip.VideoSettings``; the web studio's Video tab and its equivalent
#: command). Names are ``dream_video``'s keywords.
VIDEO_OPTIONS: tuple[Option, ...] = (
    Option(
        "coherence", "float", DEFAULT_COHERENCE,
        f"share of the last frame's dream carried along the motion, 0..1 (default "
        f"{DEFAULT_COHERENCE}; 0 = every frame on its own)", "video", False, minimum=0,
        maximum=1, metavar="A", where=_VIDEO_WHERE,
    ),
    Option(
        "flow_quality", "choice", "medium", "optical flow effort (default medium)", "video",
        False, choices=FLOW_QUALITIES, metavar="{" + ",".join(FLOW_QUALITIES) + "}",
        where=_VIDEO_WHERE,
    ),
    Option(
        "start", "str", None, "start at this time (seconds or MM:SS)", "video", False,
        optional=True, metavar="T", where=_VIDEO_WHERE,
    ),
    Option(
        "duration", "str", None, "dream this long (seconds or MM:SS)", "video", False,
        optional=True, metavar="T", where=_VIDEO_WHERE,
    ),
    Option(
        "fps_out", "float", None,
        "frame rate of the output (frames dropped or repeated; default: the input's)", "video",
        False, minimum=0.01, maximum=1000, optional=True, metavar="F",
        label="output frame rate",
        where=_VIDEO_WHERE,
    ),
    Option(
        "keep_frames", "bool", False, "keep the work folder of dreamed frames", "video", False,
        where=frozenset({CLI}),
    ),
    Option(
        "frame_iterations", "int", None,
        "steps per octave after the first frame (default: from --iterations)", "video", False,
        minimum=0, optional=True, metavar="N", where=_VIDEO_WHERE,
    ),
    Option(
        "crf", "int", None, "quality of .mp4 (x264, default 17) or .webm (VP9, default 24)",
        "video", False, minimum=0, maximum=63, optional=True, metavar="N", label="CRF",
        where=_VIDEO_WHERE,
    ),
)  # fmt: skip
VIDEO_OPTION: dict[str, Option] = {o.name: o for o in VIDEO_OPTIONS}


def as_fields(
    chosen: Iterable[Option], defaults: Mapping[str, Any] | None = None
) -> Callable[[type], type]:
    """A class decorator: one annotated field per option of ``chosen`` (in that order, before
    the class's own), so that ``dataclass`` makes them its fields, typed and defaulted by the
    schema; ``defaults`` overrides an option's default there."""
    chosen = tuple(chosen)

    def add(cls: type) -> type:
        own = dict(inspect.get_annotations(cls))
        cls.__annotations__ = {o.name: o.python_type for o in chosen} | own
        for o in chosen:
            default = (defaults or {}).get(o.name, o.default)
            setattr(cls, o.name, _field(default))
        return cls

    return add


def _field(default: Any) -> Any:
    if isinstance(default, dict):  # a fresh one for each instance
        return field(default_factory=lambda: dict(default))
    return field(default=default)


def canonical_model(name: str) -> str:
    """The registered name ``name`` means, case and punctuation ignored as for class names
    (``EfficientNet-Lite0`` is ``efficientnet-lite0``); any other name unchanged (a
    ``file.py:factory`` user model has a colon, which no registered name has)."""
    if ":" in name:
        return name
    return match_name(name, MODEL_NAMES) or name


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
