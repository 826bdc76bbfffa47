"""What the tiles' context margin costs and buys: overlap, time per step, and fidelity.

    PYTHONPATH=src python benchmarks/tile_margin.py [--size 1536x1024] [--tile 512]

The default model and layer (EfficientNet-Lite0, ``block10``), the sample scaled to ``--size``
(small enough to take its whole gradient too). For margins of 1 to 4 strides of the deepest
layer (the engine uses ``tiling.MARGIN_STRIDES``) at one window size: the pixels the windows
evaluate over the image's (the overlap), the seconds of a tiled step against the whole image's,
and the correlation of the tiled gradient with the whole one (mean over three grid offsets).
Then, for a 4000x2668 photo's full-size octave, the graph's memory and the overlap at each window
size: at grid offset 0 for margins of 2 to 4 strides, and averaged over the grid offsets a step
draws from (all of them, as before ``tiling.grid_offsets``, or those it keeps).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "benchmarks")]

import inceptionism  # noqa: E402, F401  (first: the OpenMP spin setting, before torch)

# isort: split
import torch  # noqa: E402
from run import sample_pixels  # noqa: E402  (benchmarks/run.py: the suite's photo)

from inceptionism import runtime  # noqa: E402
from inceptionism.algorithm import tiling  # noqa: E402
from inceptionism.algorithm.engine import loss_and_gradient  # noqa: E402
from inceptionism.algorithm.objectives import reference  # noqa: E402
from inceptionism.algorithm.plan import make_plan  # noqa: E402
from inceptionism.models import load_model  # noqa: E402


def overlap(
    shape: tuple[int, int], tile: int, margin: int, align: int, draw: str = "offset 0"
) -> float:
    """Window pixels over image pixels for one step: at grid offset 0, or averaged over the
    offsets the engine draws from (``draw="engine"``, ``tiling.grid_offsets``) or over all
    multiples of ``align`` below a core (``"all"``, what it drew from before)."""

    def axis(size: int) -> float:
        core = tile - 2 * margin
        offsets = {
            "offset 0": (0,),
            "engine": tiling.grid_offsets(size, tile, margin, align),
            "all": tuple(range(0, core // align * align, align)),
        }[draw]
        return statistics.mean(
            sum(s[3] - s[2] for s in tiling.spans(size, tile, margin, align, o)) for o in offsets
        )

    return axis(shape[0]) * axis(shape[1]) / (shape[0] * shape[1])


def seconds(fn, repeat: int = 3) -> float:
    fn()
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="1536x1024", help="WxH")
    p.add_argument("--tile", type=int, default=512, help="window side in px")
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    model = load_model("efficientnet-lite0").fast()
    objective = reference(dict(model.default_layers))
    pixels = torch.from_numpy(sample_pixels((w, h))).permute(2, 0, 1)[None].contiguous()
    x = model.preprocess(pixels)
    plan = make_plan(model, objective)
    align = tiling.geometry(plan)[0]

    def grad(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return loss_and_gradient(model, objective, t)

    with runtime.keep_freed_memory():
        _, whole = grad(x)
        whole_s = seconds(lambda: grad(x))
        print(f"# {w}x{h}, {args.tile} px windows, stride {align} px; whole step {whole_s:.3f} s")
        print(
            "| margin (strides) | margin px | overlap | tiled step s | over whole | correlation |"
        )
        print("|---|---|---|---|---|---|")
        for strides in (1, 2, 3, 4):
            margin = strides * align
            if args.tile < tiling.min_tile(align, margin):
                continue
            corrs = []
            for offset in ((0, 0), (96, 32), (160, 224)):
                _, g = tiling.tiled_gradient(grad, x, args.tile, margin, align, offset)
                pair = torch.stack([whole.flatten(), g.flatten()])
                corrs.append(torch.corrcoef(pair)[0, 1].item())
            s = seconds(lambda m=margin: tiling.tiled_gradient(grad, x, args.tile, m, align))
            print(
                f"| {strides} | {margin} | {overlap((h, w), args.tile, margin, align):.2f}x "
                f"| {s:.3f} | {s / whole_s:.2f}x | {statistics.mean(corrs):.4f} |",
                flush=True,
            )
    big = (2668, 4000)
    per_px = tiling.graph_bytes_per_pixel(plan) * tiling.PEAK_FACTOR
    auto = tiling.auto_tile(plan, big) // align * align
    print(f"\n# a {big[1]}x{big[0]} photo's full-size octave: windows (auto here: {auto} px)")
    print("| window px | graph MB | at offset 0, margin 2 / 3 / 4 strides | mean: all / engine |")
    print("|---|---|---|---|")
    for tile in sorted({auto, 512, 768, 1024, 1280, 1536, 2048}):
        cells = " / ".join(f"{overlap(big, tile, k * align, align):.2f}x" for k in (2, 3, 4))
        margin = tiling.MARGIN_STRIDES * align
        mean = " / ".join(f"{overlap(big, tile, margin, align, d):.2f}x" for d in ("all", "engine"))
        print(f"| {tile} | {per_px * tile * tile / 2**20:.0f} | {cells} | {mean} |")


if __name__ == "__main__":
    main()
