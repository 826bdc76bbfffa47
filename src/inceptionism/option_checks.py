"""The checks of an option's value, one per kind (``Option.check`` picks it): its type, then
its bounds or choices, normalised; a one-line :class:`DreamError` otherwise."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import inceptionism.limits as limits

from .errors import DreamError, quote
from .limits import check_count, check_text

if TYPE_CHECKING:
    from .options import Option

_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def is_bool(value: Any) -> bool:
    """True/False: a bool is an int to Python, never a number to us."""
    return isinstance(value, bool)


def _check_int(opt: Option, value: Any, spelled: str | None) -> int:
    if is_bool(value) or not isinstance(value, int):
        raise opt.wrong_type(value, spelled)
    _bounds(opt, value)
    return value


def _check_float(opt: Option, value: Any, spelled: str | None) -> float:
    if is_bool(value) or not isinstance(value, (int, float)):
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
    if is_bool(value) or not isinstance(value, int):
        if isinstance(value, str):
            raise opt.invalid(value)
        raise opt.wrong_type(value, spelled)
    _bounds(opt, value)
    return value


def checked_weight(kind: str, key: Any, w: Any) -> float:
    if is_bool(w) or not isinstance(w, (int, float)):
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
        out[key] = checked_weight("layer", key, w)
    return out


def _check_classes(opt: Option, value: Any, spelled: str | None) -> dict[str, float]:
    """Names or indexes (weight 1 each), one or a list of them, or a mapping to weights."""
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, (str, int)) and not is_bool(value):
        pairs = [(value, 1.0)]
    elif isinstance(value, (list, tuple)):
        pairs = [(v, 1.0) for v in value]
    else:
        raise opt.wrong_type(value, spelled)
    out: dict[str, float] = {}
    for key, w in check_count(pairs, "classes"):
        if is_bool(key) or not isinstance(key, (str, int)):
            raise DreamError(f"invalid class {quote(key)}: need a class name or index")
        check_text(str(key), "a class name")
        out[str(key)] = checked_weight("class", key, w)
    return out


def _check_pair(opt: Option, value: Any, spelled: str | None) -> tuple[float, float]:
    """Two numbers (x, y), each within the bounds."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise opt.wrong_type(value, spelled)
    x, y = (_check_float(opt, v, spelled) for v in value)
    return x, y


CHECKS: dict[str, Callable[[Option, Any, str | None], Any]] = {
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
    "pair": _check_pair,
}
