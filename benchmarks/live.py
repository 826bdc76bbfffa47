"""Live dreaming benchmark: fps, latency, dropped frames, strength and coherence.

    PYTHONPATH=src python benchmarks/live.py                 # 160, 256 and 384 px on the CPU
    PYTHONPATH=src python benchmarks/live.py --quick         # 256 px, 2 s of video (~30 s)
    PYTHONPATH=src python benchmarks/live.py --threads 1     # a machine others keep busy
    PYTHONPATH=src python benchmarks/live.py --sizes 256 --seconds 8          # issue 21's check
    PYTHONPATH=src python benchmarks/live.py --sizes 256 --real               # on real footage
    PYTHONPATH=src python benchmarks/live.py --device cuda --sizes 1280   # 720p on a GPU

The footage is benchmarks/video.py's scene (a camera panning and zooming over the bundled
photo while a striped disc crosses it faster, so there is occlusion), back and forth for as long
as asked (``scene_frames``), written as a 24 fps H.264 file and played **in real time** through
``deepdream live``'s own engine (``inceptionism.live``: the grabber thread, the newest-frame
slot, the coherent dreamer) with its defaults, so what is measured is what the command does.
``--clip FILE`` plays another file, e.g. the real footage of ``benchmarks/video_real.py``
(*Tears of Steel*, CC-BY 3.0, cached in ``benchmarks/.clips/``; 640x360, enlarged for a larger
size such as 1280). For each size it prints:

- **fps**: frames dreamed per second of wall time; **dropped**: source frames the dreamer had
  no time for (dropped, never queued);
- **CPU ms/frame**: the process's CPU time (all threads: dream, flow, decoding) per dreamed
  frame: what a frame costs whatever else the machine runs (on a loaded machine the wall
  figures say more about the others than about us);
- **latency** median and p95: from the moment a frame was taken from the source to the moment
  its dream was ready to show;
- **strength**: a held-out judge, EfficientNet-Lite2 (never used to dream: lite0 dreams), its
  default layers' objective on the dream divided by the same on the input frame (1.0: nothing
  happened; target >= 2);
- **input warp**, **dream warp**, **warp err x**: the warping error (Lai et al. 2018,
  ``video.quality``, in levels of 0..255) of the input frames themselves (how much the footage
  changes along its own flow), of the dreams, and the second over the first (target <= 2).
  Both use the same flow and mask, from the input frames, between the same dreamed frames
  (dropped frames make both larger alike), and skip the first, fresh frame.

Targets (issue 21) at 256 px on the 2-core CPU: >= 10 fps, median latency <= 250 ms, strength
>= 2, warp err x <= 2, on the scene and on `--real`. `--old`: live before issue 21.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

JUDGE = "efficientnet-lite2"

from inceptionism.live.loop import LiveSettings  # noqa: E402

#: Live's settings and recipe before issue 21, to compare against: damping 0.9, full steps, the
#: same jitter every frame, two octaves of four steps of the preset's 0.015 with jitter 32.
OLD = LiveSettings(coherence=0.9, frame_iterations=1, frame_step=1.0, own_jitter=False)
OLD_RECIPE = {"octaves": 2, "iterations": 4, "step": 0.015, "jitter": 32}


def scene_frames(frames: int, width: int) -> list[np.ndarray]:
    """benchmarks/video.py's 2 s scene played forwards, backwards, forwards... for ``frames``.

    Its camera crosses the photo in 48 frames and then leaves it: a longer scene made by
    ``make_scene`` alone is black from frame ~100 on (45% of an 8 s clip), where the footage's
    own warping error is 0 and the judge's ratio over a black frame is huge, so both the
    steadiness and the strength said little. Back and forth, every frame shows the photo.
    """
    from video import make_scene

    once = make_scene(48, width)
    cycle = once + once[-2:0:-1]
    return [cycle[i % len(cycle)] for i in range(frames)]


def write_scene(path: Path, frames: int, width: int) -> Path:
    """:func:`scene_frames` as a 24 fps H.264 file (what a camera would give)."""
    return write_frames(path, scene_frames(frames, width))


def write_frames(path: Path, frames: list[np.ndarray]) -> Path:
    """RGB frames as a 24 fps H.264 file (crf 12: next to lossless)."""
    import av

    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=Fraction(24))
        vs.height, vs.width = frames[0].shape[:2]
        vs.pix_fmt = "yuv420p"
        vs.options = {"crf": "12"}
        for rgb in frames:
            for p in vs.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
    return path


def footage_at(clip: Path, size: int, tmp: Path) -> Path:
    """``clip``, or where its long side is under ``size`` (the real footage is 640x360), a copy
    enlarged to it (bicubic), so that ``--sizes 1280 --real`` plays 1280x720 frames."""
    import cv2

    from inceptionism.live.sources import open_source

    source = open_source(clip, None)
    w, h = source.width, source.height
    if max(h, w) >= size:
        return clip
    frames = [rgb for rgb, _ in source.frames()]
    s = size / max(h, w)
    big = (round(w * s) // 2 * 2, round(h * s) // 2 * 2)
    enlarged = [cv2.resize(f, big, interpolation=cv2.INTER_CUBIC) for f in frames]
    return write_frames(tmp / f"{clip.stem}.{size}.mp4", enlarged)


class Judge:
    """A network that did not dream: how much more its default layers see in the dream."""

    def __init__(self, device: str) -> None:
        import torch

        from inceptionism.algorithm.objectives import objective_for
        from inceptionism.config import make_config
        from inceptionism.session import shared_model

        self.torch = torch
        model = shared_model(JUDGE, None, device).fast("fp32")
        self.model, self.device = model, device
        self.objective = objective_for(make_config(model=JUDGE), model)

    def score(self, rgb: np.ndarray) -> float:
        torch = self.torch
        px = torch.from_numpy(np.ascontiguousarray(rgb, np.float32)).permute(2, 0, 1)[None]
        with torch.no_grad():
            acts = self.model.activations(
                self.model.preprocess(px.to(self.device)), self.objective.layers
            )
            return float(self.objective(acts))

    def ratio(self, inputs: list[np.ndarray], dreams: list[np.ndarray]) -> float:
        return float(
            np.mean([self.score(d) / self.score(i) for i, d in zip(inputs, dreams, strict=True)])
        )


def run_size(
    clip: Path, size: int, device: str, judge: Judge | None, settings: LiveSettings, **recipe
) -> dict:
    from inceptionism.config import make_config
    from inceptionism.live import LIVE_RECIPE
    from inceptionism.live.loop import frame_loop, run_live
    from inceptionism.live.sources import open_source
    from inceptionism.video.quality import warping_error

    source = open_source(clip, size)
    config = make_config(**{**LIVE_RECIPE, "max_side": size, **recipe})
    loop = frame_loop(config, settings, (source.height, source.width), device=device)
    inputs: list[np.ndarray] = []
    dreams: list[np.ndarray] = []

    def keep(dream: np.ndarray, frame) -> None:
        inputs.append(frame.rgb)
        dreams.append(dream)

    cpu = time.process_time()
    stats = run_live(source, loop, settings, threading.Event(), keep=keep)
    cpu = time.process_time() - cpu
    row = {
        "size": f"{source.width}x{source.height}",
        "fps": stats.fps,
        "median ms": stats.latency(0.5) * 1000,
        "p95 ms": stats.latency(0.95) * 1000,
        "dreamed": stats.dreamed,
        "dropped": stats.dropped,
        "CPU ms/frame": cpu / max(stats.dreamed, 1) * 1000,
    }
    if len(inputs) >= 3:
        skip = inputs[1:], dreams[1:]  # the first, fresh frame aside
        row["input warp"] = warping_error(skip[0], skip[0])
        row["dream warp"] = warping_error(*skip)
        row["warp err x"] = row["dream warp"] / max(row["input warp"], 1e-6)
        row["strength"] = judge.ratio(*skip) if judge else float("nan")
    return row


def main() -> None:
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="160,256,384", help="long sides in px (default 160,256,384)")
    p.add_argument("--seconds", type=float, default=6.0, help="seconds of footage per size")
    p.add_argument("--device", default="cpu")
    p.add_argument("--clip", type=Path, help="play this video file instead of the scene")
    p.add_argument(
        "--real",
        action="store_true",
        help="play the real footage (Tears of Steel, CC-BY 3.0: video_real.py fetches it once)",
    )
    p.add_argument("--quick", action="store_true", help="256 px, 2 s")
    p.add_argument("--coherence", type=float, default=LiveSettings.coherence)
    p.add_argument(
        "--frame-step",
        type=float,
        default=LiveSettings.frame_step,
        help="a carried frame's step, a share of the recipe's "
        f"(live's default {LiveSettings.frame_step:g}; 1: the old)",
    )
    p.add_argument(
        "--old",
        action="store_true",
        help="live before issue 21 (0.9, full step, the same jitter every frame, 1 step per "
        "octave; 2 octaves of 4 steps of 0.015, jitter 32)",
    )
    p.add_argument("--octaves", type=int, help="octaves (default: live's own)")
    p.add_argument("--threads", type=int, help="CPU threads for the network (default: torch's)")
    p.add_argument("--no-judge", action="store_true", help="skip the strength judge")
    ARGS = p.parse_args()
    if ARGS.threads:
        from inceptionism import runtime

        runtime.set_threads(ARGS.threads)
    if ARGS.real:
        from video_real import CLIP, fetch

        ARGS.clip = fetch(CLIP)
    sizes = [256] if ARGS.quick else [int(s) for s in ARGS.sizes.split(",")]
    seconds = 2.0 if ARGS.quick else ARGS.seconds
    judge = None if ARGS.no_judge else Judge(ARGS.device)
    cols = ["size", "fps", "median ms", "p95 ms", "dreamed", "dropped", "CPU ms/frame", "strength"]
    cols += ["input warp", "dream warp", "warp err x"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            if ARGS.clip:
                clip = footage_at(ARGS.clip, size, Path(tmp))
            else:
                clip = write_scene(
                    Path(tmp) / f"scene{size}.mp4", round(24 * seconds), max(size, 384)
                )
            recipe = {"octaves": ARGS.octaves} if ARGS.octaves else {}
            settings = LiveSettings(coherence=ARGS.coherence, frame_step=ARGS.frame_step)
            if ARGS.old:
                settings, recipe = OLD, {**OLD_RECIPE, **recipe}
            row = run_size(clip, size, ARGS.device, judge, settings, **recipe)
            cells = [
                f"{row.get(c, float('nan')):.2f}"
                if isinstance(row.get(c, 0.0), float)
                else str(row[c])
                for c in cols
            ]
            print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
