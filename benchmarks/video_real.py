"""Video coherence on real footage: does the dream hold, steady, through motion, occlusion, a cut?

    PYTHONPATH=src python benchmarks/video_real.py [--width 256] [--frames 20] [--device cpu]

The synthetic scene of ``benchmarks/video.py`` moves rigidly; real footage does not. Two clips
cut from a 10 s excerpt of *Tears of Steel* (live action; (c) 2012 Blender Foundation,
mango.blender.org, CC-BY 3.0), as bundled in github.com/awwkl/ZWM at ``data/demo_videos/
clip_01_tears_of_steel.mp4`` (640x360, 240 frames; fetched once at a pinned commit into
``benchmarks/.clips/``, checked by SHA-256, not committed):

- ``shots``: frames 45-84: a man walking on a bridge past a robot, the camera following
  (camera motion, occlusion by the railing), then the film's cut (frame 65) to a close-up of
  two people at a lab bench, heads moving: two shots of ``--frames`` each at ``--width`` px, 16:9;
- ``head``: frames 80 onwards, ``--frames`` + 4 frames, the right part of the picture: the man
  turns his head and the woman raises hers in front of the still lab, at 176x144 (the issue's
  size).

Each is dreamed with the default settings, every frame on its own (``--coherence 0``) and ours
(the default coherence), and the table gives, ours against independent frames:

- warping error (Lai et al. 2018, ``video/quality.py``) and its fine-texture part (the
  "boiling" of grain), as ratios (targets <= 0.5);
- hold: the dream's strength over frames 5-15 of each shot against that shot's first frame
  (target >= 0.8), judged by a network that did not dream (EfficientNet-Lite1: its objective's
  rise over the input frame's), so a fade cannot hide in pixel noise;
- strength against independent frames, by the same judge (target >= 0.8);
- ghosting (``quality.ghosting``): the last dream left in place where the flow fails and the
  picture changed.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

CACHE = ROOT / "benchmarks" / ".clips"
SOURCE = "https://raw.githubusercontent.com/awwkl/ZWM/{commit}/data/demo_videos/{name}"
COMMIT = "be5125291de4ecce43d0129d8c1778016628cf82"
CLIP = "clip_01_tears_of_steel.mp4"  # Tears of Steel (c) Blender Foundation, CC-BY 3.0
SHA256 = {CLIP: "255457e25f7001063ae259b973e48c10f5088b131649e9649be43d2b11c09434"}
JUDGE = "efficientnet-lite1"
HOLD = (5, 16)  # frames 5-15 after each shot's first


def fetch(name: str) -> Path:
    """The cached clip, downloaded once and checked; or a one-line instruction to place it."""
    path = CACHE / name
    if not path.exists():
        url = SOURCE.format(commit=COMMIT, name=name)
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                data = response.read()
        except OSError as e:
            raise SystemExit(f"cannot fetch {url} ({e}): put the file at {path}") from None
        CACHE.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SHA256[name]:
        raise SystemExit(f"{path}: not the expected file (SHA-256 {digest}); delete it")
    return path


def read_frames(
    name: str, first: int, count: int, size: tuple[int, int], across: float = 0.5
) -> list[np.ndarray]:
    """``count`` frames from ``first``, cropped to the aspect of ``size`` and shrunk; ``across``
    places the crop (0: left edge, 0.5: centred, 1: right edge)."""
    import av
    import cv2

    w, h = size
    out = []
    with av.open(str(fetch(name))) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i < first:
                continue
            if len(out) == count:
                break
            rgb = frame.to_ndarray(format="rgb24")
            fh, fw = rgb.shape[:2]
            cw, ch = min(fw, round(fh * w / h)), min(fh, round(fw * h / w))
            x, y = round((fw - cw) * across), (fh - ch) // 2
            out.append(cv2.resize(rgb[y : y + ch, x : x + cw], size, interpolation=cv2.INTER_AREA))
    return out


def clips(width: int, frames: int) -> dict[str, tuple[list[np.ndarray], list[int]]]:
    """name -> (frames, first frame of each shot)."""
    size = (width, round(width * 9 / 16) // 2 * 2)
    bridge = read_frames(CLIP, 65 - frames, frames, size)  # the film cuts at frame 65
    bench = read_frames(CLIP, 65, frames, size)
    head = read_frames(CLIP, 80, frames + 4, (176, 144), across=1.0)
    return {"shots": (bridge + bench, [0, len(bridge)]), "head": (head, [0])}


def dream(frames: list[np.ndarray], config, device: str, **video) -> list[np.ndarray]:
    from inceptionism.io.video import Frame
    from inceptionism.video.clip import FrameLoop, VideoSettings

    loop = FrameLoop(config, VideoSettings(**video), frames[0].shape[:2], device=device)
    inputs = (Frame(i, f, i) for i, f in enumerate(frames))
    return [d.rgb for d in loop.frames(inputs)]


class Judge:
    """A network that did not dream scores each frame: the rise of its objective (default
    layers) over the input frame's, so 0 is no dream."""

    def __init__(self) -> None:
        from inceptionism import make_config
        from inceptionism.models import load_model

        self.model = load_model(JUDGE).fast()
        self.config = make_config(model=JUDGE)

    def _value(self, rgb: np.ndarray) -> float:
        import torch

        from inceptionism.algorithm.objectives import objective_for

        objective = objective_for(self.config, self.model)
        px = torch.from_numpy(np.array(rgb, np.float32)).permute(2, 0, 1)[None].float()
        with torch.no_grad():
            acts = self.model.activations(self.model.preprocess(px), objective.layers)
            return float(objective(acts))

    def lift(self, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> np.ndarray:
        return np.array(
            [self._value(o) / self._value(i) - 1 for i, o in zip(inputs, outputs, strict=True)]
        )


def figures(inputs, outputs, shots: list[int], judge: Judge) -> dict[str, float]:
    from inceptionism.video import quality

    lift = judge.lift(inputs, outputs)
    hold = []
    for s, start in enumerate(shots):
        end = shots[s + 1] if s + 1 < len(shots) else len(inputs)
        window = lift[start + HOLD[0] : min(start + HOLD[1], end)]
        hold.append(float(window.mean() / lift[start]))
    return {
        "warp": quality.warping_error(inputs, outputs),
        "fine": quality.fine_flicker(inputs, outputs),
        "hold": hold,
        "lift": float(lift.mean()),
        "ghost": quality.ghosting(inputs, outputs),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--width", type=int, default=256, help="width of the shots clip (px)")
    p.add_argument("--frames", type=int, default=20, help="frames per shot (head: 4 more)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--only", default="", help="only the clips whose name contains this")
    p.add_argument("--coherence", type=float, default=None, help="ours at this (default: ours)")
    p.add_argument("--frame-iterations", type=int, default=None)
    p.add_argument(
        "--colour-tolerance", default=None, help="ours' colour check (levels, or off: before)"
    )
    p.add_argument(
        "--cache", metavar="DIR", help="save every frame, input and dreams, as PNG; reuse them"
    )
    p.add_argument("--strip", metavar="PNG", help="then a strip of the shots clip from --cache")
    p.add_argument("--dream-only", action="store_true", help="only dream ours into --cache")
    p.add_argument("--label", default="ours", help="name of ours in the table and the cache")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for every dream (default: as free cores allow, so the pixels, and "
        "the figures by a few hundredths, follow the machine's load)",
    )
    args = p.parse_args(argv)
    if args.threads:
        from inceptionism import runtime

        runtime.set_threads(args.threads)

    from inceptionism import make_config
    from inceptionism.video.clip import DEFAULT_COHERENCE

    cfg = make_config()
    judge = Judge()
    ours_kw = {"coherence": args.coherence if args.coherence is not None else DEFAULT_COHERENCE}
    if args.frame_iterations is not None:
        ours_kw["frame_iterations"] = args.frame_iterations
    if args.colour_tolerance is not None:
        off = args.colour_tolerance == "off"
        ours_kw["colour_tolerance"] = None if off else float(args.colour_tolerance)
    print(f"model {cfg.model}, default preset, judged by {JUDGE}; ours: {ours_kw}")
    print(
        "| clip | method | warping error | x indep. | fine flicker | x indep. | hold 5-15 "
        "per shot | judged strength | x indep. | ghosting | s |"
    )
    print("|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|")
    for name, (frames, shots) in clips(args.width, args.frames).items():
        if args.only not in name:
            continue
        rows = {}
        methods = (("independent", {"coherence": 0.0}), (args.label, ours_kw))
        for method, kw in methods[1:] if args.dream_only else methods:
            t0 = time.perf_counter()
            folder = Path(args.cache) / name if args.cache else None
            outs = load(folder, method, len(frames)) if folder else None
            if outs is None:
                outs = dream(frames, cfg, args.device, **kw)
                if folder:
                    save(folder, method, frames, outs)
            seconds = time.perf_counter() - t0
            rows[method] = (figures(frames, outs, shots, judge), seconds)
        if args.dream_only:
            continue
        ind = rows["independent"][0]
        for method, (f, seconds) in rows.items():
            hold = " / ".join(f"{h:.2f}" for h in f["hold"])
            print(
                f"| {name} | {method} | {f['warp']:.2f} | {f['warp'] / ind['warp']:.2f} "
                f"| {f['fine']:.2f} | {f['fine'] / ind['fine']:.2f} | {hold} | {f['lift']:.3f} "
                f"| {f['lift'] / ind['lift']:.2f} | {f['ghost']:.2f} | {seconds:.0f} |",
                flush=True,
            )
    if args.strip and args.cache:
        strip(Path(args.cache) / "shots", args.label, 2 * args.frames, Path(args.strip))
    return 0


def strip(folder: Path, method: str, count: int, out: Path, picks: int = 6) -> None:
    """``picks`` frames spread over the clip: the input above, the dream below (one PNG)."""
    from PIL import Image

    frames = load(folder, "input", count)
    dreams = load(folder, method, count)
    if frames is None or dreams is None:
        raise SystemExit(f"no saved frames of {method} in {folder}: run with --cache first")
    chosen = np.linspace(0, count - 1, picks).round().astype(int)
    rows = [np.concatenate([f[i] for i in chosen], 1) for f in (frames, dreams)]
    picture = Image.fromarray(np.concatenate(rows, 0))  # 256 colours: a quarter of the bytes
    picture.quantize(256, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        out, optimize=True
    )


def load(folder: Path, method: str, count: int) -> list[np.ndarray] | None:
    """A method's frames as a previous run saved them, if all are there."""
    from PIL import Image

    paths = [folder / f"{method}_{i:03d}.png" for i in range(count)]
    if not all(p.exists() for p in paths):
        return None
    return [np.asarray(Image.open(p).convert("RGB")) for p in paths]


def save(folder: Path, method: str, inputs, outputs) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, (a, b) in enumerate(zip(inputs, outputs, strict=True)):
        Image.fromarray(a).save(folder / f"input_{i:03d}.png")
        Image.fromarray(b).save(folder / f"{method}_{i:03d}.png")


if __name__ == "__main__":
    raise SystemExit(main())
