"""Where live dreams go: a recording of each dreamed frame at its source time (with a file
source's sound, cut where the run stopped), and a window where a display exists.

The recording is written like every video of ours (``io.video.VideoWriter``): into a temporary
file that becomes the output only when complete, so Ctrl-C leaves a playable file and a failed
run leaves nothing.
"""

from __future__ import annotations

import os
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from inceptionism.extras import require_extra
from inceptionism.io import video as vio
from inceptionism.live.sources import Captured, FileSource, Source

LIVE_TIME_BASE = Fraction(1, 1000)  # a camera's or stream's frames are timed to the ms


class Recorder:
    """Each dreamed frame into ``out`` at its source time; ``close()`` publishes the file."""

    def __init__(
        self,
        out: Path,
        source: Source,
        *,
        crf: int | None = None,
        overwrite: bool = False,
        notify: vio.Notify | None = None,
    ) -> None:
        clip = source.clip if isinstance(source, FileSource) else None
        self.time_base = clip.time_base if clip is not None else LIVE_TIME_BASE
        self.rate = source.rate
        self.writer = vio.VideoWriter(
            out,
            width=source.width,
            height=source.height,
            rate=source.rate,
            time_base=self.time_base,
            crf=crf,
            audio_from=source.audio_from,
            notify=notify,
            overwrite=overwrite,
        )

    def keep(self, rgb: np.ndarray, frame: Captured) -> None:
        """Write one dream at the time its source frame was taken."""
        self.writer.write(rgb, round(frame.t / self.time_base))

    def close(self, last_t: float) -> Path:
        """Finish the file, its sound ending one frame after ``last_t`` (source seconds)."""
        self.writer.end_sound(last_t + float(1 / self.rate))
        return self.writer.close()

    def abort(self) -> None:
        self.writer.abort()


def has_display() -> bool:
    """Whether a window could be opened: a display (on X11/Wayland systems) and an OpenCV
    built with its GUI (``opencv-python-headless`` has none)."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False
    cv2 = require_extra("cv2", "video", "live dreaming")
    return "GUI:" in cv2.getBuildInformation() and not _gui_is_none(cv2.getBuildInformation())


def _gui_is_none(info: str) -> bool:
    for line in info.splitlines():
        if line.strip().startswith("GUI:"):
            return line.split(":", 1)[1].strip().upper() == "NONE"
    return True


class Window:
    """The dream shown in an OpenCV window; closing it or pressing q or Esc ends the run."""

    TITLE = "deepdream live (q: quit)"

    def __init__(self) -> None:
        self.cv2: Any = require_extra("cv2", "video", "live dreaming")
        self.cv2.namedWindow(self.TITLE, self.cv2.WINDOW_NORMAL)

    def show(self, rgb: np.ndarray) -> bool:
        """Show one dream; False once the viewer wants to stop."""
        cv2 = self.cv2
        cv2.imshow(self.TITLE, np.ascontiguousarray(rgb[..., ::-1]))
        key = cv2.waitKey(1) & 0xFF
        visible = cv2.getWindowProperty(self.TITLE, cv2.WND_PROP_VISIBLE) >= 1
        return visible and key not in (ord("q"), 27)

    def close(self) -> None:
        self.cv2.destroyWindow(self.TITLE)
