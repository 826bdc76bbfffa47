"""``deepdream live`` on real sources: a real clip with sound played in real time, a real
stream URL that fails, Ctrl-C sent to a real process; the real embedded EfficientNet-Lite0.

The targets of issue 21 (fps, latency, strength, coherence) are measured by
``benchmarks/live.py``, not timed here: these tests hold what must always be true.
"""

from __future__ import annotations

import functools
import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
cv2 = pytest.importorskip("cv2")

from videoclips import moving_frames, write_clip  # noqa: E402

from inceptionism import make_config, runtime  # noqa: E402
from inceptionism.errors import DreamError  # noqa: E402
from inceptionism.frontends.cli import main  # noqa: E402
from inceptionism.io.video import Frame  # noqa: E402
from inceptionism.live import LIVE_RECIPE  # noqa: E402
from inceptionism.live.loop import (  # noqa: E402
    CoherentDreamer,
    LatestFrame,
    LiveSettings,
    frame_loop,
    run_live,
)
from inceptionism.live.sources import Captured, open_source  # noqa: E402
from inceptionism.video.quality import strength, warping_error  # noqa: E402

ROOT = Path(__file__).parents[1]
TINY = ["--octaves", "1", "--iterations", "2", "--max-side", "128", "--device", "cpu"]
STATS = "frames dreamed in"


def clip(path: Path, frames: int = 24, rate: int = 24) -> Path:
    return write_clip(path, moving_frames(frames, (128, 80), (1.5, 0.5)), rate)


def probe(path: Path) -> tuple[int, str | None, float, float]:
    """Frames that decode, the audio codec, and the video's and the sound's seconds."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        audio = c.streams.audio[0] if c.streams.audio else None
        frames = list(c.decode(v))
        v_end = float(frames[-1].pts * v.time_base)
    with av.open(str(path)) as c:
        a_end = 0.0
        if audio is not None:
            a = c.streams.audio[0]
            a_end = max(float((p.pts + p.duration) * a.time_base) for p in c.demux(a) if p.dts)
    return len(frames), audio and audio.codec_context.name, v_end, a_end


def test_file_source_is_recorded_with_sound_and_a_stats_line(tmp_path, capsys):
    src = clip(tmp_path / "in.mp4", frames=48)
    out = tmp_path / "out.mp4"
    assert main(["live", str(src), "-o", str(out), "--no-window", "--duration", "1", *TINY]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and STATS in lines[0] and "latency median" in lines[0], lines
    assert "p95" in lines[0] and "frames dropped" in lines[0]
    frames, audio, v_end, a_end = probe(out)
    assert frames >= 1 and audio == "aac"
    assert v_end < 1.0 and a_end <= 1.1 + 1 / 24, (v_end, a_end)  # the sound cut with the run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mp4"]


def test_bad_sources_get_one_line_and_no_output(tmp_path, capsys):
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    good = clip(tmp_path / "in.mp4", frames=4)
    out = tmp_path / "o.mp4"
    cases = [
        (str(tmp_path / "missing.mp4"), "does not exist"),
        (str(junk), "is not a video"),
        ("http://127.0.0.1:9/no-stream", "cannot be read"),
        ("file:///etc/passwd", "not a stream"),
        ("87", "camera 87 cannot be opened"),
        (str(tmp_path), "is a folder"),
    ]
    for source, message in cases:
        assert main(["live", source, "-o", str(out), "--no-window", *TINY]) != 0
        err = capsys.readouterr().err
        assert err.startswith("deepdream: error:") and message in err, err
        assert err.strip().count("\n") == 0, err
    # an existing output, and the input as the output: refused before the source is opened
    for target, message in ((good, "is the input"), (junk, "--overwrite")):
        assert main(["live", str(good), "-o", str(target), "--no-window", *TINY]) != 0
        assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "junk.mp4"]


def test_latest_frame_wins_and_counts_what_it_drops():
    slot, stop = LatestFrame(), threading.Event()
    frames = [Captured(i, np.zeros((2, 2, 3), np.uint8), i / 10, 0.0) for i in range(3)]
    for f in frames:
        slot.put(f)
    assert slot.take(stop).index == 2 and slot.dropped == 2
    slot.end()
    assert slot.take(stop) is None


def test_a_slow_dream_drops_frames_and_keeps_latency_bounded(tmp_path):
    """A 120 fps source is faster than any dream here: frames are dropped, never queued, so
    every shown frame is recent (a queue would grow the latency frame after frame)."""
    src = clip(tmp_path / "fast.mp4", frames=120, rate=120)
    source = open_source(src, 128)
    config = make_config(octaves=1, iterations=2, max_side=128)
    settings = LiveSettings()
    loop = frame_loop(config, settings, (source.height, source.width), device="cpu")
    kept: list[float] = []
    stats = run_live(source, loop, settings, threading.Event(), keep=lambda _d, f: kept.append(f.t))
    assert stats.dropped > 0 and stats.dreamed == len(kept) >= 2
    assert stats.dreamed + stats.dropped <= 120
    assert kept == sorted(kept)
    # each frame waits at most for the dream before it: no backlog builds up
    per_frame = stats.seconds / stats.dreamed
    assert stats.latency(0.95) < 3 * per_frame + 0.5, stats.line()


def test_a_carried_live_frame_changes_little_yet_keeps_the_dream(tmp_path):
    """Issue 21: live frames must be steady. A real clip (a texture panning 1.5 px a frame),
    dreamed with live's recipe and settings: each carried frame's change from the previous
    dream carried along the motion (the warping error, less the footage's own) is a small share
    of what dreaming every frame afresh changes, and well under the old settings' (damping 0.9,
    full steps: measured 0.16 against 2.6 afresh and 0.8 old), while the dream stays as strong
    as a fresh one."""
    src = write_clip(tmp_path / "pan.mp4", moving_frames(6, (128, 80), (1.5, 0.5)), 24)
    frames = [rgb for rgb, _ in open_source(src, 128).frames()]
    config = make_config(**{**LIVE_RECIPE, "max_side": 128})
    own = warping_error(frames, frames)

    def live(settings: LiveSettings) -> tuple[float, float]:
        loop = frame_loop(config, settings, frames[0].shape[:2], device="cpu", warm=False)
        dreams = [d.rgb for d in loop.frames(Frame(i, f, i) for i, f in enumerate(frames))]
        return warping_error(frames, dreams) - own, strength(frames[1:], dreams[1:])

    steady, kept = live(LiveSettings())
    afresh, fresh_strength = live(LiveSettings(coherence=0.0))
    old, _ = live(LiveSettings(coherence=0.9, frame_step=1.0, own_jitter=False))
    assert steady < 0.25 * afresh and steady < 0.5 * old, (steady, afresh, old)
    assert kept > 0.8 * fresh_strength, (kept, fresh_strength)
    with pytest.raises(DreamError, match="frame step"):
        frame_loop(config, LiveSettings(frame_step=0.0), frames[0].shape[:2], device="cpu")


@pytest.mark.skipif(runtime._glibc() is None, reason="keep_freed_memory acts on glibc only")
def test_the_frame_loop_keeps_one_heap_over_all_frames(tmp_path):
    """Issue 21: a frame's dream hands its freed buffers to the next frame's, rather than back
    to the system at the end of every frame (a quarter of a live frame's time went to faulting
    them in again): ``keep_freed_memory`` stays held between frames, and is let go at the end."""
    src = write_clip(tmp_path / "pan.mp4", moving_frames(3, (128, 80), (1.0, 0.0)), 24)
    frames = [rgb for rgb, _ in open_source(src, 128).frames()]
    config = make_config(**{**LIVE_RECIPE, "max_side": 128})
    loop = frame_loop(config, LiveSettings(), frames[0].shape[:2], device="cpu", warm=False)
    before = runtime._active
    held = [runtime._active for _ in loop.frames(Frame(i, f, i) for i, f in enumerate(frames))]
    assert held == [before + 1] * len(frames)
    assert runtime._active == before
    dreamer = CoherentDreamer(loop)  # live's: one frame at a time, let go whenever
    dreamer.dream(0, frames[0])
    assert runtime._active == before + 1
    del dreamer  # no reference cycle keeps its loop, and the heap, held until a collection
    assert runtime._active == before


@pytest.mark.slow  # a process of its own: the model loaded again (~5 s idle, 25 s loaded)
def test_ctrl_c_ends_cleanly_with_a_playable_recording(tmp_path):
    src = clip(tmp_path / "in.mp4", frames=240)  # 10 s: far longer than the test waits
    out = tmp_path / "out.mp4"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inceptionism",
            "live",
            str(src),
            "-o",
            str(out),
            "--no-window",
            *TINY,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not [p for p in tmp_path.iterdir() if p.name.startswith(".out.mp4")]:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.0)  # the recording is under way
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert STATS in stdout and "recorded to" in stdout
    frames, audio, v_end, a_end = probe(out)
    assert frames >= 1 and audio == "aac" and a_end < 9, (frames, v_end, a_end)


def test_one_live_session_holds_the_desk_until_it_stops_or_leaves():
    from inceptionism.frontends.web.live_tab import LiveDesk

    desk = LiveDesk(stale_s=0.2)
    assert desk.claim("a") and not desk.claim("b")  # b is told the device is busy
    assert not desk.release("b") and desk.release("a")
    assert desk.claim("b") and not desk.claim("a")
    time.sleep(0.3)
    assert desk.claim("a")  # b sent no frame for a while: it has left


def test_a_stream_cannot_make_us_open_a_local_file(tmp_path):
    """An HLS playlist served over HTTP that names a local file as its segment: refused (the
    stream's references may use network protocols only: FFmpeg's own HLS checks and our
    protocol whitelist), nothing read from the disk."""
    segment = tmp_path / "secret.ts"
    with av.open(str(segment), "w", format="mpegts") as out:
        vs = out.add_stream("libx264", rate=24)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        for rgb in moving_frames(24, (64, 48), (1, 0)):
            for p in vs.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
    (tmp_path / "live.m3u8").write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nfile://{segment}\n#EXT-X-ENDLIST\n"
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(DreamError, match=r"cannot be read|has no"):
            open_source(f"http://127.0.0.1:{server.server_port}/live.m3u8", 128)
    finally:
        server.shutdown()
