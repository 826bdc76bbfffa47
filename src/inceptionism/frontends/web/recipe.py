"""The dream form's rules, free of Gradio: which options the page shows (generated from the
options schema, :data:`inceptionism.options.OPTIONS`), the recipe from the fields' values,
checked as the CLI checks it, and the equivalent ``deepdream`` command.

Trust: the fields are untrusted; only registered models can be chosen and no field names a file.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from inceptionism.algorithm.objectives import parse_layer
from inceptionism.config import DEFAULT_MODEL, DEFAULT_PRESET, DreamConfig, defaults, make_config
from inceptionism.errors import DreamError
from inceptionism.frontends.web.studio import Upload
from inceptionism.models.registry import get_spec
from inceptionism.options import CLI, OPTION, OPTIONS, PYTHON, VIDEO_OPTION, where

#: Options the page never shows: the server decides how it computes (--device, threads), and
#: no field names a file on the server (weights).
SERVER_OPTIONS = frozenset({"device", "weights", "threads"})
#: Fields that pick one of the model's layers rather than take free text.
LAYER_FIELDS = frozenset({"guide_layer"})


# -- the form, generated from the options schema -----------------------------------------------


def form_options() -> list[Any]:
    """The options the page shows: every recipe option, and the run options a user may choose
    per dream (precision), in the schema's order. Not the server's (device, threads, weights)
    nor the command line's own (quiet, overwrite)."""
    return [
        o
        for o in OPTIONS
        if PYTHON in o.where and o.name not in SERVER_OPTIONS and o.kind != "device"
    ]


def spell_for_page(option: str, value: str = "") -> str:
    """How a hint names an option on the page: its field's label (quoted)."""
    known = {**VIDEO_OPTION, **OPTION}
    label = known[option].title if option in known else option.replace("_", " ")
    return f"the “{label}” field" + (f" ({value})" if value else "")


def page_message(e: DreamError) -> str:
    return e.render(spell_for_page)


def recipe_from_form(
    values: Mapping[str, Any],
    *,
    layers: Sequence[str] = (),
    channels: str = "",
    classes: Sequence[str] = (),
    guide: Upload | None = None,
) -> tuple[DreamConfig, dict[str, Any]]:
    """(recipe, run options) from the form's values (option name -> field value) and the
    special fields (layers with channels, classes, guide picture). Checked as the CLI checks."""
    given: dict[str, Any] = {}
    run: dict[str, Any] = {}
    for name, value in values.items():
        opt = OPTION[name]
        value = field_value(opt, value)
        if opt.recipe:
            given[name] = value
        else:
            run[name] = value if value is not None else opt.default
    if layers:
        chans = channels.replace(" ", "").strip(",")
        given["layers"] = {f"{n}:{chans}" if chans else n: 1.0 for n in layers}
    given["classes"] = dict.fromkeys(classes, 1.0)
    given["guide"] = str(guide.path) if guide is not None else None
    if given.get("guide") is None:
        given["guide_layer"] = None
    preset = given.pop("preset", DEFAULT_PRESET) or None
    model = given.pop("model", DEFAULT_MODEL) or DEFAULT_MODEL

    get_spec(model)  # registered models only: never a file.py:factory from the page
    if given.get("layers"):
        for key in given["layers"]:
            parse_layer(key)  # channels in the CLI's syntax, with its message
    return make_config(preset, model=model, **given), run


def field_value(opt: Any, value: Any) -> Any:
    """A field's value as the option's type: whole numbers as int; numbers typed as text (an
    optional number, or one that may be infinite) parsed, empty meaning none (infinity for
    max loss); a tile as 'auto' or pixels."""
    if isinstance(value, str):
        value = value.strip()
        if value == "" and (opt.kind != "str" or opt.optional):
            value = None
    if value is None:
        if opt.kind == "float" and not opt.finite:
            return math.inf
        return None
    if isinstance(value, str) and opt.kind in ("int", "float", "tile") and value != "auto":
        try:
            return int(value) if opt.kind != "float" else float(value)
        except ValueError:
            raise DreamError(f"invalid {opt.title} {value!r}: need {opt.requirement()}") from None
    if opt.kind in ("int", "tile") and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def typed_as_text(opt: Any) -> bool:
    """Whether a number field is text: a number input cannot be empty (none) or infinite."""
    return opt.kind in ("int", "float") and (opt.optional or not opt.finite)


def shown(value: Any) -> str:
    """A value as a text field shows it: none as empty, infinity as inf."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return str(value)


def form_defaults(preset: str | None, model: str) -> dict[str, Any]:
    """What each field shows for ``preset`` on ``model``: the schema's defaults, the preset's
    values over them."""
    return defaults(preset or None, model)


# -- the equivalent command --------------------------------------------------------------------


def _number(v: float) -> str:
    return f"{v:g}" if float(f"{v:g}") == v else repr(float(v))


def command_for(
    config: DreamConfig,
    run: Mapping[str, Any],
    input_name: str,
    output_name: str,
    *,
    guide_name: str | None = None,
    device: str = "auto",
    command: str = "dream",
    more: Sequence[tuple[Any, Any]] = (),
) -> str:
    """The ``deepdream dream`` (or ``command``) command that makes the same pixels from the same
    input: every recipe value that differs from what the command line would take anyway, then
    each of ``more`` ((option, value): ``deepdream video``'s own) that is not its default."""
    base = make_config(config.preset, model=config.model)
    words = ["deepdream", command, input_name, "-o", output_name, "--model", config.model]
    if config.preset != DEFAULT_PRESET:
        words += ["--preset", config.preset or "seed"]
    for opt in where(CLI):
        if not opt.recipe or opt.name in ("model", "preset"):
            continue
        value, before = getattr(config, opt.name), getattr(base, opt.name)
        if value == before and opt.name != "seed":
            continue
        flag = opt.cli_flag
        if opt.kind == "layers":
            for key, w in (value or {}).items():
                words += [flag, key if w == 1 else f"{key}={_number(w)}"]
        elif opt.kind == "classes":
            for key, w in value.items():
                words += [flag, key if w == 1 else f"{key}={_number(w)}"]
        elif opt.kind == "bool":
            words.append(flag if value else "--no-" + flag[2:])
        elif opt.kind == "path":
            if value is not None:
                words += [flag, guide_name or Path(value).name]
        elif value is not None:
            words += [flag, _number(value) if isinstance(value, float) else str(value)]
    if device != "auto":
        words += ["--device", device]
    for name, value in run.items():
        opt = OPTION[name]
        if CLI in opt.where and value != opt.default and value is not None:
            words += [opt.cli_flag, str(value)]
    for opt, value in more:
        if CLI in opt.where and value != opt.default and value is not None:
            words += [opt.cli_flag, _number(value) if isinstance(value, float) else str(value)]
    return " ".join(shlex.quote(w) for w in words)
