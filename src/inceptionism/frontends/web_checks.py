"""What the web studio shows of an upload's text, and which names it takes from an upload: now
:mod:`inceptionism.frontends.web.checks`, re-exported here where it was."""

from inceptionism.frontends.web.checks import (
    BROWSER_VIDEO,
    clip_preview,
    dream_settings,
    page_names,
    page_text,
)

__all__ = ["BROWSER_VIDEO", "clip_preview", "dream_settings", "page_names", "page_text"]
