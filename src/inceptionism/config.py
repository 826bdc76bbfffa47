"""Dream settings: a frozen dataclass whose defaults are the reference algorithm, and presets.

``DreamConfig()`` is the Keras notebook's algorithm (10 octaves of 1.2, 10 steps of 0.01,
max_loss 10 on its InceptionV1, no jitter). Presets are named sets of overrides, per model where
they were tuned for one; explicit options always win over the preset.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import DreamError, unknown_name

DEFAULT_MODEL = "efficientnet-lite0"
DEFAULT_PRESET = "default"
# Arithmetic of the network on the device (a run setting, not part of the dream's recipe):
# auto = float32 for now (see models.base.AUTO_CUDA_PRECISION); bf16/fp16: CUDA autocast.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")

# The reference's max_loss, per model, in that model's loss scale. The notebook's 10 was set for
# InceptionV1 at Mixed_4c (where it lets a photo's octave take a few steps, then stops it). The
# loss is an absolute number: EfficientNet-Lite's default layers start at 25-31 on photos
# (README, "Presets"), so the notebook's 10 would end every octave before its first step and
# return the photo unchanged. Converting it needs InceptionV1's loss on the same photos, which we
# cannot measure offline, so every other model has it off (the octave's steps all run).
REFERENCE_MAX_LOSS: dict[str, float] = {"inception-v1": 10.0}


def reference_max_loss(model: str) -> float:
    """The notebook's early-stop limit in ``model``'s loss scale (inf: off)."""
    return REFERENCE_MAX_LOSS.get(model, math.inf)


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
    max_loss: float | None = None  # None: the reference's limit for the model (reference_max_loss)
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
    lap_norm: int = 0  # Laplacian-pyramid levels the gradient is normalised over; 0 = off
    preserve_colors: bool = False
    clip: bool = False
    clip_knee: float = 0.0  # with clip: steps slow down over the last this many levels to 0/255
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        def bad(what: str) -> DreamError:
            return DreamError(f"invalid {what}")

        if not isinstance(self.octaves, int) or self.octaves < 1:
            raise bad(f"octaves {self.octaves!r}: need a whole number >= 1")
        if not math.isfinite(self.octave_scale) or self.octave_scale <= 1:
            raise bad(f"octave scale {self.octave_scale!r}: need a finite number > 1")
        if not isinstance(self.iterations, int) or self.iterations < 0:
            raise bad(f"iterations {self.iterations!r}: need a whole number >= 0")
        if not math.isfinite(self.step):
            raise bad(f"step {self.step!r}: need a finite number")
        if self.max_loss is None:
            object.__setattr__(self, "max_loss", reference_max_loss(self.model))
        if not isinstance(self.max_loss, (int, float)) or isinstance(self.max_loss, bool):
            raise bad(f"max loss {self.max_loss!r}: need a number (inf disables the early stop)")
        object.__setattr__(self, "max_loss", float(self.max_loss))
        if math.isnan(self.max_loss):
            raise bad("max loss nan: need a number (inf disables the early stop)")
        if not isinstance(self.jitter, int) or self.jitter < 0:
            raise bad(f"jitter {self.jitter!r}: need a whole number of pixels >= 0")
        if self.max_side is not None and (not isinstance(self.max_side, int) or self.max_side < 1):
            raise bad(f"max side {self.max_side!r}: need a whole number of pixels >= 1")
        if self.tile != "auto" and (
            not isinstance(self.tile, int) or isinstance(self.tile, bool) or self.tile < 0
        ):
            raise bad(f"tile {self.tile!r}: need 'auto', 0 (off) or a whole number of pixels")
        for name, w in (self.layers or {}).items():
            if not math.isfinite(w):
                raise bad(f"weight {w!r} for layer {name!r}: need a finite number")
        object.__setattr__(self, "classes", _weights(self.classes))
        for name, w in self.classes.items():
            if not math.isfinite(w):
                raise bad(f"weight {w!r} for class {name!r}: need a finite number")
        if self.guide_layer and not self.guide:
            raise bad(f"guide layer {self.guide_layer!r} without a guide image")
        if not math.isfinite(self.guide_weight):
            raise bad(f"guide weight {self.guide_weight!r}: need a finite number")
        if (
            not isinstance(self.lap_norm, int)
            or isinstance(self.lap_norm, bool)
            or not 0 <= self.lap_norm <= 12
        ):
            raise bad(f"lap norm {self.lap_norm!r}: need a whole number of levels 0..12 (0: off)")
        if not math.isfinite(self.clip_knee) or not 0 <= self.clip_knee <= 64:
            raise bad(f"clip knee {self.clip_knee!r}: need levels 0..64 (0: a hard clip)")
        if not math.isfinite(self.smooth) or self.smooth < 0:
            raise bad(f"smooth {self.smooth!r}: need a finite number >= 0 (0: off)")

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
    # The reference notebook's hyperparameters, with the model's default layers; max_loss is the
    # notebook's 10 on its own InceptionV1 and off elsewhere (see REFERENCE_MAX_LOSS).
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
