"""The Gradio parts every tab shares: how a group of options is titled, a file field that hands
over the browser's file unopened, a tab's Dream and Stop buttons, a plain option's field, and
the one-line, escaped error the page shows.

Gradio is imported inside each function: the page is built only after its temporary folder is
pointed at ours (``serve``), and the rules of the studio work without it.
"""

# No "from __future__ import annotations": Gradio reads the handlers' hints at runtime.

from typing import Any

import gradio as gr

from inceptionism.errors import user_error
from inceptionism.frontends.web.checks import page_text
from inceptionism.frontends.web.recipe import page_message, shown, typed_as_text
from inceptionism.frontends.web.studio import Upload, renamed_error

GROUP_TITLES = {
    "model": "Model",
    "steering": "What to dream of",
    "schedule": "Schedule",
    "quality": "Quality",
    "size": "Size",
    "run": "Computation",
}
MODEL_DEFAULT = "(the model's default)"
EVERY_LAYER = "(every layer: one tile each)"
OPEN_GROUPS = frozenset({"model", "steering", "schedule"})
CSS = """
#status textarea { font-family: ui-monospace, monospace; }
"""


def raw_upload(component: Any, what: str) -> Any:
    """``component`` (a gr.Image or gr.Video) handing over the file the browser sent, unopened:
    our loaders check it and name what is wrong as the CLI does (gr.Image would open it with
    PIL first and answer a bad file with an error of its own). An inline data: URL, which would
    bypass the server's upload limit, is refused. Not a subclass: Gradio would write a .pyi
    file beside this module for a component class defined here."""

    def preprocess(payload: Any) -> str | None:
        if payload is None:
            return None
        if not getattr(payload, "path", None):
            raise gr.Error(f"{what}s must be uploaded as files", print_exception=False)
        return str(payload.path)

    component.preprocess = preprocess
    return component


def picture_input(**kw: Any) -> Any:
    return raw_upload(gr.Image(**kw), "picture")


def page_error(e: BaseException, upload: Upload | None = None) -> BaseException:
    """What the page shows for ``e``: a user's error (bad input, out of memory, a file the
    system refused) in one line, naming ``upload`` as the user called it, escaped (it may quote
    a file, and Gradio shows it as HTML); anything else is a bug, raised as it is."""
    error = user_error(e)
    if error is None:
        return e
    if upload is not None:
        error = renamed_error(error, upload)
    return gr.Error(page_text(page_message(error)), print_exception=False)


def run_controls(prefix: str = "") -> tuple[Any, Any, Any]:
    """The Dream and Stop buttons and the progress line of a tab (element ids with ``prefix``,
    which the browser test finds them by)."""
    with gr.Row():
        dream = gr.Button("Dream", variant="primary", elem_id=f"{prefix}dream")
        stop = gr.Button("Stop", variant="stop", elem_id=f"{prefix}stop")
    status = gr.Textbox(label="Progress", interactive=False, elem_id=f"{prefix}status", max_lines=2)
    return dream, stop, status


def option_field(opt: Any, value: Any, elem_id: str) -> Any:
    """The field of a plain option (a number, a switch, a choice or text), with its bounds,
    value and help from its declaration."""
    label = opt.title.capitalize()
    # a free-text field's requirement is just "a string or none": its help says what to type
    info = opt.help if opt.kind == "str" and not opt.need else f"{opt.help}; {opt.requirement()}"
    if opt.kind in ("int", "float") and not typed_as_text(opt):
        hi = opt.maximum if opt.maximum is not None and opt.maximum < 2**53 else None
        return gr.Number(
            value=value,
            minimum=opt.minimum,
            maximum=hi,
            precision=0 if opt.kind == "int" else None,
            step=1 if opt.kind == "int" else 0.01,
            label=label,
            info=info,
            elem_id=elem_id,
        )
    if opt.kind == "bool":
        return gr.Checkbox(value=bool(value), label=label, info=opt.help, elem_id=elem_id)
    if opt.kind == "choice":
        return gr.Dropdown(
            list(opt.allowed()),
            value=value or opt.default,
            label=label,
            info=opt.help,
            elem_id=elem_id,
        )
    # tile, str, numbers that may be none or infinite: text as the CLI takes it
    empty = "; empty: none" if opt.optional else ""
    return gr.Textbox(value=shown(value), label=label, info=info + empty, elem_id=elem_id)
