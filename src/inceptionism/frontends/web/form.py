"""The dream's settings as fields, generated from the options schema: the Image and Video tabs
each draw one, so no option is declared for a tab."""

# No "from __future__ import annotations": Gradio reads the handlers' hints at runtime.

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gradio as gr

from inceptionism.config import DEFAULT_MODEL, DEFAULT_PRESET, DreamConfig
from inceptionism.errors import DreamError
from inceptionism.frontends.web.listing import (
    class_choices,
    layer_choices,
    model_choices,
    model_note,
)
from inceptionism.frontends.web.recipe import LAYER_FIELDS, form_defaults, recipe_from_form, shown
from inceptionism.frontends.web.studio import Studio, Upload
from inceptionism.frontends.web.widgets import (
    GROUP_TITLES,
    MODEL_DEFAULT,
    OPEN_GROUPS,
    option_field,
    page_error,
    picture_input,
)


class SettingsForm:
    """A dream's settings as fields, generated from the options schema. The Image and Video
    tabs each draw one (``prefix`` keeps their element ids apart), so no option is declared for
    a tab; ``page_defaults`` are the values a tab starts from other than the preset's (the
    Video tab's smaller size). Only what Gradio needs is here: the rules are the Studio's."""

    def __init__(
        self,
        studio: Studio,
        prefix: str = "",
        page_defaults: Mapping[str, Any] | None = None,
        open_groups: frozenset[str] = OPEN_GROUPS,
    ) -> None:
        self.studio = studio
        self.prefix = prefix
        self.open_groups = open_groups
        self.page_defaults = dict(page_defaults or {})
        self.fields: dict[str, Any] = {}  # generic fields: option name -> component
        self.special: dict[str, Any] = {}  # model (and its note), layers, channels, ...

    def values_for(self, preset: str | None, model: str) -> dict[str, Any]:
        return {**form_defaults(preset, model), **self.page_defaults}

    def draw(self, options: Sequence[Any]) -> None:
        """Every option, in accordions by group, in the schema's order."""
        first = self.values_for(DEFAULT_PRESET, DEFAULT_MODEL)
        groups: dict[str, list[Any]] = {}
        for opt in options:
            groups.setdefault(opt.group, []).append(opt)
        for group, opts in groups.items():
            with gr.Accordion(
                GROUP_TITLES.get(group, group.capitalize()), open=group in self.open_groups
            ):
                for opt in opts:
                    self._draw(opt, first.get(opt.name))

    def _draw(self, opt: Any, value: Any) -> None:
        eid = self.prefix + opt.name
        if opt.name == "model":
            self.special["model"] = gr.Dropdown(
                model_choices(),
                value=DEFAULT_MODEL,
                label=opt.title.capitalize(),
                info=opt.help,
                elem_id=self.prefix + "model",
            )
            self.special["model_note"] = gr.Markdown(model_note(DEFAULT_MODEL))
        elif opt.kind == "layers":
            self.special["layers"] = gr.Dropdown(
                layer_choices(DEFAULT_MODEL),
                value=[],
                multiselect=True,
                label="Layers",
                info="layers to amplify (empty: the model's default); channels · stride shown",
                elem_id=self.prefix + "layers",
            )
            self.special["channels"] = gr.Textbox(
                label="Channels",
                info="only these channels of the chosen layers, e.g. 3,17 (empty: all)",
                elem_id=self.prefix + "channels",
            )
        elif opt.kind == "classes":
            self.special["classes"] = gr.Dropdown(
                class_choices(),
                value=[],
                multiselect=True,
                filterable=True,
                label="Classes",
                info=f"{opt.help}: type to search the 1000 ImageNet names",
                elem_id=self.prefix + "classes",
            )
        elif opt.kind == "path":
            self.special[opt.name] = picture_input(
                type="filepath",
                sources=["upload", "clipboard"],
                label=f"{opt.title.capitalize()} picture",
                height=160,
                elem_id=eid,
            )
        elif opt.name in LAYER_FIELDS:
            self.fields[opt.name] = gr.Dropdown(
                layer_choices(DEFAULT_MODEL, MODEL_DEFAULT),
                value="",
                label=opt.title.capitalize(),
                info=opt.help,
                elem_id=eid,
            )
        else:
            self.fields[opt.name] = option_field(opt, value, eid)

    @property
    def inputs(self) -> list[Any]:
        """The fields a dream reads, in a fixed order (the API's parameters)."""
        special = [c for k, c in self.special.items() if k != "model_note"]
        return [*special, *self.fields.values()]

    def recipe(self, data: Mapping[Any, Any]) -> tuple[DreamConfig, dict[str, Any], Upload | None]:
        """(recipe, run options, guide picture) from the submitted values of this form."""
        special = self.special
        guide_path = data.get(special["guide"]) if "guide" in special else None
        guide = self.studio.upload(guide_path, "guide picture") if guide_path else None
        values = {name: data[c] for name, c in self.fields.items()}
        values["model"] = data[special["model"]]
        cfg, run = recipe_from_form(
            values,
            layers=data[special["layers"]] or (),
            channels=data[special["channels"]] or "",
            classes=data[special["classes"]] or (),
            guide=guide,
        )
        return cfg, run, guide

    def follow(self, model: str, preset: str | None) -> list[Any]:
        """Updates of the generic fields for ``preset`` on ``model``."""
        values = self.values_for(preset, model)
        out: list[Any] = []
        for name, component in self.fields.items():
            if name in LAYER_FIELDS:
                out.append(gr.update(choices=layer_choices(model, MODEL_DEFAULT), value=""))
            elif name == "preset":
                out.append(gr.update())
            else:
                v = values.get(name)
                out.append(gr.update(value=shown(v) if isinstance(component, gr.Textbox) else v))
        return out

    def wire(self, extra: Sequence[tuple[Any, Callable[[str], Any]]] = ()) -> None:
        """Choosing a model updates its note, its layers and the fields (``extra``: other
        components, each with its update for a model); choosing a preset, the fields."""
        preset = self.fields.get("preset")
        model = self.special["model"]
        generic = list(self.fields.values())

        def on_model(name: str, preset_name: str | None) -> list[Any]:
            try:
                note = model_note(name)
                chosen = layer_choices(name)
            except DreamError as e:
                raise page_error(e) from None
            return [
                note,
                gr.update(choices=chosen, value=[]),
                *(update(name) for _, update in extra),
                *self.follow(name, preset_name),
            ]

        outputs = [self.special["model_note"], self.special["layers"], *(c for c, _ in extra)]
        model.input(on_model, [model, preset], [*outputs, *generic], queue=False, api_name=False)
        if preset is not None:
            preset.input(self.follow, [model, preset], generic, queue=False, api_name=False)
