"""Reading untrusted video: no decoder deadlock, damaged, cut, oversized and absurdly fast clips
refused in one line, and SIGTERM ending a run promptly with nothing partial left.

Every clip is a real file made here with PyAV (tests/videoclips.py); the damage is done to its
bytes, as a bad download or a hostile upload would.
"""

from __future__ import annotations

import os
import re
import signal
import struct
import subprocess
import sys
import textwrap
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
pytest.importorskip("cv2")

from videoclips import moving_frames, write_clip  # noqa: E402

from inceptionism.errors import DreamError  # noqa: E402
from inceptionism.frontends.cli import main  # noqa: E402
from inceptionism.io import video as vio  # noqa: E402
from inceptionism.io import video_checks  # noqa: E402

ROOT = Path(__file__).parents[1]
ENV = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT / 'tests'}"}
TINY = ["--octaves", "1", "--iterations", "1", "--device", "cpu", "-q"]
ZOOM = ["--frames", "200", "--max-side", "128", "--device", "cpu"]  # long enough to stop midway


def top_boxes(data: bytes) -> dict[bytes, tuple[int, int]]:
    """The top-level MP4 boxes: type -> (offset, size) (the last of each type)."""
    boxes, at = {}, 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        boxes[kind] = (at, size)
        at += size
    return boxes


def damaged(path: Path, seed: int = 1) -> Path:
    """``path`` with random bytes over the middle third of its frames (its ``mdat``)."""
    data = bytearray(path.read_bytes())
    at, size = top_boxes(bytes(data))[b"mdat"]
    data[at + size // 3 : at + 2 * size // 3] = np.random.default_rng(seed).bytes(size // 3)
    out = path.with_name(f"damaged-{path.name}")
    out.write_bytes(bytes(data))
    return out


def remuxed(src: Path, dst: Path, movflags: str) -> Path:
    """``src`` re-muxed as it is (no re-encoding) with MP4 ``movflags``."""
    with av.open(str(src)) as i, av.open(str(dst), "w", options={"movflags": movflags}) as o:
        streams = {s.index: o.add_stream_from_template(s) for s in i.streams}
        for packet in i.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                o.mux(packet)
    return dst


def one_line(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Good clips with sound (160x120, 24 frames; 64x48, 12 frames), and each damaged."""
    folder = tmp_path_factory.mktemp("decoding")
    good = write_clip(folder / "good.mp4", moving_frames(24, (160, 120), (1.5, 0.5)), 24)
    small = write_clip(folder / "small.mp4", moving_frames(12, (64, 48), (1, 0.5)), 24)
    return {
        "good": good,
        "damaged": damaged(good),
        "small": small,
        "small-damaged": damaged(small),
    }


# --------------------------------------------------------------------------------------------
# hangs


STRESS = """
import faulthandler, sys, threading
from inceptionism.errors import DreamError
from inceptionism.io import video as vio

def open_decode_close(path, cycles, done):
    for i in range(cycles):
        try:
            for j, _ in enumerate(vio.open_clip(path).frames()):
                if j == 1 + i % 4:  # closed mid-stream: its decoder threads still busy
                    break
        except DreamError:
            pass
        done.append(1)
        faulthandler.dump_traceback_later(30, exit=True)  # 30 s without a cycle done: a hang

faulthandler.dump_traceback_later(30, exit=True)  # a hang: every thread's stack, then exit 1
done, cycles = [], int(sys.argv[1])
pool = [threading.Thread(target=open_decode_close, args=(p, cycles, done)) for p in sys.argv[2:]]
for t in pool:
    t.start()
for t in pool:
    t.join()
print(len(done))
"""


def test_open_decode_close_in_threads_never_deadlocks(clips):
    """PyAV's log callback took the GIL from FFmpeg's decoder threads: one logging an error
    while the main thread closed the clip (GIL held, waiting for it) hung the process for good.
    Before the fix this loop hung in each of 3 runs; in a subprocess, so that a hang fails
    the test (with every thread's stack) instead of freezing the suite."""
    paths = [str(clips["small"]), str(clips["small-damaged"])] * 2
    p = subprocess.run(
        [sys.executable, "-c", STRESS, "60", *paths],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert p.returncode == 0 and p.stdout.split() == ["240"], p.stderr[-3000:]
    assert p.stderr == ""  # and FFmpeg printed nothing of its own


def test_a_damaged_clip_is_a_one_line_error(clips):
    clip = vio.open_clip(clips["damaged"])
    with pytest.raises(DreamError) as e:
        for _ in clip.frames():
            pass
    assert re.search(r"is truncated or damaged after \d+\.\d\d s \(.+\)$", one_line(e))


@pytest.mark.slow
def test_cli_on_a_damaged_clip_says_one_line_exits_1_promptly_and_writes_nothing(clips, tmp_path):
    """The issue's clip printed its error and then never exited (the decoder deadlock)."""
    out = tmp_path / "out.mp4"
    p = _start(["video", str(clips["damaged"]), "-o", str(out), "--max-side", "96", *TINY])
    assert p.stderr is not None
    line = p.stderr.readline()
    said = time.monotonic()
    _, rest = p.communicate(timeout=30)
    assert time.monotonic() - said < 5  # from the error line to the exit
    assert p.returncode == 1 and rest == "", line + rest
    assert line.startswith("deepdream: error:") and "is truncated or damaged" in line, line
    assert not out.exists() and _temporaries(tmp_path) == []


# --------------------------------------------------------------------------------------------
# cut short


@pytest.mark.parametrize("movflags", ["faststart", "frag_keyframe+empty_moov"])
def test_an_mp4_cut_short_is_refused_and_a_whole_one_is_not(clips, tmp_path, movflags):
    """A "fast start" MP4 (its index first) cut to 60% played 25 of its 48 frames without a
    word; the size its mdat box declares tells. Fragmented ones alike."""
    whole = remuxed(clips["good"], tmp_path / "whole.mp4", movflags)
    assert video_checks.mp4_missing_bytes(whole) == 0
    assert vio.open_clip(whole).count == 24
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(DreamError) as e:
        vio.open_clip(cut)
    assert re.search(r"is truncated: it ends \d+ bytes before its declared end$", one_line(e))


def test_an_mp4_with_its_index_last_cut_short_is_not_a_video(clips, tmp_path):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clips["good"].read_bytes()[: clips["good"].stat().st_size * 6 // 10])
    with pytest.raises(DreamError, match="is not a video that can be read") as e:
        vio.open_clip(cut)
    one_line(e)


def test_box_sizes_that_make_no_sense_are_left_to_the_decoder(tmp_path):
    odd = tmp_path / "odd.mp4"
    odd.write_bytes(struct.pack(">I4s", 3, b"ftyp") + b"x" * 40)  # a box smaller than its head
    assert video_checks.mp4_missing_bytes(odd) == 0
    big = tmp_path / "big.mp4"
    big.write_bytes(struct.pack(">I4sQ", 1, b"mdat", 1 << 40) + b"x" * 8)  # 64-bit size
    assert video_checks.mp4_missing_bytes(big) == (1 << 40) - 24


def mdat_to_the_end(whole: Path, dst: Path, head: str) -> Path:
    """A fast-start MP4 (its mdat last, after an 8-byte ``free``) with the mdat's size rewritten
    in its bytes: ``size 0`` ("to the end of the file"), ``largesize 0`` (the same in 64 bits)
    or ``largesize`` (its true size in 64 bits, the ``free`` box taken in as its longer head)."""
    data = bytearray(whole.read_bytes())
    boxes = top_boxes(bytes(data))
    free, (at, size) = boxes[b"free"], boxes[b"mdat"]
    assert free == (at - 8, 8) and at + size == len(data)
    if head == "size 0":
        data[at : at + 4] = bytes(4)
    else:
        largesize = 0 if head == "largesize 0" else size + 8
        data[at - 8 : at + 8] = struct.pack(">I4sQ", 1, b"mdat", largesize)
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.parametrize("head", ["size 0", "largesize 0", "largesize"])
def test_an_mp4_whose_mdat_runs_to_the_end_is_read_whole_and_refused_cut(clips, tmp_path, head):
    """An mdat of size 0 runs to the end of the file: its size cannot tell a cut, and FFmpeg
    played such a file cut to 60% to the cut without a word. The sample tables in its moov
    declare where the frame data ends."""
    faststart = remuxed(clips["good"], tmp_path / "faststart.mp4", "faststart")
    whole = mdat_to_the_end(faststart, tmp_path / "whole.mp4", head)
    assert video_checks.mp4_missing_bytes(whole) == 0
    assert vio.open_clip(whole).count == 24
    assert video_checks.decodable_frames(av, whole) == 24
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    assert video_checks.decodable_frames(av, cut) > 0  # FFmpeg alone plays it to the cut
    assert video_checks.mp4_missing_bytes(cut) == len(data) - len(data) * 6 // 10
    with pytest.raises(DreamError) as e:
        vio.open_clip(cut)
    assert re.search(r"is truncated: it ends \d+ bytes before its declared end$", one_line(e))


def test_cli_dreams_a_whole_mdat_to_the_end_and_refuses_it_cut_in_one_line(clips, tmp_path, capsys):
    faststart = remuxed(clips["good"], tmp_path / "faststart.mp4", "faststart")
    whole = mdat_to_the_end(faststart, tmp_path / "whole.mp4", "size 0")
    out = tmp_path / "out.mp4"
    assert main(["video", str(whole), "-o", str(out), *TINY]) == 0
    assert video_checks.decodable_frames(av, out) == 24
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 6 // 10])
    capsys.readouterr()
    cut_out = tmp_path / "cut-out.mp4"
    assert main(["video", str(cut), "-o", str(cut_out), *TINY]) == 1
    err = capsys.readouterr().err
    assert err.startswith("deepdream: error:") and err.count("\n") == 1, err
    assert "is truncated: it ends" in err
    assert not cut_out.exists() and _temporaries(tmp_path) == []


def _box(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _mp4_with_tables(stco: bytes, stsc: bytes, stsz: bytes, payload: int = 64) -> bytes:
    """An MP4 of one track with these sample tables (full boxes' bodies, after version and
    flags) and an mdat of ``payload`` bytes that runs to the end of the file."""
    stbl = _box(
        b"stbl", *(_box(k, bytes(4), t) for k, t in zip(TABLES, (stco, stsc, stsz), strict=True))
    )
    moov = _box(b"moov", _box(b"trak", _box(b"mdia", _box(b"minf", stbl))))
    return _box(b"ftyp", b"isom") + moov + struct.pack(">I4s", 0, b"mdat") + bytes(payload)


TABLES = (b"stco", b"stsc", b"stsz")
ONE_RUN = struct.pack(">I3I", 1, 1, 1, 1)  # every chunk one sample


@pytest.mark.parametrize(
    "stco, stsc, stsz",
    [
        (struct.pack(">II", 1000, 10_000), ONE_RUN, struct.pack(">II", 100, 1)),  # count > box
        (struct.pack(">II", 1, 10_000), struct.pack(">I3I", 1, 2, 1, 1), struct.pack(">II", 1, 1)),
        (struct.pack(">II", 1, 10_000), ONE_RUN, struct.pack(">II", 100, 0)),  # no samples
        (struct.pack(">II", 1, 10_000), ONE_RUN, struct.pack(">III", 0, 5, 1)),  # sizes > box
        (struct.pack(">II", 1, 10_000), b"", struct.pack(">II", 100, 1)),  # stsc cut
    ],
)
def test_sample_tables_that_make_no_sense_are_left_to_the_decoder(tmp_path, stco, stsc, stsz):
    odd = tmp_path / "odd.mp4"
    odd.write_bytes(_mp4_with_tables(stco, stsc, stsz))
    assert video_checks.mp4_missing_bytes(odd) == 0
    co64 = _box(b"co64", bytes(4), struct.pack(">IQ", 1, 1 << 63))  # an offset past any file
    moov = _box(b"moov", _box(b"trak", _box(b"mdia", _box(b"minf", _box(b"stbl", co64)))))
    odd.write_bytes(moov + struct.pack(">I4s", 0, b"mdat"))
    assert video_checks.mp4_missing_bytes(odd) == 0
    odd.write_bytes(struct.pack(">I4s", 0, b"mdat") + bytes(99))  # no moov: nothing declared
    assert video_checks.mp4_missing_bytes(odd) == 0


def test_sample_tables_of_millions_of_entries_are_read_in_bounded_time(tmp_path):
    """A hostile table of 2 million chunks is read vectorised (0.04 s idle): the bound is loose,
    for a loaded machine, and only catches work per entry in Python or worse."""
    chunks = 2_000_000
    offsets = np.arange(chunks) * 3 + 20_000_000  # the last past the 16 MB file
    stco = struct.pack(">I", chunks) + offsets.astype(">u4").tobytes()
    stsz = struct.pack(">II", 0, chunks) + np.full(chunks, 7, dtype=">u4").tobytes()
    big = tmp_path / "big.mp4"
    big.write_bytes(_mp4_with_tables(stco, ONE_RUN, stsz))
    start = time.perf_counter()
    missing = video_checks.mp4_missing_bytes(big)
    took = time.perf_counter() - start
    assert missing == int(offsets[-1]) + 7 - big.stat().st_size
    assert took < 5.0, took


# --------------------------------------------------------------------------------------------
# decompression bombs


def _ue(value: int) -> str:
    """An unsigned Exp-Golomb code, as bits."""
    code = bin(value + 1)[2:]
    return "0" * (len(code) - 1) + code


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.bits, self.at = "".join(f"{b:08b}" for b in data), 0

    def u(self, n: int) -> int:
        self.at += n
        return int(self.bits[self.at - n : self.at], 2)

    def ue(self) -> int:
        zeros = self.bits.index("1", self.at) - self.at
        self.at += zeros
        return self.u(zeros + 1) - 1


def _escape(rbsp: bytes) -> bytes:
    """H.264 emulation prevention: a 3 after two zero bytes where a start code could appear."""
    out, zeros = bytearray(), 0
    for b in rbsp:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def _resized_sps(sps: bytes, width: int, height: int) -> bytes:
    """A baseline-profile SPS NAL unit (header byte first) that says ``width`` x ``height``."""
    r = _Bits(sps[1:].replace(b"\x00\x00\x03", b"\x00\x00"))
    assert r.u(8) == 66  # baseline: no chroma or scaling fields before the size
    r.u(16), r.ue(), r.ue()  # constraints and level, id, log2 of the largest frame number
    assert r.ue() == 2  # picture order count type 2: nothing more before the size
    r.ue(), r.u(1)  # reference frames, gaps allowed
    before = r.at
    r.ue(), r.ue()  # width and height in macroblocks, less one
    bits = r.bits[:before] + _ue(width // 16 - 1) + _ue(height // 16 - 1)
    bits += r.bits[r.at :].rstrip("0")  # the rest, its stop bit last
    bits += "0" * (-len(bits) % 8)
    return sps[:1] + _escape(bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)))


def huge_h264(path: Path, width: int, height: int) -> Path:
    """A real two-frame 32x32 H.264 stream (Annex B) whose sequence header says ``width`` x
    ``height``: a file of a few hundred bytes that decodes to enormous frames."""
    with av.open(str(path), "w", format="h264") as out:
        vs = out.add_stream("libx264", rate=24, options={"profile": "baseline"})
        vs.width, vs.height, vs.pix_fmt = 32, 32, "yuv420p"
        for i in range(2):
            f = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 90 + i, np.uint8), "rgb24")
            f.pts = i
            for pk in vs.encode(f):
                out.mux(pk)
        for pk in vs.encode(None):
            out.mux(pk)
    units = path.read_bytes().split(b"\x00\x00\x01")
    for i, unit in enumerate(units):
        if unit and unit[0] & 0x1F == 7:  # the sequence parameter set
            units[i] = _resized_sps(unit.rstrip(b"\x00"), width, height) + b"\x00"
    path.write_bytes(b"\x00\x00\x01".join(units))
    return path


def _memory_kib(field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, KiB."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.M).group(1))


def test_frames_over_the_pixel_cap_are_refused_before_a_frame_is_decoded(tmp_path):
    """12000x12000 from a file under 1 KB: refused from the stream's header, and the decoder
    never allocates a frame of it (one is 216 MB as YUV; opening it took 600 MB more before).
    The memory is the process's peak, reset here (Linux 4.0 on)."""
    bomb = huge_h264(tmp_path / "bomb.mp4", 12000, 12000)
    assert bomb.stat().st_size < 1024
    try:
        Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from now
        before = _memory_kib("VmRSS")
    except OSError:
        before = None
    with pytest.raises(DreamError) as e:
        vio.open_clip(bomb)
    assert one_line(e).endswith(
        "has 12000x12000 frames (144 megapixels), over the 100 megapixel limit (possible "
        "decompression bomb); shrink the video before dreaming"
    )
    if before is not None:
        assert _memory_kib("VmHWM") - before < 100 * 1024


def test_a_clip_under_the_pixel_cap_with_a_grown_header_still_opens(tmp_path):
    clip = vio.open_clip(huge_h264(tmp_path / "wide.mp4", 1920, 1088))
    assert (clip.width, clip.height) == (1920, 1088)


def test_cli_refuses_a_bomb_in_one_line_before_loading_the_model(tmp_path, capsys):
    bomb = huge_h264(tmp_path / "bomb.mp4", 12000, 12000)
    assert main(["video", str(bomb), "-o", str(tmp_path / "out.mp4"), *TINY]) == 1
    err = capsys.readouterr().err
    assert err.startswith("deepdream: error:") and err.count("\n") == 1, err
    assert "over the 100 megapixel limit" in err
    assert sorted(x.name for x in tmp_path.iterdir()) == ["bomb.mp4"]


# --------------------------------------------------------------------------------------------
# frame rates


def clip_at(path: Path, rate: Fraction | int, frames: int = 3) -> Path:
    """A playable H.264 MP4 (no B-frames: every frame decodes) at ``rate`` frames a second."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=rate, options={"bf": "0"})
        vs.width, vs.height, vs.pix_fmt = 96, 72, "yuv420p"
        for i, rgb in enumerate(moving_frames(frames, (96, 72), (1, 0))):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts = i
            for pk in vs.encode(f):
                out.mux(pk)
        for pk in vs.encode(None):
            out.mux(pk)
    return path


@pytest.mark.parametrize("rate", [100000, Fraction(1, 200)])
def test_an_absurd_frame_rate_is_refused_unless_resampled(tmp_path, rate):
    """3 frames at 100000 fps played, and gave an MP4 of 0 decodable frames (every decode
    timestamp 0). Rates outside 0.01 to 1000 fps are refused; fps_out resamples them."""
    src = clip_at(tmp_path / "fast.mp4", rate)
    with av.open(str(src)) as c:
        assert len(list(c.decode(video=0))) == 3  # the input itself plays
    with pytest.raises(DreamError, match=r"frames a second, outside the 0\.01 to 1000") as e:
        vio.open_clip(src)
    assert one_line(e).endswith("resample it with fps_out=RATE")
    assert vio.open_clip(src, fps_out=25).rate == 25


@pytest.mark.parametrize("rate", [Fraction(30000, 1001), 240, 960])
def test_real_camera_rates_are_kept(tmp_path, rate):
    assert vio.open_clip(clip_at(tmp_path / "ok.mp4", rate)).rate == rate


def test_an_output_whose_frames_would_not_decode_is_not_written(tmp_path):
    """What the 100000 fps clip gave: three frames at one tick each, reordered by the encoder
    onto one decode timestamp. The writer decodes what it wrote before it moves it in place."""
    out = tmp_path / "out.mp4"
    writer = vio.VideoWriter(out, width=96, height=72, rate=Fraction(100000))
    with writer, pytest.raises(DreamError) as e:
        for i, rgb in enumerate(moving_frames(3, (96, 72), (1, 0))):
            writer.write(rgb, i)
        writer.close()
    assert one_line(e).endswith("only 0 of the 3 frames written would decode; nothing was written")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# SIGTERM


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "inceptionism", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )


def _terminate_when(proc: subprocess.Popen, ready) -> tuple[float, str]:
    """SIGTERM once ``ready()``; returns seconds to exit and stderr."""
    deadline = time.monotonic() + 90
    while not ready():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    return time.monotonic() - sent, err


def _temporaries(folder: Path) -> list[str]:
    return [x.name for x in folder.iterdir() if x.name.endswith(".tmp")]


@pytest.mark.slow
def test_sigterm_ends_a_video_run_in_seconds_with_143_and_nothing_partial(tmp_path):
    src = write_clip(tmp_path / "in.mp4", moving_frames(30, (112, 72), (2, 1)), 24)
    out = tmp_path / "out.mp4"
    p = _start(["video", str(src), "-o", str(out), "--octaves", "2", "--iterations", "3", "-q"])
    work = out.with_name("out.mp4.frames")
    seconds, err = _terminate_when(p, lambda: len(list(work.glob("*.png"))) >= 2)
    assert p.returncode == 143 and err == "deepdream: terminated\n", err
    assert seconds < 5, seconds
    assert not out.exists() and _temporaries(tmp_path) == []
    assert (work / "state.json").exists()  # the dreamed frames stay, for the run to go on


@pytest.mark.slow
def test_sigterm_ends_a_zoom_in_seconds_with_143_and_nothing_partial(tmp_path, sample_path):
    out = tmp_path / "zoom.mp4"
    p = _start(["zoom", str(sample_path), "-o", str(out), *ZOOM])
    seconds, err = _terminate_when(p, lambda: bool(_temporaries(tmp_path)))
    assert p.returncode == 143 and err.endswith("deepdream: terminated\n"), err
    assert "Traceback" not in err and seconds < 5, (seconds, err)
    assert list(tmp_path.iterdir()) == []


HANG_IN_CLEANUP = """
import sys, threading
from inceptionism.frontends import cli
from inceptionism.frontends.cli import command
from inceptionism.io import video

command.TERMINATE_GRACE_S = 1.0
def abort(self):  # the clean-up after SIGTERM waits forever (as in a C call that never returns)
    lock = threading.Lock()
    lock.acquire()
    lock.acquire()

video.VideoWriter.abort = abort
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_a_terminated_run_that_hangs_in_its_clean_up_still_ends(tmp_path, sample_path):
    script = tmp_path / "hang.py"
    script.write_text(textwrap.dedent(HANG_IN_CLEANUP))
    out = tmp_path / "zoom.mp4"
    p = subprocess.Popen(
        [sys.executable, str(script), "zoom", str(sample_path), "-o", str(out), *ZOOM],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    seconds, err = _terminate_when(p, lambda: bool(_temporaries(tmp_path)))
    assert p.returncode == 1 and seconds < 5, (p.returncode, seconds, err)
    assert "Traceback" not in err
