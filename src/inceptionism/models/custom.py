"""Your own network: any ``torch.nn.Module`` plus a preprocessing, layers by module path.

From Python: ``from_module(net, Preprocess.mean_std(...))``. From the command line:
``--model path/to/file.py:factory`` or ``--model package.module:factory``, where the factory
returns the module, or ``(module, preprocess)``, or a ready :class:`DreamModel`. Layers are the
module paths of ``net.named_modules()`` (``"features.10"``, ``"layer3.1.conv2"``), tapped
through forward hooks, the forward stopped after the deepest one. A model that names no default
layer gets one (:func:`pick_default_layer`), starred by ``deepdream layers`` and dreamed on.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from torch import nn

from ..errors import DreamError, quote
from .base import IMAGENET_MEAN, IMAGENET_STD, DreamModel, LayerInfo, Preprocess
from .weights import load_state_dict_file


def is_factory_name(name: str) -> bool:
    """``file.py:factory`` or ``package.module:factory`` (a registry name has no colon)."""
    return ":" in name


def from_module(
    net: nn.Module,
    preprocess: Preprocess | None = None,
    *,
    name: str = "custom",
    default_layers: Mapping[str, float] | None = None,
) -> DreamModel:
    """Wrap a module; every named submodule is a layer. Preprocessing defaults to ImageNet's
    mean/std, the convention of most published PyTorch weights. Without ``default_layers`` the
    model gets :func:`pick_default_layer`'s, so a dream needs no ``layers`` to start."""
    layers = {path: path for path, _ in net.named_modules() if path}
    model = DreamModel(
        name,
        net,
        preprocess or Preprocess.mean_std(IMAGENET_MEAN, IMAGENET_STD),
        layers,
        dict(default_layers or {}),
        description="user module",
    )
    return with_default_layer(model)


#: The deepest stride a default layer may have: Deep Dream's classic layers (InceptionV1's
#: inception4c, our EfficientNets' block10) sit at a stride of 16, where shapes (eyes, fur,
#: arches) live; deeper maps are too coarse for a photo of a few hundred pixels.
DEFAULT_LAYER_MAX_STRIDE = 16


def pick_default_layer(infos: Sequence[LayerInfo]) -> str | None:
    """The layer a model that names none dreams on: the deepest feature map (last in module
    order) at the largest stride up to :data:`DEFAULT_LAYER_MAX_STRIDE`, i.e. the last conv
    or activation before the pooling that ends that stage; None when no layer is spatial."""
    spatial = [li for li in infos if li.stride]
    fine = [li for li in spatial if li.stride <= DEFAULT_LAYER_MAX_STRIDE]
    if not fine:  # a net that reaches stride 32 at once: about two thirds of its depth
        return spatial[(2 * len(spatial)) // 3].name if spatial else None
    widest = max(li.stride for li in fine)
    return [li for li in fine if li.stride == widest][-1].name


def with_default_layer(model: DreamModel) -> DreamModel:
    """``model`` with :func:`pick_default_layer`'s layer as its default when it names none
    (found by one probe forward of the user's network; if that fails, the dream says so)."""
    if model.default_layers:
        return model
    try:
        picked = pick_default_layer(model.layer_info())
    except Exception:  # the user's forward fails on a probe: the dream itself will tell
        return model
    if picked is not None:
        model.default_layers = {picked: 1.0}
    return model


def _import_factory(spec: str):
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise DreamError(f"model {spec!r}: expected FILE.py:FACTORY or package.module:FACTORY")
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = Path(target)
        if not path.is_file():
            raise DreamError(f"model file not found: {target}")
        mod_name = f"_inceptionism_user_{abs(hash(str(path.resolve())))}"
        loader_spec = importlib.util.spec_from_file_location(mod_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise DreamError(f"cannot import model file {target}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[mod_name] = module
        with _users_code(f"error importing {target}"):
            loader_spec.loader.exec_module(module)
    else:
        with _users_code(f"cannot import module {target!r}"):
            module = importlib.import_module(target)
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise DreamError(f"{target} has no callable {attr!r}")
    return factory


@contextlib.contextmanager
def _users_code(doing: str) -> Iterator[None]:
    """Run the user's code; whatever it raises, even ``sys.exit()``, becomes one DreamError line
    (a Ctrl-C still interrupts)."""
    try:
        yield
    except DreamError:
        raise
    except SystemExit as e:
        raise DreamError(f"{doing}: it called sys.exit({quote(e.code)})") from None
    except Exception as e:
        raise DreamError(f"{doing}: {type(e).__name__}: {_cut(str(e))}") from None


def _cut(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit] + "..."


def _preprocess(spec: str, pre: object) -> Preprocess | None:
    """A factory's second value: a Preprocess or ``{"mean": [...], "std": [...]}``."""
    if pre is None or isinstance(pre, Preprocess):
        return pre
    if isinstance(pre, Mapping) and "mean" in pre and "std" in pre:
        with _users_code(f"bad preprocessing from {spec}"):
            return Preprocess.mean_std(pre["mean"], pre["std"])
    raise DreamError(
        f"model factory {spec} returned {type(pre).__name__} {quote(pre)} as its preprocessing; "
        'expected a Preprocess or {"mean": [r, g, b], "std": [r, g, b]}'
    )


def load_factory(spec: str, weights: str | Path | None = None) -> DreamModel:
    """Build a model from a user factory; ``weights`` (optional) is loaded into it."""
    factory = _import_factory(spec)
    with _users_code(f"model factory {spec} failed"):
        made = factory()
    if isinstance(made, DreamModel):
        model = with_default_layer(made)
    else:
        if isinstance(made, tuple) and len(made) != 2:
            raise DreamError(
                f"model factory {spec} returned a tuple of {len(made)}; "
                "expected a module, (module, preprocess) or a DreamModel"
            )
        net, pre = made if isinstance(made, tuple) else (made, None)
        if not isinstance(net, nn.Module):
            raise DreamError(
                f"model factory {spec} returned {type(net).__name__}, not a torch.nn.Module"
            )
        model = from_module(net, _preprocess(spec, pre), name=spec)
    if weights:
        try:
            model.net.load_state_dict(load_state_dict_file(weights))
        except RuntimeError as e:
            raise DreamError(
                f"weights {weights} do not fit {spec}: {str(e).splitlines()[0]}"
            ) from None
    return model
