"""Dream settings: a frozen dataclass whose defaults are the reference algorithm, and presets.

``DreamConfig()`` is the Keras notebook's algorithm (10 octaves of 1.2, 10 steps of 0.01,
max_loss 10, no jitter). Presets are named sets of overrides, per model where they were tuned
for one; explicit options always win over the preset.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import DreamError, quote, unknown_name

DEFAULT_MODEL = "efficientnet-lite0"
DEFAULT_PRESET = "default"
# Arithmetic of the network on the device (a run setting, not part of the dream's recipe):
# auto = float32 for now (see models.base.AUTO_CUDA_PRECISION); bf16/fp16: CUDA autocast.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: Most octaves a schedule may ask for. The reference uses 10 and the presets 3 or 4; even at a
#: scale of 1.1, 100 octaves shrink an image 13,780-fold, far below any layer's minimum size, so
#: a longer schedule is a mistake, and refusing it up front keeps a typo such as
#: ``--octaves 1000000000`` from building a huge pyramid (or overflowing ``scale ** octave``).
MAX_OCTAVES = 100


@dataclass(frozen=True)
class DreamConfig:
    """Every number of a dream. ``layers`` None means the model's default layers.

    Steering is kept as the user wrote it, so a config (and the metadata of an output) fully
    describes a dream: ``layers`` keys are ``NAME`` or ``NAME:CHANNEL[,CHANNEL...]``, ``classes``
    maps ImageNet class names or indexes to weights, ``guide`` is an image file whose features
    at ``guide_layer`` (default: the model's default layer) the dream moves towards.
    ``objectives.from_config`` turns all of it into one objective.
    """

    model: str = DEFAULT_MODEL
    layers: Mapping[str, float] | None = None
    octaves: int = 10
    octave_scale: float = 1.2
    iterations: int = 10
    step: float = 0.01
    max_loss: float = 10.0
    jitter: int = 0
    seed: int = 0
    max_side: int | None = None
    tile: int | str = "auto"  # window side for tiled gradients; 0 = off (see tiling.py)
    preset: str | None = None
    classes: Mapping[str, float] = field(default_factory=dict)
    guide: str | None = None
    guide_layer: str | None = None
    guide_weight: float = 1.0
    smooth: float = 0.0
    preserve_colors: bool = False
    clip: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        def bad(what: str) -> DreamError:
            return DreamError(f"invalid {what}")

        _check_types(self)

        if not isinstance(self.octaves, int) or isinstance(self.octaves, bool):
            raise bad(f"octaves {quote(self.octaves)}: need a whole number from 1 to {MAX_OCTAVES}")
        if not 1 <= self.octaves <= MAX_OCTAVES:
            raise bad(f"octaves {quote(self.octaves)}: need a whole number from 1 to {MAX_OCTAVES}")
        if (
            not isinstance(self.octave_scale, numbers.Real)
            or isinstance(self.octave_scale, bool)
            or not math.isfinite(self.octave_scale)
            or self.octave_scale <= 1
        ):
            raise bad(f"octave scale {quote(self.octave_scale)}: need a finite number > 1")
        if not isinstance(self.iterations, int) or self.iterations < 0:
            raise bad(f"iterations {quote(self.iterations)}: need a whole number >= 0")
        if not math.isfinite(self.step):
            raise bad(f"step {quote(self.step)}: need a finite number")
        if math.isnan(self.max_loss):
            raise bad("max loss nan: need a number (inf disables the early stop)")
        if not 0 <= self.seed <= SEED_MAX:
            raise bad(f"seed {quote(self.seed)}: need a whole number from 0 to 2**64-1")
        if not isinstance(self.jitter, int) or self.jitter < 0:
            raise bad(f"jitter {quote(self.jitter)}: need a whole number of pixels >= 0")
        if self.max_side is not None and (not isinstance(self.max_side, int) or self.max_side < 1):
            raise bad(f"max side {quote(self.max_side)}: need a whole number of pixels >= 1")
        if self.tile != "auto" and (
            not isinstance(self.tile, int) or isinstance(self.tile, bool) or self.tile < 0
        ):
            raise bad(f"tile {quote(self.tile)}: need 'auto', 0 (off) or a whole number of pixels")
        for name, w in (self.layers or {}).items():
            if not math.isfinite(w):
                raise bad(f"weight {quote(w)} for layer {quote(name)}: need a finite number")
        object.__setattr__(self, "classes", _weights(self.classes))
        for name, w in self.classes.items():
            if not math.isfinite(w):
                raise bad(f"weight {quote(w)} for class {quote(name)}: need a finite number")
        if self.guide_layer and not self.guide:
            raise bad(f"guide layer {quote(self.guide_layer)} without a guide image")
        if not math.isfinite(self.guide_weight):
            raise bad(f"guide weight {quote(self.guide_weight)}: need a finite number")
        if not math.isfinite(self.smooth) or self.smooth < 0:
            raise bad(f"smooth {quote(self.smooth)}: need a finite number >= 0 (0: off)")

    def replace(self, **changes: Any) -> DreamConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["layers"] = dict(self.layers) if self.layers is not None else None
        d["classes"] = {str(k): v for k, v in self.classes.items()}
        d["extra"] = dict(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DreamConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise DreamError(f"unknown config keys: {', '.join(sorted(unknown))}")
        return cls(**d)


#: The largest seed the random generators take (an unsigned 64-bit number).
SEED_MAX = 2**64 - 1

_WHOLE = "a whole number"
_NUMBER = "a number"
#: Field -> (accepted types, what to call them): checked first, so a wrong type is a DreamError
#: with a message, not an AttributeError or a TypeError from deep inside.
_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "model": ((str,), "a model name"),
    "layers": ((Mapping, type(None)), "a mapping of layer name to weight, e.g. {'block8': 1.0}"),
    "octaves": ((int,), _WHOLE),
    "octave_scale": ((int, float), _NUMBER),
    "iterations": ((int,), _WHOLE),
    "step": ((int, float), _NUMBER),
    "max_loss": ((int, float), _NUMBER),
    "jitter": ((int,), _WHOLE),
    "seed": ((int,), _WHOLE),
    "max_side": ((int, type(None)), f"{_WHOLE} of pixels"),
    "tile": ((int, str), "'auto' or a whole number of pixels"),
    "preset": ((str, type(None)), "a preset name"),
    "classes": ((Mapping, list, tuple, str, int, type(None)), "class names or indexes"),
    "guide": ((str, os.PathLike, type(None)), "an image path"),
    "guide_layer": ((str, type(None)), "a layer name"),
    "guide_weight": ((int, float), _NUMBER),
    "smooth": ((int, float), _NUMBER),
    "preserve_colors": ((bool,), "true or false"),
    "clip": ((bool,), "true or false"),
    "extra": ((Mapping,), "a mapping"),
}


def _check_types(config: DreamConfig) -> None:
    for name, (types, what) in _TYPES.items():
        value = getattr(config, name)
        wrong_bool = isinstance(value, bool) and bool not in types
        if wrong_bool or not isinstance(value, types):
            raise DreamError(
                f"invalid {name.replace('_', ' ')}: need {what}, "
                f"got {type(value).__name__} {quote(value)}"
            )
    for label, table in (("layer", config.layers or {}), ("class", config.classes)):
        if not isinstance(table, Mapping):
            continue
        for key, w in table.items():
            if isinstance(w, bool) or not isinstance(w, (int, float)):
                raise DreamError(
                    f"invalid weight {quote(w)} for {label} {quote(key)}: need a number"
                )


def _weights(spec: Mapping[str | int, float] | Iterable[str | int] | str | int | None) -> dict:
    """``classes`` as a dict; a name, an index or a list of them means weight 1 each."""
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        return {str(k): float(v) for k, v in spec.items()}
    if isinstance(spec, (str, int)):
        spec = [spec]
    return {str(k): 1.0 for k in spec}


# preset -> model ("*" for any) -> overrides of the reference defaults.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # The reference notebook's hyperparameters, with the model's default layers.
    "seed": {"*": {}},
    # "*": tuned by eye on photos with the EfficientNet-Lite models (see README): fewer, wider
    # octaves and jitter give a clean, strong dream in seconds on a laptop CPU. The others follow
    # published practice for their networks (no weights here to tune them by eye). "clip" keeps
    # the few per cent of pixels a dream pushes out of range (up to ~±200 levels) from clipping
    # harshly at save time into saturated patches (docs/steer.md); Google's notebook and
    # pytorch-deepdream clip at every step too, the Keras example does not.
    "default": {
        "*": {
            "octaves": 4,
            "octave_scale": 1.4,
            "iterations": 15,
            "step": 0.02,
            "max_loss": math.inf,
            "jitter": 32,
            "clip": True,
        },
        # Lite2's larger activations need more steps for the same strength (3x the objective).
        "efficientnet-lite2": {
            "octaves": 4,
            "octave_scale": 1.4,
            "iterations": 20,
            "step": 0.02,
            "max_loss": math.inf,
            "jitter": 32,
            "clip": True,
        },
        # Google's original notebook: inception_4c, step 1.5 on 0..255 pixels (= 1.5 / 127.5 in
        # this model's [-1, 1] input), 4 octaves of 1.4, 10 steps, jitter 32, clipped each step.
        "inception-v1": {
            "layers": {"inception4c": 1.0},
            "octaves": 4,
            "octave_scale": 1.4,
            "iterations": 10,
            "step": 1.5 / 127.5,
            "max_loss": math.inf,
            "jitter": 32,
            "clip": True,
        },
        # The later Keras example for InceptionV3: 3 octaves of 1.4, 20 steps of 0.01,
        # max_loss 15 (with the model's default layers, the reference's alternative setting).
        "inception-v3": {
            "octaves": 3,
            "octave_scale": 1.4,
            "iterations": 20,
            "step": 0.01,
            "max_loss": 15.0,
            "jitter": 0,
        },
        # pytorch-deepdream's VGG/ResNet settings: 4 octaves of 1.8, 10 steps of 0.09 in
        # mean/std input units, a random shift of up to 32 px, clamped to the image range.
        **{
            m: {
                "octaves": 4,
                "octave_scale": 1.8,
                "iterations": 10,
                "step": 0.09,
                "max_loss": math.inf,
                "jitter": 32,
                "clip": True,
            }
            for m in ("vgg16", "vgg19", "resnet50")
        },
    },
}


def preset_overrides(preset: str, model: str) -> dict[str, Any]:
    if preset not in PRESETS:
        raise unknown_name("preset", preset, PRESETS)
    table = PRESETS[preset]
    return dict(table.get(model, table.get("*", {})))


def make_config(
    preset: str | None = DEFAULT_PRESET, model: str | None = None, **options: Any
) -> DreamConfig:
    """Reference defaults, then the preset's values for the model, then explicit ``options``
    (options given as None are ignored, so CLI flags left out don't override the preset)."""
    model = model or DEFAULT_MODEL
    values: dict[str, Any] = {"model": model, "preset": preset}
    if preset is not None:
        values.update(preset_overrides(preset, model))
    values.update({k: v for k, v in options.items() if v is not None})
    return DreamConfig.from_dict(values)
