"""Video in and out with PyAV: frames with their timestamps, rotation and sound kept.

Reading gives upright uint8 RGB frames (the display rotation applied, so the network sees the
picture the right way up) with each frame's presentation timestamp in the stream's own time
base; writing puts the timestamps back unchanged, so 30000/1001 and variable rates survive,
rotates the pixels back and sets the same display rotation, and copies the audio packets
without re-encoding where the container can hold them. Every output is written to a temporary
file beside it and renamed into place at the end, so an error or Ctrl-C leaves no partial file.

The work is split by concern: :mod:`.video_reader` (decoding, checks before the first frame),
:mod:`.video_writer` (encoding, publishing) and :mod:`.video_audio` (the sound); this module
is where callers find them.

PyAV and OpenCV are the ``inceptionism[video]`` extra: they are imported when first used.
"""

from inceptionism.io.video_checks import matroska_missing_bytes  # its old home
from inceptionism.io.video_reader import (
    FOLDER_RATE,
    FRAME_SUFFIXES,
    INPUT_SUFFIXES,
    Clip,
    Frame,
    Notify,
    av_reason,
    natural_key,
    open_clip,
    parse_time,
    require_av,
    t_or_zero,
)
from inceptionism.io.video_writer import (
    DEFAULT_CRF,
    OUTPUT_FRAME,
    OUTPUT_KINDS,
    VideoWriter,
    needs_even,
    output_kind,
)

__all__ = [
    "DEFAULT_CRF",
    "FOLDER_RATE",
    "FRAME_SUFFIXES",
    "INPUT_SUFFIXES",
    "OUTPUT_FRAME",
    "OUTPUT_KINDS",
    "Clip",
    "Frame",
    "Notify",
    "VideoWriter",
    "av_reason",
    "matroska_missing_bytes",
    "natural_key",
    "needs_even",
    "open_clip",
    "output_kind",
    "parse_time",
    "require_av",
    "t_or_zero",
]
