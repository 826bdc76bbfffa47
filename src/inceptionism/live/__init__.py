"""Live dreaming: a camera, a stream or a file played in real time, dreamed as it comes.

``sources`` opens what is dreamed (a camera through OpenCV, a file or stream URL through PyAV),
``loop`` runs the real-time loop (a grabber thread whose newest frame wins: late frames are
dropped, never queued) with the flow-coherent dreamer of ``video.clip``, and ``record`` writes
what was shown and says how it went. Same layer as ``video``: never imports a front end.
"""

from inceptionism.live.loop import LIVE_RECIPE, LiveSettings, LiveStats, run_live
from inceptionism.live.sources import Captured, Source, open_source

__all__ = [
    "LIVE_RECIPE",
    "Captured",
    "LiveSettings",
    "LiveStats",
    "Source",
    "open_source",
    "run_live",
]
