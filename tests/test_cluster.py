"""``deepdream dream ... --ray``: a real local Ray (2 CPUs, its files inside the test's folder),
the real embedded model, injected faults (a transient error, a worker killed mid-run)."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inceptionism import io
from inceptionism.config import make_config
from inceptionism.frontends.cli import main, ray_flags, spell
from inceptionism.jobs import cluster
from inceptionism.jobs.filejob import made_with

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray

pytestmark = pytest.mark.ray

FLAGS = ["--octaves", "2", "--iterations", "1", "--max-side", "96", "-q"]
RECIPE = make_config("default", octaves=2, iterations=1, max_side=96)


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc: Ray's daemons and its workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rpartition(")")[2].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, stack = set(), [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """A local Ray whose files live in the test's folder; afterwards it and its processes are
    gone. The fault folder is in the environment before Ray starts, so its workers see it."""
    root = tmp_path_factory.mktemp("ray")
    faults = root / "faults"
    faults.mkdir()
    os.environ[cluster.FAULTS_ENV] = str(faults)
    sigterm = signal.getsignal(signal.SIGTERM)  # ray.init installs its own: put ours back
    ray.init(
        num_cpus=2,
        _temp_dir=str(root / "r"),
        include_dashboard=False,
        log_to_driver=False,
        logging_level="WARNING",
    )
    signal.signal(signal.SIGTERM, sigterm)
    try:
        yield faults
    finally:
        pids = _descendants(os.getpid())
        assert len(pids) >= 3  # the daemons and workers really are ours to watch
        ray.shutdown()
        del os.environ[cluster.FAULTS_ENV]
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not [p for p in pids if _alive(p)], "Ray processes left running"
        assert not ray.is_initialized()


def _seconds(clock: str) -> int:
    """``[H:]MM:SS`` as tqdm shows a time, in seconds."""
    seconds = 0
    for part in clock.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def _photos(folder: Path, n: int, seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        base = rng.integers(0, 255, (1, 1, 3)) + np.linspace(-60, 60, 96)[None, :, None]
        pixels = np.clip(base + rng.normal(0, 20, (80, 96, 3)), 0, 255).astype(np.uint8)
        paths.append(folder / f"photo{i:02d}.png")
        Image.fromarray(pixels).save(paths[-1])
    return paths


def test_ray_batch_with_a_bad_file_a_transient_error_and_a_killed_worker(
    local_ray, tmp_path, capsys
):
    faults = local_ray
    photos = _photos(tmp_path / "in", 9)
    twin = tmp_path / "in" / "photo00.jpg"  # the same name as photo00.png but for its type
    Image.open(photos[0]).save(twin, quality=95)
    bad = tmp_path / "in" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    (faults / "transient-photo03.png").touch()  # raises once in whichever worker takes it
    (faults / "kill-photo06.png").touch()  # the worker that takes it dies on the spot, once
    out = tmp_path / "out"

    args = ["dream", str(tmp_path / "in"), "-o", str(out), *FLAGS, "--ray", "--workers", "2"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert not list(faults.iterdir()), "both faults fired"
    assert "photo03.png: ConnectionError: injected transient failure" in err
    assert re.search(
        r"photo06.png: Actor(Died|Unavailable)Error \(worker lost\); trying again", err
    )
    assert f"11 inputs: 10 dreamed, 1 failed: {bad}" in err

    made = sorted(p.name for p in out.iterdir())
    names = [f"{p.stem}.dream.png" for p in photos] + ["photo00.dream-2.png"]  # distinct names
    assert made == sorted([*names, cluster.MANIFEST])
    for name in names:
        result = out / name
        meta = io.read_metadata(result)
        assert meta["model"] == "efficientnet-lite0" and meta["config"]["octaves"] == 2
        assert made_with(result, RECIPE)
        assert io.load_image(result).size == (96, 80)
    manifest = json.loads((out / cluster.MANIFEST).read_text())
    assert [f["input"] for f in manifest["failed"]] == [str(bad)]
    assert "not a supported image file" in manifest["failed"][0]["error"]

    # the same bytes as the local batch makes
    local = tmp_path / "local.png"
    assert main(["dream", str(photos[6]), "-o", str(local), *FLAGS]) == 0
    assert local.read_bytes() == (out / "photo06.dream.png").read_bytes()

    # run again: nothing is dreamed or written, the bad file is reported again
    before = {p: p.stat().st_mtime_ns for p in out.glob("*.dream.png")}
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err
    assert (
        f"11 inputs: 0 dreamed, 10 skipped (output exists; --overwrite redoes it), 1 failed: {bad}"
        in err
    )
    assert before == {p: p.stat().st_mtime_ns for p in out.glob("*.dream.png")}


def test_shared_fs_workers_write_and_outputs_made_otherwise_are_kept(local_ray, tmp_path, capsys):
    """One worker, killed once: Ray restarts it and it takes the file again (nobody else could)."""
    faults = local_ray
    photos = _photos(tmp_path / "in", 3, seed=1)
    (faults / "kill-photo01.png").touch()
    out = tmp_path / "out"
    out.mkdir()
    other = out / "photo00.dream.png"
    other.write_bytes(b"someone else's file")
    args = ["dream", *map(str, photos), "-o", str(out), *FLAGS[:-1], "--ray", "--workers", "1"]
    assert main([*args, "--shared-fs"]) == 1
    printed = capsys.readouterr()
    err = printed.err
    # as the local batch: each output on stdout, the summary on stderr
    made = {str(out / f"{p.stem}.dream.png") for p in photos[1:]}
    assert set(printed.out.splitlines()) == made and "inputs" not in printed.out
    assert "3 inputs: 2 dreamed, 1 failed" in err and "made otherwise" in err
    note = "deepdream: note: --ray on one machine runs 1 worker on 2 cores; without --ray is"
    assert note in err
    assert "photo01.png: Actor" in err and not list(faults.iterdir())
    assert other.read_bytes() == b"someone else's file"
    assert all(made_with(out / f"{p.stem}.dream.png", RECIPE) for p in photos[1:])
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    manifest = json.loads((out / cluster.MANIFEST).read_text())
    assert [f["input"] for f in manifest["failed"]] == [str(photos[0])]


def test_a_bad_setting_fails_once_before_any_file(local_ray, tmp_path, capsys):
    photos = _photos(tmp_path / "in", 2, seed=2)
    out = tmp_path / "out"
    args = ["dream", *map(str, photos), "-o", str(out), *FLAGS, "--layer", "block99", "--ray"]
    assert main([*args, "--workers", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown layer" in err[0] and "'block99'" in err[0], err
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("given", "address", "inputs"),
    [
        ("", "", ["a.png"]),
        ("auto", "auto", ["a.png"]),
        ("ray://head:10001", "ray://head:10001", ["a.png"]),
        ("10.0.0.5:6379", "10.0.0.5:6379", ["a.png"]),
        ("photo.jpg", "", ["photo.jpg", "a.png"]),  # `--ray photo.jpg a.png`: an input
        ("in/*.png", "", ["in/*.png", "a.png"]),
    ],
)
def test_ray_address_or_an_input(given, address, inputs):
    args = argparse.Namespace(ray=given, input=["a.png"])
    assert ray_flags.wanted(args)
    assert (args.ray, args.input) == (address, inputs)
    assert not ray_flags.wanted(argparse.Namespace(ray=None, input=["a.png"]))


def test_pool_one_worker_per_gpu_or_threads_that_fit_the_cores():
    assert cluster.Pool.choose({"CPU": 16, "GPU": 4}, None, "auto") == cluster.Pool(
        4, True, None, "cuda"
    )
    assert cluster.Pool.choose({"CPU": 16, "GPU": 4}, None, "cpu").gpus is False
    assert cluster.Pool.choose({"CPU": 16}, None, "auto") == cluster.Pool(4, False, 4, "cpu")
    assert cluster.Pool.choose({"CPU": 2}, 2, "auto") == cluster.Pool(2, False, 1, "cpu")
    assert cluster.Pool.choose({"CPU": 2}, 3, "auto").threads == 1
    # 4 nodes of 8 cores, 2 workers: 8 threads each (16 would fit on no node)
    assert cluster.Pool.choose({"CPU": 32}, 2, "auto", node_cpus=8).threads == 8
    with pytest.raises(cluster.DreamError, match="at least 1") as raised:
        cluster.Pool.choose({"CPU": 2}, 0, "auto")
    assert raised.value.render(spell) == "--workers must be at least 1, got 0"


def test_the_driver_ships_weights_and_guide_unless_the_disk_is_shared(tmp_path):
    weights, guide = tmp_path / "w.pth", tmp_path / "guide.png"
    weights.write_bytes(b"weights")
    guide.write_bytes(b"guide")
    cfg = make_config("default", guide=str(guide))
    pool = cluster.Pool(2, False, 1, "cpu")
    options = cluster.RayOptions(weights=str(weights), shared_fs=False, precision="auto")
    spec = cluster._spec(options, cfg, pool, spell)
    assert (spec.weights, spec.weights_data, spec.weights_name) == (None, b"weights", "w.pth")
    assert spec.guide_data == b"guide" and spec.config.guide == str(guide)
    assert spec.spell is spell  # the workers word their errors as the command line does
    spec = cluster._spec(replace(options, shared_fs=True), cfg, pool, spell)
    assert (spec.weights, spec.weights_data, spec.guide_data) == (str(weights), None, None)
    missing = replace(options, weights=str(tmp_path / "missing.pth"))
    with pytest.raises(cluster.DreamError, match="cannot read weights file"):
        cluster._spec(missing, cfg, pool, spell)


def test_ray_video_in_chunks_a_killed_worker_and_the_local_frames_before_the_first_seam(
    local_ray, tmp_path, capsys
):
    """10 frames in chunks of 4, 2 warm-up frames, 1 crossfaded: chunk 0 starts as the local
    run does, so its frames before the first seam's blend are the local ones bit for bit."""
    av = pytest.importorskip("av")
    from videoclips import moving_frames, write_clip

    faults = local_ray
    src = write_clip(tmp_path / "clip.mp4", moving_frames(10, (96, 72), (2, 1)), 24)
    flags = ["--octaves", "2", "--iterations", "2", "--max-side", "96", "--device", "cpu", "-q"]
    split = ["--ray", "--workers", "2", "--chunk-frames", "4", "--warm-up-frames", "2"]
    split += ["--crossfade-frames", "1"]

    def frames(folder: Path) -> list[np.ndarray]:
        return [np.asarray(Image.open(p)) for p in sorted(folder.iterdir())]

    assert main(["video", str(src), "-o", str(tmp_path / "local"), *flags]) == 0
    (faults / "kill-chunk-1").touch()  # the worker dreaming frames 5-8 dies on the spot, once
    assert main(["video", str(src), "-o", str(tmp_path / "ray"), *flags, *split]) == 0
    err = capsys.readouterr().err
    assert not list(faults.iterdir())
    assert re.search(r"frames 5-8: Actor(Died|Unavailable)Error \(worker lost\); trying again", err)
    local, chunked = frames(tmp_path / "local"), frames(tmp_path / "ray")
    assert len(chunked) == len(local) == 10
    assert all(np.array_equal(a, b) for a, b in zip(local[:3], chunked[:3], strict=True))
    assert not np.array_equal(local[5], chunked[5])  # a later chunk: its own history

    out = tmp_path / "dream.mp4"
    started = time.monotonic()
    assert main(["video", str(src), "-o", str(out), *flags[:-1], *split]) == 0  # no -q: a bar
    took = time.monotonic() - started
    printed = capsys.readouterr()
    assert printed.out == f"{out}\n"
    etas = [_seconds(m) for m in re.findall(r"\d+/10 \[[\d:]+<([\d:]+)", printed.err)]
    assert etas and max(etas) <= took, (etas, took)  # not Ray's start-up as a frame's time
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (96, 72)
        assert c.streams.audio[0].codec_context.name == "aac"
        assert sum(1 for _ in c.decode(v)) == 10

    made = out.read_bytes()
    capsys.readouterr()
    assert main(["video", str(src), "-o", str(out), *flags, *split]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "exists" in err[0] and "--overwrite" in err[0], err
    assert out.read_bytes() == made

    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    assert main(["video", str(bad), "-o", str(tmp_path / "bad-out.mp4"), *flags, *split]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("deepdream: error:") and "bad.mp4" in err[0], err
    assert not [p.name for p in tmp_path.iterdir() if "bad-out" in p.name or ".tmp" in p.name]


def test_ray_video_seams_are_checked_and_the_input_may_follow_ray():
    from inceptionism.jobs.cluster_video import Seams

    assert Seams.choose(None, 8, 4, 1000, 2) == Seams(120, 8, 4)
    assert Seams.choose(None, 8, 4, 96, 2) == Seams(48, 8, 4)
    assert Seams.choose(None, 8, 4, 10, 2) == Seams(24, 8, 4)
    assert Seams.choose(None, 8, 4, None, 2).chunk == 120
    with pytest.raises(cluster.DreamError) as raised:
        Seams.choose(4, 2, 3, 10, 2)
    assert raised.value.render(spell) == (
        "--crossfade-frames must be from 0 to --warm-up-frames (2) and --chunk-frames (4), got 3"
    )
    with pytest.raises(cluster.DreamError) as raised:
        Seams.choose(0, 2, 1, 10, 2)
    assert raised.value.render(spell) == "--chunk-frames must be at least 1, got 0"
    args = argparse.Namespace(ray="clip.mp4", input=None)  # `deepdream video --ray clip.mp4`
    assert ray_flags.wanted(args) and (args.ray, args.input) == ("", "clip.mp4")
    with pytest.raises(cluster.DreamError, match="not a Ray address"):
        ray_flags.wanted(argparse.Namespace(ray="other.mp4", input="clip.mp4"))
