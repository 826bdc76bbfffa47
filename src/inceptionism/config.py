"""Dream settings: a frozen dataclass whose defaults are the reference algorithm, and presets.

``DreamConfig``'s fields are the recipe options of the schema (:data:`options.RECIPE`): their
names, types and defaults are declared there once, and its checks are theirs.

``DreamConfig()`` is the Keras notebook's algorithm (10 octaves of 1.2, 10 steps of 0.01,
max_loss 10, no jitter). Presets are named sets of overrides, per model where they were tuned
for one; explicit options always win over the preset.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import DreamError, quote
from .limits import check_structure
from .options import (
    DEFAULT_MODEL,
    DEFAULT_PRESET,
    MAX_OCTAVES,
    OPTION,
    OPTIONS,
    PRECISIONS,
    PRESET_NAMES,
    RECIPE,
    as_fields,
    canonical_model,
)

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_PRESET",
    "MAX_OCTAVES",
    "PRECISIONS",
    "PRESETS",
    "DreamConfig",
    "defaults",
    "make_config",
]

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


#: The order of DreamConfig's fields (its positional arguments, ``repr``, ``to_dict`` and so
#: the metadata's keys), as it was before the fields came from the schema.
FIELD_ORDER = (
    "model", "layers", "octaves", "octave_scale", "iterations", "step", "max_loss", "jitter",
    "seed", "max_side", "tile", "preset", "classes", "guide", "guide_layer", "guide_weight",
    "smooth", "lap_norm", "preserve_colors", "clip", "clip_knee",
)  # fmt: skip


if set(FIELD_ORDER) != {o.name for o in RECIPE} or len(FIELD_ORDER) != len(RECIPE):
    raise RuntimeError("config.FIELD_ORDER must name each recipe option once")


@dataclass(frozen=True)
# The bare DreamConfig() has no preset: front ends start from one (make_config).
@as_fields((OPTION[name] for name in FIELD_ORDER), {"preset": None})
class DreamConfig:
    """Every number of a dream. ``layers`` None means the model's default layers.

    Steering is kept as the user wrote it, so a config (and the metadata of an output) fully
    describes a dream: ``layers`` keys are ``NAME`` or ``NAME:CHANNEL[,CHANNEL...]``, ``classes``
    maps ImageNet class names or indexes to weights, ``guide`` is an image file whose features
    at ``guide_layer`` (default: the model's default layer) the dream moves towards.
    ``objectives.objective_for`` turns all of it into one objective.
    """

    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for option in RECIPE:  # types and bounds: the options schema, the one place they live
            object.__setattr__(self, option.name, option.check(getattr(self, option.name)))
        object.__setattr__(self, "model", _canonical_model(self.model))
        if self.max_loss is None:
            object.__setattr__(self, "max_loss", reference_max_loss(self.model))
        if not isinstance(self.extra, Mapping):
            raise DreamError(f"invalid extra {quote(self.extra)}: need a mapping")
        check_structure(self.extra, "extra")  # free-form, so bounded: it may come from a file
        if self.guide_layer and not self.guide:
            raise DreamError(f"invalid guide layer {quote(self.guide_layer)} without a guide image")

    @property
    def steered(self) -> bool:
        """Whether classes or a guide say what to dream of (then no default layers are added)."""
        return bool(self.classes or self.guide)

    def effective_layers(self, default_layers: Mapping[str, float]) -> dict[str, float]:
        """The layers the dream amplifies: ``layers`` if given, else the model's default layers
        unless the dream is steered (the one place this rule lives)."""
        if self.layers:
            return dict(self.layers)
        return {} if self.steered else dict(default_layers)

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
        return cls(**{k: from_metadata(k, v) for k, v in d.items()})


def from_metadata(name: str, value: Any) -> Any:
    """A setting's value from an output's metadata: standard JSON has no Infinity, so an
    infinite float (``max_loss = inf``, off) is written there as the string ``"inf"``
    (``io.images.standard_json``) and read back here, by every reader of the metadata."""
    option = OPTION.get(name)
    if option is not None and option.kind == "float" and value in ("inf", "-inf"):
        return float(value)
    return value


# preset -> model ("*" for any) -> overrides of the reference defaults.
#: The ``default`` preset for any model without an entry of its own; the entries below change
#: only what they name.
_DEFAULT_ANY: dict[str, Any] = {
    "octaves": 4,
    "octave_scale": 1.4,
    "iterations": 15,
    "step": 0.015,
    "max_loss": math.inf,
    "jitter": 32,
    "clip": True,
    "lap_norm": 4,
    "clip_knee": 32.0,
}

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
    #
    # EfficientNet-Lite (issue 11, measured by benchmarks/quality.py, see README "Presets"): the
    # gradient normalised over 4 Laplacian-pyramid bands, as in Google's original notebook, puts
    # the step into shapes instead of pixel grain (a fifth of the old flat-area grain),
    # and the clip knee (32 levels) keeps dark skies and bright backdrops from piling up at 0 or
    # 255 (under 1% of new clipped pixels, was up to 9%). Both make each step more effective,
    # so a smaller step (0.015, was 0.02) keeps the old strength with still less grain.
    "default": {
        "*": _DEFAULT_ANY,
        # Lite0 (the embedded default): its block10 dream alone scored 1.68x on the portrait as
        # the other Lite models judge it (issue 20, benchmarks/streaks.py). block8 beside it, 20
        # steps of 0.02 over 3 octaves of 1.25, the gradient blurred (sigma 1 px) and split in 5
        # bands give 2.07x with less grain than before; the wider knee (48) clips less.
        "efficientnet-lite0": {
            **_DEFAULT_ANY,
            "layers": {"block10": 1.0, "block8": 1.0},
            "octaves": 3,
            "octave_scale": 1.25,
            "iterations": 20,
            "step": 0.02,
            "smooth": 1.0,
            "lap_norm": 5,
            "clip_knee": 48.0,
        },
        # Lite1 and Lite2 need more steps for the same strength: Lite2's activations are larger
        # (3x the objective); Lite1's 15 steps left its portrait dream at 1.92x as the other
        # Lite models judge it, 20 steps give 2.02x (issue 20, benchmarks/streaks.py).
        **{
            m: {**_DEFAULT_ANY, "iterations": 20}
            for m in ("efficientnet-lite1", "efficientnet-lite2")
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


if set(PRESETS) != set(PRESET_NAMES):
    raise RuntimeError("config.PRESETS must hold the presets options.PRESET_NAMES names")


def _canonical_model(name: Any) -> Any:
    """A registered model's own name for ``name`` (``EfficientNet-Lite0``: case and
    punctuation ignored, as for class names), so presets and metadata see the one name."""
    if not isinstance(name, str):
        return name  # the schema's check has said what is wrong
    return canonical_model(name)


def preset_overrides(preset: str, model: str) -> dict[str, Any]:
    OPTION["preset"].check(preset)
    table = PRESETS[preset]
    return dict(table.get(model, table.get("*", {})))


def make_config(
    preset: str | None = DEFAULT_PRESET, model: str | None = None, **options: Any
) -> DreamConfig:
    """Reference defaults, then the preset's values for the model, then explicit ``options``
    (options given as None are ignored, so CLI flags left out don't override the preset)."""
    model = _canonical_model(model or DEFAULT_MODEL)
    values: dict[str, Any] = {"model": model, "preset": preset}
    if preset is not None:
        values.update(preset_overrides(preset, model))
    given = {k: v for k, v in options.items() if v is not None}
    values.update(given)
    if "layers" not in given and (values.get("classes") or values.get("guide")):
        values["layers"] = None  # a preset's layers are defaults: steering alone drops them too
    return DreamConfig.from_dict(values)


def defaults(preset: str | None = DEFAULT_PRESET, model: str | None = None) -> dict[str, Any]:
    """Each option's value when none is given: the preset's for the model, else the option's
    default (what a form shows before the user changes anything)."""
    cfg = make_config(preset, model=model)
    return {o.name: getattr(cfg, o.name) if o.recipe else o.default for o in OPTIONS}
