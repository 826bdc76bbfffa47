"""Speed benchmark: the engine against the plain reference loop, in the same run, same inputs.

    python benchmarks/run.py [--device cpu|cuda] [--quick] [--json out.json] [--cases GLOBS]

Each case (an image size, a preset, a model) runs twice, each time in a fresh Python process so
that peak memories don't mix: once through the engine as the API runs it (every optimisation
on), once through ``tests/reference.py`` (the plain transcription). The table gives wall time,
gradient steps per second, megapixels x steps per second, peak resident memory (and peak GPU
memory), the floating-point operations per step (forward to the deepest layer plus backward,
counted by torch's FlopCounterMode at the full size) and what fraction of the machine's measured
float32 matmul rate that is; then the speed-up over the baseline, the figure of merit on a
shared machine, and the PSNR between the two outputs (the same dream, so it should be high).

Adding a case is one line in ``cases()`` (see the tiling hook there).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import fnmatch
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
SAMPLE = SRC / "inceptionism" / "data" / "chelsea.png"
RESULT = "BENCH-RESULT "


@dataclass(frozen=True)
class Case:
    """One benchmark case: the engine and (``baseline``) the plain loop on the same input.

    ``size``: the long side the sample is scaled to (aspect kept), or (width, height) to scale it
    to cover and centre-crop. ``options`` are ``make_config`` overrides (e.g. a tile size).
    ``devices``: where the case runs unless asked for by name.
    """

    name: str
    size: int | tuple[int, int]
    preset: str = "default"
    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    baseline: bool = True
    devices: tuple[str, ...] = ("cpu", "cuda")


def cases(models: list[str]) -> list[Case]:
    """The full suite. One line per case; the hook for more is the end of this list."""
    return [
        Case("default-1024", 1024),
        # The default schedule without its per-step shaping (Laplacian normalisation, clip
        # knee, clip), which the plain loop does not do: the two then do the same work.
        Case("same-work-1024", 1024, options={"lap_norm": 0, "clip_knee": 0.0, "clip": False}),
        Case("seed-1024", 1024, preset="seed"),
        *(Case(f"model-{m}-512", 512, model=m) for m in models),
        Case("frame-1080p", (1920, 1080), devices=("cuda",)),
        # Tiled by a fixed 512 px window on every device (auto would not tile on a big GPU); no
        # baseline: the plain loop holds the whole 10.7 Mpx graph (and takes an hour on a CPU).
        Case("tiled-4000", (4000, 2668), options={"tile": 512}, baseline=False),
    ]


QUICK = [Case("default-256", 256), Case("seed-192", 192, preset="seed")]


# -- the worker: one implementation on one case, in its own process ---------------------------


def _memory_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MiB."""
    try:
        status = Path("/proc/self/status").read_text()
        kb = {
            line.split(":")[0]: int(line.split()[1])
            for line in status.splitlines()
            if line.startswith(("VmRSS", "VmHWM"))
        }
        return kb["VmRSS"] / 1024, kb["VmHWM"] / 1024
    except (OSError, KeyError):  # not Linux: ru_maxrss is bytes on macOS, KiB elsewhere
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak /= 1024 * 1024 if sys.platform == "darwin" else 1024
        return float("nan"), peak


def sample_pixels(size: int | tuple[int, int]):  # -> np.ndarray (H, W, 3) float32
    import numpy as np
    from PIL import Image

    im = Image.open(SAMPLE).convert("RGB")
    if isinstance(size, int):
        k = size / max(im.size)
        im = im.resize((round(im.width * k), round(im.height * k)), Image.BICUBIC)
    else:
        w, h = size
        k = max(w / im.width, h / im.height)
        im = im.resize((max(w, round(im.width * k)), max(h, round(im.height * k))), Image.BICUBIC)
        left, top = (im.width - w) // 2, (im.height - h) // 2
        im = im.crop((left, top, left + w, top + h))
    return np.asarray(im, dtype=np.float32)


def weights_source(name: str | None) -> str | None:
    """Where a case's weights come from: ``real`` if they are here; ``random`` if the model's
    spec builds its network with random weights of the right shapes (``ModelSpec.random``);
    else None, and the case is skipped with a note."""
    spec = _spec(name)
    if spec.weights_here():
        return "real"
    return "random" if spec.random is not None else None


def _spec(name: str | None):  # -> ModelSpec
    from inceptionism.models import DEFAULT_MODEL, get_spec

    return get_spec(name or DEFAULT_MODEL)


def get_model(name: str | None, seed: int = 0):  # -> (DreamModel, "real" | "random")
    """The model for a case: with its weights if here, else random ones (``weights_source``);
    the same seed gives the engine's and the baseline's process the same random weights."""
    spec = _spec(name)
    if spec.weights_here():
        return spec.load(None), "real"
    return spec.random(seed), "random"


def flops_per_step(step, net, shape: tuple[int, int]) -> int:
    """Floating-point operations of one gradient step at ``shape``, counted on the meta device
    (shapes only, no arithmetic): ``step(net_on_meta, x)`` must run one loss-and-gradient.

    Counts with torch's FlopCounterMode rules (torch.utils.flop_counter.flop_registry: convs,
    matmuls, their backward); the mode itself tracks modules with hooks that refuse
    ``autograd.grad`` on a leaf, so a minimal dispatch mode applies the same rules.
    """
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    class Count(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            rule = flop_registry.get(func._overloadpacket)
            if rule is not None:
                self.total += rule(*args, **kwargs, out_val=out)
            return out

    meta = copy.deepcopy(net).to("meta")
    x = torch.empty(1, 3, *shape, device="meta")
    with Count() as counter:
        step(meta, x)
    return int(counter.total)


def worker(job: dict[str, Any]) -> dict[str, Any]:
    """Run one case with one implementation; returns the measurements."""
    opts = job["opts"]
    if job["impl"] == "baseline" or not opts["omp_short_spin"]:
        import torch  # before inceptionism: torch's own OpenMP settings

    sys.path.insert(0, str(SRC))
    import inceptionism  # noqa: F401  (before numpy/torch: sets GOMP_SPINCOUNT, see runtime.py)

    # isort: split
    import numpy as np
    import torch

    from inceptionism import runtime
    from inceptionism.algorithm.engine import dream_tensor, loss_and_gradient
    from inceptionism.algorithm.objectives import reference
    from inceptionism.config import make_config

    if opts["threads"]:
        torch.set_num_threads(opts["threads"])
    case = Case(**{**job["case"], "size": _size(job["case"]["size"])})
    dev = torch.device(job["device"])
    model, weights = get_model(case.model)
    rgb = sample_pixels(case.size)
    tile = {} if opts.get("tile") is None else {"tile": opts["tile"]}
    cfg = make_config(case.preset, model=model.name, **{**case.options, **tile})
    layers = dict(cfg.layers or model.default_layers)
    objective = reference(layers)
    pixels = torch.from_numpy(rgb).permute(2, 0, 1)[None].contiguous()
    steps: Counter = Counter()
    rss_start, _ = _memory_mb()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

    cpu0 = time.process_time()
    if job["impl"] == "engine":
        # What a Dreamer session does, with the optimisations as switches for the ablations.
        t0 = time.perf_counter()
        runtime.configure(dev, cudnn_benchmark=opts["cudnn_benchmark"])
        model = model.to(dev)
        fast = model.fast(opts["precision"], fuse=opts["fuse"], channels_last=opts["channels_last"])
        taps = fast.activations

        def counted(x: torch.Tensor, names: Any) -> dict[str, torch.Tensor]:
            if torch.is_grad_enabled():  # not the no-grad probe that measures layer strides
                steps[tuple(x.shape[-2:])] += 1
            return taps(x, names)

        fast.activations = counted  # type: ignore[method-assign]
        keep = runtime.keep_freed_memory() if opts["keep_memory"] else contextlib.nullcontext()
        with keep:
            out = dream_tensor(fast, pixels.to(dev), cfg, objective)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
        net = fast.net
        del fast.activations

        def one_step(meta_net: torch.nn.Module, x: torch.Tensor) -> None:
            from dataclasses import replace

            loss_and_gradient(replace(fast, net=meta_net, precision="fp32"), objective, x)
    else:
        sys.path.insert(0, str(ROOT / "tests"))
        import reference as baseline  # the plain loop the tests check the engine against

        t0 = time.perf_counter()
        model = model.to(dev)
        feats = baseline.features(model.net, {n: model.layers[model.resolve(n)] for n in layers})
        dreamt = baseline.deep_dream(
            feats,
            layers,
            model.preprocess(pixels.to(dev)),
            step=cfg.step,
            num_octave=cfg.octaves,
            octave_scale=cfg.octave_scale,
            iterations=cfg.iterations,
            max_loss=cfg.max_loss,
            jitter=cfg.jitter,
            seed=cfg.seed,
            steps=steps,
        )
        out = model.preprocess.invert(dreamt).clamp(0, 255)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
        net = model.net

        def one_step(meta_net: torch.nn.Module, x: torch.Tensor) -> None:
            paths = {n: model.layers[model.resolve(n)] for n in layers}
            baseline.loss_and_grads(baseline.features(meta_net, paths), layers, x)

    cpu = time.process_time() - cpu0
    _, rss_peak = _memory_mb()
    gpu_peak = torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else None
    with torch.no_grad():  # the dream's objective, by the model as loaded, for comparison
        achieved = objective(model.activations(model.preprocess(out), layers)).item()
    np.save(job["out"], out[0].permute(1, 2, 0).float().cpu().numpy())
    flops = {s: flops_per_step(one_step, net, s) for s in steps}
    return {
        "impl": job["impl"],
        "model": model.name,
        "weights": weights,
        "size": [int(pixels.shape[-1]), int(pixels.shape[-2])],
        "steps": sum(steps.values()),
        "wall_s": wall,
        "cpu_s": cpu,
        "it_per_s": sum(steps.values()) / wall,
        "mpx_it_per_s": sum(n * h * w for (h, w), n in steps.items()) / wall / 1e6,
        "gflop_per_step": flops[max(steps, key=lambda s: s[0] * s[1])] / 1e9,
        "gflop_per_s": sum(n * flops[s] for s, n in steps.items()) / wall / 1e9,
        "rss_start_mb": rss_start,
        "rss_peak_mb": rss_peak,
        "gpu_peak_mb": gpu_peak,
        "objective": achieved,
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default)"),
        "omp_spincount": os.environ.get("GOMP_SPINCOUNT", "(default)"),
    }


def _size(size: Any) -> int | tuple[int, int]:
    return size if isinstance(size, int) else tuple(size)


# -- the driver ---------------------------------------------------------------------------------


def run_worker(job: dict[str, Any], timeout: float) -> dict[str, Any]:
    # The tree's code first, then whatever the caller had on the path (e.g. a weights package).
    paths = [str(SRC), str(Path(__file__).parent), *os.getenv("PYTHONPATH", "").split(os.pathsep)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    p = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(job)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith(RESULT)]
    if p.returncode != 0 or not lines:
        raise RuntimeError(f"{job['impl']} on {job['case']['name']} failed:\n{p.stderr[-3000:]}")
    return json.loads(lines[-1][len(RESULT) :])


def matmul_flops(device: str, quick: bool) -> float:
    """Best float32 matrix-multiply rate of this machine, FLOP/s (the yardstick for the rest)."""
    import torch

    n = 8192 if device == "cuda" else (1024 if quick else 2048)
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(3 if quick else 5):
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def psnr(a_path: str, b_path: str) -> float:
    import numpy as np

    a, b = np.load(a_path).astype(np.float64), np.load(b_path).astype(np.float64)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


COLUMNS = [  # header, key, format
    ("case", "case", "{}"),
    ("impl", "impl", "{}"),
    ("weights", "weights", "{}"),
    ("size", "size", "{0[0]}x{0[1]}"),
    ("steps", "steps", "{}"),
    ("wall s", "wall_s", "{:.2f}"),
    ("CPU s", "cpu_s", "{:.2f}"),
    ("it/s", "it_per_s", "{:.2f}"),
    ("Mpx*it/s", "mpx_it_per_s", "{:.2f}"),
    ("GFLOP/step", "gflop_per_step", "{:.1f}"),
    ("GFLOP/s", "gflop_per_s", "{:.1f}"),
    ("% mm", "mm_pct", "{:.1f}"),
    ("peak RSS MB", "rss_peak_mb", "{:.0f}"),
    ("peak GPU MB", "gpu_peak_mb", "{:.0f}"),
    ("speed-up", "speedup", "{:.2f}x"),
    ("objective", "objective", "{:.3g}"),
    ("PSNR dB", "psnr", "{:.1f}"),
]


def table(rows: list[dict[str, Any]]) -> str:
    cols = [c for c in COLUMNS if any(r.get(c[1]) is not None for r in rows)]
    cells = [[h for h, _, _ in cols]]
    for r in rows:
        cells.append([fmt.format(r[k]) if r.get(k) is not None else "" for _, k, fmt in cols])
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    lines = ["| " + " | ".join(map(str.ljust, row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument(
        "--quick", action="store_true", help="CI-sized smoke run: small images, one thread"
    )
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    p.add_argument("--cases", help="comma-separated names or globs (default: the suite)")
    p.add_argument("--size", type=int, help="override every selected case's long side")
    p.add_argument("--no-baseline", action="store_true", help="engine only (no speed-up)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per process")
    p.add_argument(
        "--repeat", type=int, default=1, help="runs per case and implementation (median shown)"
    )
    g = p.add_argument_group("engine switches (defaults: what the API does)")
    g.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    g.add_argument("--tile", help="tile size for every case: auto, 0 (off) or pixels")
    g.add_argument("--no-fuse", dest="fuse", action="store_false", help="keep batch norms")
    g.add_argument(
        "--channels-last", default="auto", choices=["auto", "on", "off"], help="auto: on the CPU"
    )
    p.add_argument("--threads", type=int, help="torch.set_num_threads for both (default: torch's)")
    g.add_argument(
        "--omp-wait",
        default="short-spin",
        choices=["short-spin", "default"],
        help="OpenMP idle threads spin briefly, then sleep (ours), or OpenMP's default long spin",
    )
    g.add_argument("--cudnn-benchmark", default="auto", choices=["auto", "on", "off"])
    g.add_argument(
        "--no-keep-memory",
        dest="keep_memory",
        action="store_false",
        help="glibc returns freed memory (no runtime.keep_freed_memory)",
    )
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(RESULT + json.dumps(worker(json.loads(args.worker))), flush=True)
        return 0
    sys.path.insert(0, str(SRC))
    import torch

    from inceptionism.models import REGISTRY

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    suite = cases(list(REGISTRY))
    if args.quick:
        suite = QUICK
    if args.cases:
        globs = args.cases.split(",")
        known = [*cases(list(REGISTRY)), *QUICK]
        suite = [c for c in known if any(fnmatch.fnmatch(c.name, g) for g in globs)]
    else:
        suite = [c for c in suite if device in c.devices]
    if args.size:
        suite = [Case(**{**asdict(c), "size": args.size}) for c in suite]
    if args.quick and args.threads is None:
        # A smoke run: one thread keeps it under a minute even on a busy machine, where the
        # baseline's spinning OpenMP threads can take minutes (its speed-ups: arithmetic only).
        args.threads = 1
    opts = {
        "precision": args.precision,
        "fuse": args.fuse,
        "channels_last": {"auto": None, "on": True, "off": False}[args.channels_last],
        "threads": args.threads,
        "omp_short_spin": args.omp_wait == "short-spin",
        "cudnn_benchmark": {"auto": None, "on": True, "off": False}[args.cudnn_benchmark],
        "keep_memory": args.keep_memory,
        "tile": None if args.tile is None else args.tile if args.tile == "auto" else int(args.tile),
    }
    if args.threads:
        torch.set_num_threads(args.threads)  # the yardstick with the threads the cases get
    peak = matmul_flops(device, args.quick)
    command = "python benchmarks/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"# {command}", file=sys.stderr)
    print(f"# float32 matmul: {peak / 1e9:.1f} GFLOP/s on {device}", file=sys.stderr)
    rows: list[dict[str, Any]] = []
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in suite:
            got: dict[str, dict[str, Any]] = {}
            if weights_source(case.model) is None:
                note = "skipped: weights not here and no random_model() in its module"
                print(f"# {case.name}: {note}", file=sys.stderr)
                rows.append({"case": case.name, "impl": "-", "weights": note})
                results.append({"case": asdict(case), "skipped": note})
                continue
            both = case.baseline and not args.no_baseline
            runs: dict[str, list[dict[str, Any]]] = {}
            for r in range(args.repeat):  # alternate, so a busy spell hits both alike
                for impl in ("engine", "baseline") if both else ("engine",):
                    job = {
                        "impl": impl,
                        "case": asdict(case),
                        "device": device,
                        "opts": opts,
                        "out": os.path.join(tmp, f"{case.name}-{impl}.npy"),
                    }
                    print(f"# {case.name}: {impl} {r + 1} ...", file=sys.stderr, flush=True)
                    runs.setdefault(impl, []).append(run_worker(job, args.timeout))
            for impl, rs in runs.items():  # the run of median wall time stands for all
                got[impl] = sorted(rs, key=lambda x: x["wall_s"])[(len(rs) - 1) // 2]
                got[impl]["walls_s"] = [x["wall_s"] for x in rs]
                got[impl]["mm_pct"] = 100 * got[impl]["gflop_per_s"] * 1e9 / peak
            if "engine" in got and "baseline" in got:
                got["engine"]["speedup"] = got["baseline"]["wall_s"] / got["engine"]["wall_s"]
                got["engine"]["psnr"] = psnr(
                    os.path.join(tmp, f"{case.name}-engine.npy"),
                    os.path.join(tmp, f"{case.name}-baseline.npy"),
                )
            for r in got.values():
                rows.append({"case": case.name, **r})
                print(f"# {case.name}: {r['impl']} {r['wall_s']:.2f} s", file=sys.stderr)
            results.append({"case": asdict(case), **got})
            if args.json:  # after every case, so a run cut short still leaves its rows
                write_json(args.json, command, device, peak, opts, results)
    print(table(rows))
    print(
        f"\nfloat32 matmul: {peak / 1e9:.1f} GFLOP/s ({device}, {torch.get_num_threads()} "
        "CPU threads); '% mm' is GFLOP/s against it; "
        "speed-up = baseline wall / engine wall; objective: the dream's, by the model as loaded; "
        "PSNR: engine output vs baseline output."
    )
    if args.json:
        write_json(args.json, command, device, peak, opts, results)
    return 0


def write_json(
    path: str, command: str, device: str, peak: float, opts: dict, results: list
) -> None:
    import torch

    info = {
        "command": command,
        "device": device,
        "gpu": torch.cuda.get_device_name() if device == "cuda" else None,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "matmul_gflop_per_s": peak / 1e9,
        "opts": opts,
        "results": results,
    }
    Path(path).write_text(json.dumps(info, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
