"""Video coherence benchmark: our flow-coherent dreaming against the ways other tools do it.

    python benchmarks/video.py [--frames 48] [--size 320] [--coherence A,B,...] [--device cpu]
    python benchmarks/video.py real [--width 256] [--frames 20]   # real footage: video_real.py

Makes its own clip from the bundled photo (a camera panning and zooming over it while a disc
crosses the picture faster than the background moves, so there is occlusion), dreams it four
ways and prints, for each:

- the warping error of Lai et al. (ECCV 2018): the mean over t of the masked mean
  ``|out_t - warp(out_{t-1})|``, flow and mask computed on the *input* frames (lower: steadier);
- the dream strength, mean ``|out_t - frame_t|``, over the first and the last 8 frames
  (equal: the dream neither fades nor builds up);
- seconds per frame after the first.

The four: ``--coherence 0`` (every frame on its own), a plain 50% blend of the last dream into
the next frame without flow (DeepDreamVideo, pytorch-deepdream), the last dream warped by the
flow with no occlusion mask and no damping (DeepDreamAnim), and ours. Then the time per frame of
ours against ``--coherence 0`` with the same steps per frame, and the flow's share of it.
``--coherence`` with several values sweeps ours over them (how the default was chosen).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PHOTO = ROOT / "src" / "inceptionism" / "data" / "chelsea.png"


def make_scene(frames: int = 48, width: int = 320, photo: Path = PHOTO) -> list[np.ndarray]:
    """A camera pan and zoom over ``photo`` with a striped disc crossing it: uint8 frames."""
    import cv2
    from PIL import Image

    src = np.asarray(Image.open(photo).convert("RGB"), np.float32)
    ph, pw = src.shape[:2]
    height = round(width * 2 / 3) // 2 * 2
    out = []
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    radius = 0.2 * height
    stripes = 0.5 + 0.5 * np.sin((xx + yy) * 0.35)
    for i in range(frames):
        u = i / 47  # the same motion per frame whatever the length: 48 frames cross the photo
        zoom = 1.0 + 0.25 * u  # the window shrinks: the camera zooms in
        win_w = 0.7 * pw / zoom
        scale = width / win_w
        cx, cy = (0.35 + 0.3 * u) * pw, 0.5 * ph  # and pans left to right
        m = np.float32([[scale, 0, width / 2 - scale * cx], [0, scale, height / 2 - scale * cy]])
        # A camera's optics band-limit the picture: no aliasing when the photo is shrunk.
        smooth = cv2.GaussianBlur(src, (0, 0), 0.6 / scale) if scale < 1 else src
        frame = cv2.warpAffine(smooth, m, (width, height), flags=cv2.INTER_CUBIC)
        # The disc crosses right to left, faster than the background: it hides and reveals.
        ox, oy = (1.05 - 1.2 * u) * width, 0.6 * height
        dist = np.hypot(xx - ox, yy - oy)
        alpha = np.clip(radius - dist + 0.5, 0, 1)[..., None]
        disc = np.stack([230 * stripes, 60 + 120 * stripes, 40 + 0 * stripes], -1)
        stripes_here = np.roll(disc, round(ox), axis=1)  # the pattern moves with the disc
        frame = frame * (1 - alpha) + stripes_here * alpha
        out.append(np.clip(frame + 0.5, 0, 255).astype(np.uint8))
    return out


def run_method(frames_dir: Path, config, **video) -> dict:
    from inceptionism.video.clip import ClipDreamer, VideoSettings

    job = ClipDreamer(frames_dir, config, VideoSettings(**video), device=ARGS.device)
    inputs, outputs, secs, flow_s = [], [], [], []
    for f in job.frames(None):
        inputs.append(f.input)
        outputs.append(f.rgb)
        if f.index:
            secs.append(f.seconds)
            flow_s.append(f.flow_seconds)
    return {
        "inputs": inputs,
        "outputs": outputs,
        "sec": float(np.mean(secs)),
        "flow": float(np.mean(flow_s)),
        "fi": job.frame_iterations,
    }


def figures(r: dict) -> dict:
    from inceptionism.video.quality import strength, warping_error

    ins, outs = r["inputs"], r["outputs"]
    return {
        "warp": warping_error(ins, outs),
        "first8": strength(ins[:8], outs[:8]),
        "last8": strength(ins[-8:], outs[-8:]),
    }


def main(argv: list[str] | None = None) -> int:
    global ARGS
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["real"]:  # two real clips: camera motion, occlusion, a cut, a fast head
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from video_real import main as real

        return real(argv[1:])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--size", type=int, default=320, help="frame width in px")
    p.add_argument("--coherence", default=None, help="ours at these values (default: ours')")
    p.add_argument("--frame-iterations", type=int, default=None)
    p.add_argument("--iterations", type=int, default=None, help="first frame's steps/octave")
    p.add_argument("--octaves", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--only-ours", action="store_true", help="skip the other tools' ways")
    p.add_argument("--save-clip", metavar="OUT", help="only write the clip (e.g. pan.mp4), 24 fps")
    ARGS = p.parse_args(argv)
    if ARGS.save_clip:
        from inceptionism.io.video import VideoWriter

        scene = make_scene(ARGS.frames, ARGS.size)
        h, w = scene[0].shape[:2]
        with VideoWriter(ARGS.save_clip, width=w, height=h, rate=24) as out:
            for i, frame in enumerate(scene):
                out.write(frame, i)
            out.close()
        return 0

    import tempfile

    from PIL import Image

    from inceptionism import make_config
    from inceptionism.video.clip import DEFAULT_COHERENCE

    cfg = make_config(iterations=ARGS.iterations, octaves=ARGS.octaves)
    scene = make_scene(ARGS.frames, ARGS.size)
    h, w = scene[0].shape[:2]
    print(
        f"clip: {len(scene)} frames {w}x{h} from {PHOTO.name} (pan, zoom, crossing disc); "
        f"model {cfg.model}, {cfg.octaves} octaves x {cfg.iterations} steps, device {ARGS.device}"
    )
    values = (
        [float(v) for v in ARGS.coherence.split(",")] if ARGS.coherence else [DEFAULT_COHERENCE]
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i, f in enumerate(scene):
            Image.fromarray(f).save(folder / f"{i}.png")
        rows: list[tuple[str, dict, dict]] = []
        if not ARGS.only_ours:
            for name, kw in (
                ("independent (--coherence 0)", {"coherence": 0.0}),
                ("50% blend, no flow (DeepDreamVideo)", {"mode": "blend"}),
                ("warp, no mask, no damping (DeepDreamAnim)", {"mode": "warp"}),
            ):
                t0 = time.perf_counter()
                r = run_method(folder, cfg, **kw)
                rows.append((name, r, figures(r)))
                print(f"  {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        ours = []
        for a in values:
            t0 = time.perf_counter()
            r = run_method(folder, cfg, coherence=a, frame_iterations=ARGS.frame_iterations)
            name = f"ours (--coherence {a:g}, --frame-iterations {r['fi']})"
            rows.append((name, r, figures(r)))
            ours.append((a, r))
            print(f"  {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)

        from inceptionism.video.quality import warping_error

        print()
        print(
            f"warping error of the input frames themselves (the yardstick's floor): "
            f"{warping_error(scene, scene):.2f}"
        )
        print()
        print("| method | warping error | strength first 8 | last 8 | last/first | s/frame |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, r, f in rows:
            print(
                f"| {name} | {f['warp']:.2f} | {f['first8']:.2f} | {f['last8']:.2f} "
                f"| {f['last8'] / f['first8']:.2f} | {r['sec']:.2f} |"
            )
        if not ARGS.only_ours:
            ind = rows[0][2]
            unmasked = rows[2][2]
            print()
            for name, _r, f in rows[3:]:
                print(
                    f"{name}: warping error {f['warp'] / ind['warp']:.2f}x independent "
                    f"(target <= 0.5), {f['warp'] / unmasked['warp']:.2f}x unmasked warp "
                    f"(<= 0.75); strength last/first {f['last8'] / f['first8']:.2f} (0.7..1.4), "
                    f"{f['last8'] / ind['last8']:.2f}x independent (>= 0.8)"
                )
        # Time: ours against --coherence 0 with the same steps per frame.
        a, r = ours[0]
        same = run_method(folder, cfg.replace(iterations=r["fi"]), coherence=0.0)
        print()
        print(
            f"time per frame (after the first): ours {r['sec']:.3f} s, --coherence 0 with the "
            f"same {r['fi']} steps/octave {same['sec']:.3f} s: +{r['sec'] / same['sec'] - 1:.0%}; "
            f"flow, mask and warp {r['flow']:.3f} s = {r['flow'] / r['sec']:.0%} of ours "
            f"(target: adds <= 30%)"
        )
    return 0


ARGS: argparse.Namespace

if __name__ == "__main__":
    raise SystemExit(main())
