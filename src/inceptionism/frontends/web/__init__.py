"""``deepdream ui``: a local web studio on the :class:`~inceptionism.Dreamer` session (Gradio).

Drop a picture, pick settings, watch the dream grow octave by octave, stop it when it looks
right, download it with its full recipe inside; or a short clip, dreamed frame by frame as
``deepdream video`` dreams it, sound and all. The form is generated from the options schema
(:data:`inceptionism.options.OPTIONS`, and ``options.VIDEO_OPTIONS`` for a clip): no option
is declared here a second time.

Two halves. Free of Gradio: :mod:`.studio` (the server's state and rules: one dream per device
at a time, each browser session's cancel flags and step counters, what an upload may be),
:mod:`.recipe` (the form's options, the recipe from it, the equivalent ``deepdream dream``
command), :mod:`.clip` (a clip's dream in a thread of its own), :mod:`.progress`,
:mod:`.listing` (models, layers, classes) and :mod:`.checks` (an upload's text and names).
The page: :mod:`.widgets` (shared fields), :mod:`.form` (the generated settings form), one
module per tab (:mod:`.image_tab` with :mod:`.settings_loading`, :mod:`.video_tab`,
:mod:`.atlas_tab`) and :mod:`.app` (:func:`build_app`): these import Gradio at their top and
are reached only through :func:`.server.serve` (which points Gradio's temporary folder at ours
and checks for the ``ui`` extra first) or, for scripts and tests, through this package's names
of them, imported on first use. So importing this package needs no Gradio. It re-exports the
names the command line, tests and scripts use.

Trust: everything from the page is untrusted. Uploads are read only through
:func:`inceptionism.io.load_image` and :func:`inceptionism.io.video.open_clip` (the CLI's
checks and messages), only registered models can be chosen, no field names a file, and
settings read from an uploaded dream are read as ``--config-from`` reads them, through
:func:`inceptionism.safety.untrusted_settings`. Text from an upload that the page shows as HTML
(an error's message) is escaped (:mod:`.checks`).
"""

import importlib
from typing import Any

from inceptionism.extras import require_extra
from inceptionism.frontends.web.clip import (
    VIDEO_FIELD_DEFAULTS,
    VIDEO_FORMATS,
    VIDEO_PAGE_DEFAULTS,
    dream_clip,
    video_options,
    video_settings,
)
from inceptionism.frontends.web.listing import (
    class_choices,
    layer_choices,
    layer_listing,
    model_choices,
    model_note,
)
from inceptionism.frontends.web.progress import (
    PREVIEW_EVERY,
    PREVIEW_INTERVAL_S,
    ClipProgress,
    Progress,
    enlarged,
)
from inceptionism.frontends.web.recipe import (
    LAYER_FIELDS,
    SERVER_OPTIONS,
    command_for,
    field_value,
    form_defaults,
    form_options,
    page_message,
    recipe_from_form,
    shown,
    spell_for_page,
    typed_as_text,
)
from inceptionism.frontends.web.server import serve, warm_up
from inceptionism.frontends.web.studio import (
    DEFAULT_HOST,
    DEFAULT_MAX_UPLOAD,
    DEFAULT_PORT,
    DEFAULT_QUEUE,
    SAMPLE,
    Job,
    Studio,
    Upload,
    is_loopback,
    is_sample,
    parse_size,
)

#: The page's names (modules that import Gradio): imported on first use, not with the package.
_PAGE = {
    "build_app": "app",
    "SettingsForm": "form",
    **dict.fromkeys(
        (
            "CSS",
            "EVERY_LAYER",
            "GROUP_TITLES",
            "MODEL_DEFAULT",
            "OPEN_GROUPS",
            "option_field",
            "page_error",
            "picture_input",
            "raw_upload",
            "run_controls",
        ),
        "widgets",
    ),
}

__all__ = [
    "CSS",
    "DEFAULT_HOST",
    "DEFAULT_MAX_UPLOAD",
    "DEFAULT_PORT",
    "DEFAULT_QUEUE",
    "EVERY_LAYER",
    "GROUP_TITLES",
    "LAYER_FIELDS",
    "MODEL_DEFAULT",
    "OPEN_GROUPS",
    "PREVIEW_EVERY",
    "PREVIEW_INTERVAL_S",
    "SAMPLE",
    "SERVER_OPTIONS",
    "VIDEO_FIELD_DEFAULTS",
    "VIDEO_FORMATS",
    "VIDEO_PAGE_DEFAULTS",
    "ClipProgress",
    "Job",
    "Progress",
    "SettingsForm",
    "Studio",
    "Upload",
    "build_app",
    "class_choices",
    "command_for",
    "dream_clip",
    "enlarged",
    "field_value",
    "form_defaults",
    "form_options",
    "is_loopback",
    "is_sample",
    "layer_choices",
    "layer_listing",
    "model_choices",
    "model_note",
    "option_field",
    "page_error",
    "page_message",
    "parse_size",
    "picture_input",
    "raw_upload",
    "recipe_from_form",
    "run_controls",
    "serve",
    "shown",
    "spell_for_page",
    "typed_as_text",
    "video_options",
    "video_settings",
    "warm_up",
]


def __getattr__(name: str) -> Any:
    """A page name on first use: Gradio (the ``ui`` extra) is imported then, not before."""
    if name not in _PAGE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    require_extra("gradio", "ui", "the web studio")
    page = importlib.import_module(f"{__name__}.{_PAGE[name]}")  # optional extra: gradio
    return getattr(page, name)
