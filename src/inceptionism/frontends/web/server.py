"""The studio's server: :func:`serve` runs the page until interrupted and removes its
temporary folder; :func:`warm_up` readies the default model first.

Free of Gradio until :func:`serve` has pointed Gradio's temporary folder at the studio's and
checked for the ``ui`` extra: the page (:mod:`.app`, which imports Gradio) is imported only
then, so ``deepdream`` without the extra says in one line what to install.
"""

import os
import signal
import sys
from typing import Any

import numpy as np

from inceptionism.config import DEFAULT_MODEL, DEFAULT_PRESET, make_config
from inceptionism.errors import DreamError
from inceptionism.extras import require_extra
from inceptionism.frontends.web.studio import (
    DEFAULT_HOST,
    DEFAULT_MAX_UPLOAD,
    DEFAULT_PORT,
    DEFAULT_QUEUE,
    Studio,
    is_loopback,
    parse_size,
)
from inceptionism.session import Dreamer


def warm_up(studio: Studio) -> None:
    """Load the default model and run one tiny dream, so the first click shows a preview at
    once instead of after the model's set-up."""
    cfg = make_config(DEFAULT_PRESET, model=DEFAULT_MODEL, octaves=1, iterations=1)
    Dreamer(DEFAULT_MODEL, cfg, device=studio.device).dream(np.full((96, 96, 3), 128, np.float32))


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    max_upload: str = DEFAULT_MAX_UPLOAD,
    device: str = "auto",
    queue_size: int = DEFAULT_QUEUE,
) -> int:
    """Run the studio until interrupted (Ctrl-C or SIGTERM); its temporary folder, which holds
    every upload and result, is removed at the end."""
    if not is_loopback(host):
        print(
            f"deepdream: warning: the studio listens on {host}, not only on this machine: "
            f"anyone who can reach port {port} can use the page and this machine's {device} "
            "device",
            file=sys.stderr,
        )
    limit = parse_size(max_upload)
    if queue_size < 1:
        raise DreamError(f"invalid queue size {queue_size}: need a whole number >= 1")
    studio = Studio(device, max_upload=limit, queue_size=queue_size)

    def interrupted(_sig: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        # Gradio reads its folders when it is imported: ours, so every upload and cached file
        # lies in one folder, removed when the studio stops.
        os.environ["GRADIO_TEMP_DIR"] = str(studio.temp_dir)
        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
        gr = require_extra("gradio", "ui", "the web studio")
        # the page, imported once Gradio's temporary folder is ours
        from inceptionism.frontends.web.app import CSS, build_app  # optional extra: gradio

        print(f"temporary files: {studio.temp_dir} (removed on exit)", flush=True)
        warm_up(studio)
        app = build_app(studio)
        app.queue(max_size=queue_size, default_concurrency_limit=1)
        theme = gr.themes.Default(
            font=["ui-sans-serif", "system-ui", "sans-serif"],
            font_mono=["ui-monospace", "monospace"],
        )  # system fonts: the page loads nothing from the internet
        app.launch(
            server_name=host,
            server_port=port,
            max_file_size=limit,
            show_error=True,
            ssr_mode=False,
            theme=theme,
            css=CSS,
            footer_links=["api"],
        )
    except KeyboardInterrupt:
        pass
    finally:
        studio.cleanup()
    return 0
