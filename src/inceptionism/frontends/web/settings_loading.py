"""The Image tab's "load the settings of a dream": an uploaded dream's recipe into the form.

Trust: the dream is untrusted; it is read as the CLI's ``--config-from`` reads it
(:func:`inceptionism.frontends.web.checks.dream_settings`), and only names the page's
choice fields offer are taken.
"""

# No "from __future__ import annotations": Gradio reads the handlers' hints at runtime.

from pathlib import Path
from typing import Any

import gradio as gr

from inceptionism.errors import DreamError
from inceptionism.frontends.web.checks import dream_settings
from inceptionism.frontends.web.form import SettingsForm
from inceptionism.frontends.web.listing import layer_choices
from inceptionism.frontends.web.recipe import LAYER_FIELDS, shown
from inceptionism.frontends.web.studio import Studio, Upload
from inceptionism.frontends.web.widgets import MODEL_DEFAULT, page_error
from inceptionism.options import OPTION


def load_settings(studio: Studio, form: SettingsForm, path: str | None) -> list[Any]:
    """Updates of ``form``'s model, layers, channels, classes and generic fields from the
    dream at ``path`` (an upload); none without a file."""
    if not path:
        return [gr.update()] * (len(form.fields) + 4)
    try:
        cfg, names = dream_settings(studio.upload(path, "dream").path)
    except DreamError as e:
        raise page_error(e, Upload(Path(path), Path(path).name)) from None
    out = [
        gr.update(value=names["model"]),
        gr.update(choices=layer_choices(cfg.model), value=names["layers"]),
        gr.update(value=names["channels"]),
        gr.update(value=names["classes"]),
    ]
    return out + [field_update(form, name, cfg) for name in form.fields]


def field_update(form: SettingsForm, name: str, cfg: Any) -> Any:
    """The update of generic field ``name`` for recipe ``cfg``: a run option keeps its value."""
    field = form.fields[name]
    v = getattr(cfg, name, None) if OPTION[name].recipe else field.value
    if name in LAYER_FIELDS:
        return gr.update(choices=layer_choices(cfg.model, MODEL_DEFAULT), value=v or "")
    if isinstance(field, gr.Textbox):
        return gr.update(value=shown(v))
    return gr.update(value=v)


def wire_settings_loading(studio: Studio, form: SettingsForm, settings_file: Any) -> None:
    """An upload into ``settings_file`` fills ``form`` (the ``/load_settings`` endpoint)."""

    def load(path: str | None) -> list[Any]:
        return load_settings(studio, form, path)

    special = form.special
    settings_file.upload(
        load,
        settings_file,
        [
            special["model"],
            special["layers"],
            special["channels"],
            special["classes"],
            *form.fields.values(),
        ],
        api_name="load_settings",
    )
