"""The options of the commands beside ``dream`` and ``video``, declared in the schema too: the
endless zoom's camera, the atlas, the web studio's server, the live dream and the Ray runs.

Their defaults live here (the modules that use them take them from here), so the flags, the
Python keywords and the docs' option reference (``frontends/reference.py``) say the same.
:data:`SCHEMA` lists every option of every command.
"""

from __future__ import annotations

from dataclasses import replace

from .options import CLI, OPTION, OPTIONS, PYTHON, VIDEO_OPTION, VIDEO_OPTIONS, Option

DEFAULT_ZOOM = 1.25  # per second: a slow drift in, new dream detail appears as it grows
DEFAULT_FPS = 24
#: Side of the picture each atlas tile dreams on unless told otherwise: small, so a sheet of 20
#: tiles takes about a minute on a laptop CPU.
ATLAS_SIDE = 128
#: Channels of one layer an atlas shows when none are named: a screenful.
DEFAULT_CHANNELS = 16
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
DEFAULT_MAX_UPLOAD = "25MB"
DEFAULT_QUEUE = 8
DEFAULT_WARM_UP = 8
DEFAULT_CROSSFADE = 8  # measured: benchmarks/video_seams.py (benchmarks/README.md)
#: ``deepdream live``'s damping: more carried than a clip's, as its carried frames take a small
#: share of the step (``LiveSettings.frame_step``; issue 21: as strong, far steadier; measured:
#: benchmarks/live_steady.py).
LIVE_COHERENCE = 0.97
#: ``--chunk-frames`` by default: the clip split evenly over the workers, within these bounds.
CHUNK_BOUNDS = (24, 120)

_BOTH = frozenset({CLI, PYTHON})
_CLI_ONLY = frozenset({CLI})

#: ``deepdream zoom``'s camera (``dream_zoom``'s keywords), and the two video options it takes.
ZOOM_OPTIONS: tuple[Option, ...] = (
    Option(
        "frames", "int", None, "number of frames", "zoom", False, minimum=1, maximum=1_000_000,
        metavar="N", required=True, where=_BOTH, word="int",
    ),
    Option(
        "fps", "float", DEFAULT_FPS, f"frame rate (default {DEFAULT_FPS})", "zoom", False,
        minimum=0.01, maximum=1000.0, where=_BOTH, word="finite",
    ),
    Option(
        "zoom", "float", DEFAULT_ZOOM,
        f"zoom factor per second (default {DEFAULT_ZOOM}; < 1 zooms out)", "zoom", False,
        minimum=0.01, maximum=100.0, metavar="Z", where=_BOTH, word="finite",
    ),
    Option(
        "rotate", "float", 0.0, "degrees per second, counter-clockwise (default 0)", "zoom",
        False, minimum=-36000.0, maximum=36000.0, metavar="DEG", where=_BOTH, word="finite",
    ),
    Option(
        "translate", "pair", (0.0, 0.0), "camera shift in pixels per second (default 0,0)",
        "zoom", False, minimum=-1e6, maximum=1e6, metavar="X,Y", where=_BOTH, word="xy",
    ),
    VIDEO_OPTION["frame_iterations"],
    VIDEO_OPTION["crf"],
)  # fmt: skip

#: ``deepdream atlas``: its own, and the dream options it takes (some with its defaults).
ATLAS_OPTIONS: tuple[Option, ...] = (
    replace(OPTION["model"], where=_CLI_ONLY),
    Option(
        "layer", "str", None, "one tile per channel of this layer (default: one per layer)",
        "atlas", False, optional=True, where=_CLI_ONLY,
    ),
    Option(
        "channels", "str", None,
        f"channels of --layer, e.g. 0-63 or 3,7,9 (default: the first {DEFAULT_CHANNELS})",
        "atlas", False, optional=True, metavar="LIST", where=_CLI_ONLY,
    ),
    replace(
        OPTION["max_side"], default=ATLAS_SIDE, help=f"size of each tile (default {ATLAS_SIDE})",
        where=_CLI_ONLY,
    ),
    replace(OPTION["preset"], where=_CLI_ONLY),
    *(replace(OPTION[name], where=_CLI_ONLY) for name in ("octaves", "iterations", "seed")),
    Option(
        "columns", "int", None, "tiles per row (default: about square)", "atlas", False,
        optional=True, where=_CLI_ONLY, word="int",
    ),
    replace(OPTION["device"], where=_CLI_ONLY),
    replace(OPTION["weights"], where=_CLI_ONLY),
    replace(OPTION["overwrite"], help="replace an existing sheet"),
    OPTION["quiet"],
)  # fmt: skip

#: ``deepdream ui``: where the web studio listens, and how much it takes.
STUDIO_OPTIONS: tuple[Option, ...] = (
    Option(
        "host", "str", DEFAULT_HOST, f"address to listen on (default {DEFAULT_HOST})", "studio",
        False, where=_CLI_ONLY,
    ),
    Option(
        "port", "int", DEFAULT_PORT, f"port (default {DEFAULT_PORT})", "studio", False,
        where=_CLI_ONLY, word="int",
    ),
    Option(
        "max_upload", "str", DEFAULT_MAX_UPLOAD,
        f"largest upload the server takes, e.g. 25MB (default {DEFAULT_MAX_UPLOAD})", "studio",
        False, metavar="SIZE", where=_CLI_ONLY,
    ),
    replace(OPTION["device"], where=_CLI_ONLY),
    Option(
        "queue", "int", DEFAULT_QUEUE,
        f"dreams that may wait for the device (default {DEFAULT_QUEUE})", "studio", False,
        metavar="N", where=_CLI_ONLY, word="int",
    ),
)  # fmt: skip


def _ray_options(what: str) -> tuple[Option, ...]:
    """The options of a Ray run (never in a recipe); ``what`` is spread: ``batch`` (``deepdream
    dream``) or ``clip`` (``deepdream video``, whose frames the driver always ships)."""
    shared = (
        "--ray: the workers see the same files at the same paths; they read and write them"
        if what == "batch"
        else "--ray: the workers read --weights and --guide at the same paths (not shipped)"
    )
    return (
        Option(
            "ray", "str", None, f"spread the {what} over Ray: a local Ray without ADDRESS, or "
            "join one (auto, ray://HOST:PORT, HOST:PORT); pip install 'inceptionism[ray]'",
            "ray", False, optional=True, metavar="ADDRESS", where=_CLI_ONLY, bare="",
        ),
        Option(
            "workers", "int", None,
            "--ray: N workers (default: one per GPU, or one per 4 CPU cores)", "ray", False,
            optional=True, metavar="N", where=_CLI_ONLY, word="int",
        ),
        Option("shared_fs", "bool", False, shared, "ray", False, where=_CLI_ONLY),
    )  # fmt: skip


RAY_OPTIONS = _ray_options("batch")
#: ``deepdream video --ray``: how the clip is cut into chunks for the workers.
RAY_VIDEO_OPTIONS: tuple[Option, ...] = (
    *_ray_options("clip"),
    Option(
        "chunk_frames", "int", None,
        f"--ray: frames per chunk (default: the clip split evenly over the workers, "
        f"{CHUNK_BOUNDS[0]} to {CHUNK_BOUNDS[1]})", "ray", False, optional=True, metavar="K",
        where=_CLI_ONLY, word="int",
    ),
    Option(
        "warm_up_frames", "int", DEFAULT_WARM_UP,
        f"--ray: frames each chunk dreams before its own and drops, so its dream is already "
        f"carried along the motion at its start (default {DEFAULT_WARM_UP})", "ray", False,
        metavar="W", where=_CLI_ONLY, word="int",
    ),
    Option(
        "crossfade_frames", "int", DEFAULT_CROSSFADE,
        f"--ray: frames before each seam blended from both chunks, at most W and K "
        f"(default {DEFAULT_CROSSFADE})", "ray", False, metavar="X", where=_CLI_ONLY,
        word="int",
    ),
)  # fmt: skip

#: ``deepdream live``: its source and own flag, and the clip options it takes (the dream's come
#: between).
LIVE_OPTIONS: tuple[Option, ...] = (
    Option(
        "source", "str", "0", "camera index (default 0), a video file played in real time, or "
        "a stream URL (rtsp://, http://, ...)", "live", False, where=_CLI_ONLY, positional=True,
    ),
    Option("no_window", "bool", False, "show no window", "live", False, where=_CLI_ONLY),
    replace(
        VIDEO_OPTION["coherence"], default=LIVE_COHERENCE,
        help=f"share of the last frame's dream carried along the motion, 0..1 (default "
        f"{LIVE_COHERENCE}; 0 = every frame on its own)",
    ),
    *(VIDEO_OPTION[name] for name in ("flow_quality", "duration", "frame_iterations", "crf")),
)  # fmt: skip

#: Every command's options, by command (``ray``: ``dream --ray``'s; ``video-ray``: ``video``'s).
SCHEMA: dict[str, tuple[Option, ...]] = {
    "dream": OPTIONS,
    "video": VIDEO_OPTIONS,
    "zoom": ZOOM_OPTIONS,
    "atlas": ATLAS_OPTIONS,
    "ui": STUDIO_OPTIONS,
    "live": LIVE_OPTIONS,
    "ray": RAY_OPTIONS,
    "video-ray": RAY_VIDEO_OPTIONS,
}
ZOOM_OPTION: dict[str, Option] = {o.name: o for o in ZOOM_OPTIONS}
