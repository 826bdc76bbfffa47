"""Live dreaming's steadiness against its strength, offline: how the carried frames are dreamed.

    PYTHONPATH=src python benchmarks/live_steady.py                       # live's default, old
    PYTHONPATH=src python benchmarks/live_steady.py --settings 0.97:0.333,0.98:0.25,0.9:1

``benchmarks/live.py`` plays a clip in real time, so which frames get dreamed depends on the
machine's load; here every ``--stride``-th frame (2: what 12 fps keeps of 24 fps footage) goes
through live's own frame loop (``live.loop.frame_loop``, live's recipe) one after another, so
settings compare on the very same frames whatever the load. Both clips of ``live.py``: its
scene (back and forth over the sample photo, 8 s) and the real footage (``--real``'s *Tears of
Steel*, CC-BY 3.0, 10 s, a cut at 2.7 s); ``still``: a still camera, one frame of that footage
30 times with sensor noise (sd 2 levels). Each setting is ``coherence:frame_step`` (the damping,
and a carried frame's step as a share of the recipe's; each carried frame its own jitter),
optionally ``:frame_iterations`` and ``@key=value;...`` overrides of live's recipe (e.g.
``0.97:0.333:2@octaves=2;iterations=4``), or ``old`` (live before issue 21: 0.9:1:1, the same
jitter every frame, 2 octaves of 4 steps of 0.015, jitter 32); per clip and setting it
prints the warping error of the footage (input warp) and of the dreams (dream warp) and their ratio
(target <= 2), the held-out judge's strength (EfficientNet-Lite2, as ``live.py``; target >= 2)
on every ``--judge-every``-th frame, the mean ``|dream - frame|`` in levels, and CPU ms a frame.
``--still-dreams`` adds, per clip, the judge's strength of still dreams of a few frames: live's
recipe on a fresh frame, and the default preset's full dream (4 octaves of 15 steps).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from live import OLD, OLD_RECIPE, Judge, write_scene  # noqa: E402
from video_real import CLIP, fetch  # noqa: E402

from inceptionism.config import make_config  # noqa: E402
from inceptionism.io.video import Frame  # noqa: E402
from inceptionism.live import LIVE_RECIPE  # noqa: E402
from inceptionism.live.loop import LiveSettings, frame_loop  # noqa: E402
from inceptionism.live.sources import open_source  # noqa: E402
from inceptionism.video.quality import strength, warping_error  # noqa: E402


def clip_frames(kind: str, size: int, stride: int, tmp: Path) -> list[np.ndarray]:
    """Every ``stride``-th frame of the scene or the real footage, as live reads them; or the
    still camera (``still``)."""
    path = fetch(CLIP) if kind != "scene" else write_scene(tmp / "scene.mp4", 192, max(size, 384))
    frames = [rgb for rgb, _ in open_source(path, size).frames()]
    if kind == "still":
        rng = np.random.default_rng(0)
        noisy = [frames[20] + rng.normal(0, 2, frames[20].shape) for _ in range(30)]
        return [np.clip(np.rint(f), 0, 255).astype(np.uint8) for f in noisy]
    return frames[::stride]


def measure(
    frames: list[np.ndarray],
    setting: tuple[LiveSettings, dict[str, Any]],
    judge: Judge,
    judge_every: int,
) -> dict[str, float]:
    """One setting on one clip: the row's figures (the first, fresh frame left out)."""
    settings, recipe = setting
    config = make_config(**{**LIVE_RECIPE, **recipe})
    loop = frame_loop(config, settings, frames[0].shape[:2], device="cpu")
    cpu = time.process_time()
    dreams = [d.rgb for d in loop.frames(Frame(i, f, i) for i, f in enumerate(frames))]
    cpu = (time.process_time() - cpu) / len(frames) * 1000
    inputs, dreams = frames[1:], dreams[1:]
    own, dream = warping_error(inputs, inputs), warping_error(inputs, dreams)
    judged = range(0, len(inputs), judge_every)
    scores = [judge.score(dreams[i]) / judge.score(inputs[i]) for i in judged]
    return {
        "input warp": own,
        "dream warp": dream,
        "warp err x": dream / own,
        "strength": float(np.mean(scores)),
        "levels": strength(inputs, dreams),
        "CPU ms/frame": cpu,
    }


def still_dreams(frames: list[np.ndarray], judge: Judge) -> str:
    """The judge's strength of still dreams of every 25th frame, each on its own: live's
    recipe, and the default preset's full dream (what a still photo gets, ~30x the steps)."""
    from inceptionism.session import Dreamer

    picked, cells = frames[5::25], []
    for name, config in (("live's", make_config(**LIVE_RECIPE)), ("default", make_config())):
        dreamer = Dreamer(config.model, config, device="cpu")
        dreams = [np.clip(np.rint(dreamer.dream(f)), 0, 255).astype(np.uint8) for f in picked]
        ratio = np.mean(
            [judge.score(d) / judge.score(f) for d, f in zip(dreams, picked, strict=True)]
        )
        cells.append(f"{name} recipe {ratio:.2f}")
    return f"still dreams of {len(picked)} frames: " + ", ".join(cells)


def parse_setting(item: str) -> tuple[LiveSettings, dict[str, Any]]:
    """``coherence:frame_step[:frame_iterations][@key=value;...]`` as live's settings and
    overrides of its recipe (``@octaves=1;iterations=8;jitter=8``), or ``old``."""
    if item == "old":
        return OLD, OLD_RECIPE
    head, _, tail = item.partition("@")
    recipe = {k: json.loads(v) for k, v in (kv.split("=") for kv in tail.split(";") if kv)}
    coherence, step, *iterations = (float(v) for v in head.split(":"))
    settings = LiveSettings(coherence=coherence, frame_step=step)
    if iterations:
        settings = replace(settings, frame_iterations=int(iterations[0]))
    return settings, recipe


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--settings",
        default=f"{LiveSettings.coherence}:{LiveSettings.frame_step:.3f},old",
        help="coherence:frame_step[:frame_iterations][@key=value;...] or old, comma-separated "
        "(default: live's, then old)",
    )
    p.add_argument("--clips", default="scene,real,still", help="scene, real, still (default all)")
    p.add_argument("--size", type=int, default=LIVE_RECIPE["max_side"])
    p.add_argument("--stride", type=int, default=2, help="dream every Nth frame (default 2)")
    p.add_argument("--judge-every", type=int, default=4, help="judge every Nth dream")
    p.add_argument(
        "--still-dreams", action="store_true", help="also the judge on still dreams, per clip"
    )
    args = p.parse_args()
    judge = Judge("cpu")
    cols = ["input warp", "dream warp", "warp err x", "strength", "levels", "CPU ms/frame"]
    print("| clip | settings | " + " | ".join(cols) + " |")
    print("|" + "---|" * (len(cols) + 2))
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.clips.split(","):
            frames = clip_frames(kind, args.size, args.stride, Path(tmp))
            for item in args.settings.split(","):
                row = measure(frames, parse_setting(item), judge, args.judge_every)
                cells = " | ".join(f"{row[c]:.2f}" for c in cols)
                print(f"| {kind} | {item} | {cells} |", flush=True)
            if args.still_dreams:
                print(f"{kind}: {still_dreams(frames, judge)}", flush=True)


if __name__ == "__main__":
    main()
