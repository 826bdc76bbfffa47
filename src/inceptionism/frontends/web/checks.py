"""What the web studio shows of an upload's text, and which names it takes from an upload.

Gradio renders an error's message as HTML, so a message that quotes a file (a dream's recipe
value, a file name) would put the file's markup live on the page: a link, an image with a
handler. :func:`page_text` escapes it. A recipe read from an uploaded dream may also name things
the page's choice fields do not offer (a layer, a class); Gradio would refuse the next dream with
an error of its own that quotes the value unescaped, so :func:`page_names` checks them first and
gives each as the page's field spells it.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from inceptionism.config import DEFAULT_PRESET, make_config
from inceptionism.errors import DreamError, quote
from inceptionism.frontends.configfile import read_dream_record
from inceptionism.io import video as vio
from inceptionism.models.classes import lookup, names
from inceptionism.models.registry import get_spec
from inceptionism.options import summed


def page_text(text: str) -> str:
    """``text`` as the page's HTML shows it: markup in it is shown as text, never run or
    followed. Quotes stay as they are (only an attribute needs them escaped)."""
    return html.escape(text, quote=False)


def dream_settings(path: Path) -> tuple[Any, dict[str, Any]]:
    """(recipe, the names of its page fields: :func:`page_names`) of an uploaded dream, read as
    ``--config-from`` reads it (untrusted: no own model, no file named in it is opened; the
    guide picture is the page's own field). Every error names the file."""
    record = read_dream_record(path, given=("guide",))  # its errors name it
    values, carried = record.values, record.carried
    try:
        for key in ("layers", "classes"):
            if key in values:
                values[key] = summed(values[key])
        config = make_config(values.pop("preset", DEFAULT_PRESET), **values, **carried)
        return config, page_names(config)
    except DreamError as e:
        raise DreamError(f"settings of {path}: {e.message}", e.hint) from None


def page_names(config: Any) -> dict[str, Any]:
    """The model, layers (with their channels), guide layer and classes of ``config`` as the
    page's fields take them: each one the field offers, or a :class:`DreamError` naming it.
    Keys: ``model``, ``layers``, ``channels``, ``guide_layer``, ``classes``."""
    model = config.model
    get_spec(model)  # a registered model, or the registry's message
    known = {li.name for li in get_spec(model).layer_info()}
    layers: list[str] = []
    channels = ""
    for key in config.layers or {}:
        name, _, chans = key.partition(":")
        _known_layer(name, known, model)
        layers.append(name)
        channels = chans or channels
    guide_layer = config.guide_layer or ""
    if guide_layer:
        _known_layer(guide_layer, known, model)
    classes = list(dict.fromkeys(names()[lookup(c)] for c in config.classes or {}))
    return {
        "model": model,
        "layers": layers,
        "channels": channels,
        "guide_layer": guide_layer,
        "classes": classes,
    }


def _known_layer(name: str, known: set[str], model: str) -> None:
    if name not in known:
        raise DreamError(f"{model} has no layer {quote(name)}")


#: Containers a browser's video element plays (H.264 / VP9 / AV1 inside): the Video tab shows
#: an uploaded clip in one of these; the others it dreams all the same, without a preview.
BROWSER_VIDEO = frozenset({".mp4", ".m4v", ".mov", ".webm"})


def clip_preview(path: Path, name: str) -> tuple[Path | None, str]:
    """(the clip to show, or none; the line that describes it) for an uploaded clip ``name``,
    checked as ``deepdream video`` checks its input (no frame read): a bad one raises the
    command's :class:`DreamError`."""
    clip = vio.open_clip(path)
    frames = f"{clip.count} frames" if clip.count else "frames"
    line = f"{name}: {frames} of {clip.width}x{clip.height} px at {float(clip.rate):.3g} fps"
    line += f", sound ({clip.audio})" if clip.audio else ", no sound"
    if Path(name).suffix.lower() not in BROWSER_VIDEO:
        return None, f"{line} (no preview: browsers do not play {Path(name).suffix} files)"
    return path, line
