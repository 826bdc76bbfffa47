"""The web studio through its API (gradio_client) against a real ``deepdream ui`` server on a
free loopback port, plus the ``deepdream atlas`` command and the studio's pure helpers.

Dreams are tiny (192x128 px, 2 octaves, a few steps): the machine is small and shared.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import re
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client", reason="the ui extra is not installed")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402
from gradio_client.utils import Status  # noqa: E402
from test_io import png_claiming  # noqa: E402
from videoclips import moving_frames, write_clip  # noqa: E402
from webapp import SAMPLE, StudioServer, deepdream, noise_png, picture  # noqa: E402

from inceptionism.errors import DreamError  # noqa: E402
from inceptionism.io import read_metadata, save_image  # noqa: E402

pytestmark = pytest.mark.network  # the studio's real server on 127.0.0.1

LIMIT_MB = 1


@pytest.fixture(scope="module")
def server():
    s = StudioServer("--max-upload", f"{LIMIT_MB}MB", "--device", "cpu", "--queue", "4")
    yield s
    temp = s.temp_dir
    assert temp.is_dir()
    s.close()
    assert s.proc.returncode == 0, s.output
    assert not temp.exists(), "the studio left its temporary folder behind"


def client(server: StudioServer, tmp_path: Path) -> Client:
    return Client(server.url, verbose=False, download_files=str(tmp_path / uuid.uuid4().hex))


class Form:
    """The /dream (or /atlas) parameters by their field labels, defaults from the server."""

    def __init__(self, c: Client, endpoint: str = "/dream") -> None:
        info = c.view_api(print_info=False, return_format="dict")["named_endpoints"][endpoint]
        self.labels = [p["label"] for p in info["parameters"]]
        self.args = [p.get("parameter_default") for p in info["parameters"]]
        self.endpoint = endpoint

    def set(self, **values: object) -> Form:
        for label, v in values.items():
            self.args[self.labels.index(label.replace("_", " ").capitalize())] = v
        return self

    def picture(self, path: Path) -> Form:
        self.args[0] = handle_file(str(path))
        return self


def wait_for(cond, timeout: float = 120, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(every)
    raise AssertionError("timed out waiting")


def direct(c: Client, api_name: str, every: bool = False) -> object:
    """Call a queue-less endpoint of ``c``'s session straight over HTTP, as the page does for
    Stop (it must work while the queue is full): its first output (``every``: all of them)."""
    import httpx

    r = httpx.post(
        f"{c.src.rstrip('/')}/gradio_api/run/{api_name}",
        json={"data": [], "session_hash": c.session_hash},
        timeout=30,
    )
    r.raise_for_status()
    data = r.json()["data"]
    return data if every else data[0]


def steps(c: Client) -> dict:
    return direct(c, "steps")


def stop(c: Client) -> str:
    return direct(c, "stop")


def cli_error(path: Path, command: str = "dream") -> str:
    """What ``deepdream dream`` (or ``command``) says about ``path`` (run beside it, named as
    uploaded)."""
    out = "out.mp4" if command == "video" else "out.png"
    r = deepdream(command, path.name, "-o", out, cwd=path.parent)
    assert r.returncode != 0 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("deepdream: error: ")
    return r.stderr.strip().removeprefix("deepdream: error: ")


# -- dreaming --------------------------------------------------------------------------------------


def test_dream_streams_previews_and_result_reproducible_by_the_command(server, tmp_path):
    c = client(server, tmp_path)
    photo = picture(tmp_path / "photo.png")
    form = Form(c).picture(photo).set(octaves=2, iterations=4)
    job = c.submit(*form.args, api_name="/dream")
    updates = []
    for out in job:
        updates.append(out)
    outputs = job.outputs()
    images = [o[0] for o in outputs if isinstance(o[0], str)]
    assert len(images) >= 2 + 1, [o[1] for o in outputs]  # octaves + 1
    final = outputs[-1]
    view, status, png, command = final[0], final[1], final[2], final[3]
    assert status.startswith("done"), status
    with Image.open(png) as im:
        assert im.size == (192, 128)  # the input's size
    meta = read_metadata(png)
    assert meta["config"]["octaves"] == 2 and meta["config"]["iterations"] == 4
    assert meta["model"] == "efficientnet-lite0" and meta["layers"] == {
        "block10": 1.0,
        "block8": 1.0,
    }
    assert np.array_equal(np.asarray(Image.open(view)), np.asarray(Image.open(png)))
    # the page's command makes the same pixels
    words = command.split()
    assert words[:3] == ["deepdream", "dream", "photo.png"], command
    out_name = words[words.index("-o") + 1]
    r = deepdream(*words[1:], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / out_name)), np.asarray(Image.open(png)))
    # uploads and results are in the studio's own temporary folder
    assert list(server.temp_dir.rglob("photo.png")) and list(server.temp_dir.rglob(out_name))
    table = final[5]  # (the session's state is not sent: the gallery and table show it)
    assert table["data"][-1][2] == command, table


def test_guide_picture_and_class(server, tmp_path):
    c = client(server, tmp_path)
    guide = picture(tmp_path / "guide.png", (128, 128))
    form = Form(c).picture(picture(tmp_path / "p.png")).set(octaves=1, iterations=2)
    form.args[form.labels.index("Guide picture")] = handle_file(str(guide))
    form.args[form.labels.index("Classes")] = ["tabby"]
    final = c.predict(*form.args, api_name="/dream")
    assert final[1].startswith("done"), final[1]
    meta = read_metadata(final[2])
    assert meta["config"]["guide"] == "guide.png"  # not the server's path
    assert meta["config"]["classes"] == {"tabby": 1.0}
    assert "--guide guide.png" in final[3] and "--class tabby" in final[3]


def test_a_dream_that_runs_otherwise_than_asked_says_so_on_the_page(server, tmp_path):
    """Fewer octaves than asked (a small picture): the page's status says so, as the CLI's note
    line does, and the metadata records it; a dream run as asked has no note."""
    c = client(server, tmp_path)
    small = Form(c).picture(picture(tmp_path / "p.png")).set(octaves=8, iterations=1)
    status, png = c.predict(*small.args, api_name="/dream")[1:3]
    assert status.startswith("done") and " · note: " in status and "of 8 octaves run" in status
    meta = read_metadata(png)
    assert meta["octaves_run"] < 8 and meta["config"]["octaves"] == 8, meta
    plain = Form(c).picture(picture(tmp_path / "q.png")).set(octaves=1, iterations=1)
    assert "note" not in c.predict(*plain.args, api_name="/dream")[1]


def test_a_bad_guide_picture_is_named_as_uploaded(server, tmp_path):
    c = client(server, tmp_path)
    guide = tmp_path / "guide.png"
    guide.write_text("not a picture\n")
    form = Form(c).picture(picture(tmp_path / "p.png")).set(octaves=1, iterations=1)
    form.args[form.labels.index("Guide picture")] = handle_file(str(guide))
    with pytest.raises(AppError) as exc:
        c.predict(*form.args, api_name="/dream")
    assert str(exc.value) == cli_error(guide), str(exc.value)  # not where the server keeps it


def test_stop_stops_the_work_on_the_server(server, tmp_path):
    c = client(server, tmp_path)
    form = Form(c).picture(picture(tmp_path / "p.png")).set(octaves=2, iterations=1)
    finished = c.predict(*form.args, api_name="/dream")
    assert finished[2] and finished[3]  # a PNG and a command offered
    job = c.submit(*form.set(iterations=400).args, api_name="/dream")
    wait_for(lambda: steps(c)["session"] >= 2 + 3)
    said, png, command = direct(c, "stop", every=True)
    assert said.startswith("stopped at octave ")
    assert png is None and command == ""  # the finished dream's PNG is no longer offered
    after_stop = steps(c)["session"]
    wait_for(lambda: steps(c)["running"] == 0, timeout=30)
    first = steps(c)
    time.sleep(2)
    later = steps(c)
    assert later == first, (first, later)  # no step ran in these 2 s
    assert first["session"] - after_stop <= 2  # within a step (two, counting the race)
    assert first["session"] < 800  # far from done
    wait_for(job.done, timeout=30)
    started = job.outputs()[0]  # the new dream cleared them as it started, too
    assert started[1].startswith("waiting") and started[2] is None and started[3] == ""
    assert not (job.outputs()[-1][2] or job.outputs()[-1][3])


@pytest.mark.slow
def test_a_second_job_waits_in_the_queue(server, tmp_path):
    a, b = client(server, tmp_path), client(server, tmp_path)
    photo = picture(tmp_path / "p.png")
    long = a.submit(*Form(a).picture(photo).set(octaves=2, iterations=400).args, api_name="/dream")
    wait_for(lambda: steps(a)["session"] >= 2)
    short = b.submit(*Form(b).picture(photo).set(octaves=2, iterations=2).args, api_name="/dream")
    queued = wait_for(lambda: short.status().code == Status.IN_QUEUE and short.status(), 60)
    assert queued.rank is not None and queued.rank >= 0  # the position the page shows
    time.sleep(1.5)
    assert short.status().code == Status.IN_QUEUE
    assert steps(b)["session"] == 0  # it has not started while the first one runs
    stop(a)
    wait_for(short.done, timeout=120)
    assert short.outputs()[-1][1].startswith("done")
    assert steps(b)["session"] == 4
    wait_for(long.done, timeout=30)


@pytest.mark.slow
def test_the_queue_is_bounded(server, tmp_path):
    """One dream runs, 4 (--queue 4) wait; more are turned away at once."""
    a = client(server, tmp_path)
    photo = picture(tmp_path / "p.png")
    long = a.submit(*Form(a).picture(photo).set(octaves=2, iterations=400).args, api_name="/dream")
    wait_for(lambda: steps(a)["session"] >= 2)
    clients = [client(server, tmp_path) for _ in range(6)]
    short = Form(clients[0]).picture(photo).set(octaves=1, iterations=1).args
    jobs = [c.submit(*short, api_name="/dream") for c in clients]
    wait_for(lambda: sum(j.done() for j in jobs) >= 2, timeout=60)
    turned_away = [j for j in jobs if j.done()]
    for j in turned_away:
        assert "queue is full" in str(j.exception()).lower(), j.exception()
    assert sum(not j.done() for j in jobs) == 4
    stop(a)
    wait_for(lambda: all(j.done() for j in jobs), timeout=180)
    waited = [j for j in jobs if j not in turned_away]
    assert all(j.outputs()[-1][1].startswith("done") for j in waited)
    wait_for(long.done, timeout=30)


def test_upload_over_the_limit_gets_413(server, tmp_path):
    import httpx

    big = noise_png(tmp_path / "big.png", LIMIT_MB * 1.5)
    small = picture(tmp_path / "small.png")
    assert big.stat().st_size > LIMIT_MB * 1024 * 1024 > small.stat().st_size
    url = server.url + "gradio_api/upload"
    for path, code in ((big, 413), (small, 200)):
        with path.open("rb") as fh:
            r = httpx.post(url, files={"files": (path.name, fh, "image/png")}, timeout=60)
        assert r.status_code == code, (path.name, r.status_code, r.text[:200])


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("not an image", marks=pytest.mark.slow),
        "truncated",
        pytest.param("decompression bomb", marks=pytest.mark.slow),
    ],
)
def test_bad_upload_gets_the_cli_message_and_the_page_keeps_working(server, tmp_path, kind):
    c = client(server, tmp_path)
    bad = tmp_path / "bad.png"
    if kind == "not an image":
        bad.write_text("hello, I am not a picture\n")
    elif kind == "truncated":
        data = picture(tmp_path / "whole.png").read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    else:
        png_claiming(bad, 30000, 30000)
    expected = cli_error(bad)
    with pytest.raises(AppError) as exc:
        c.predict(*Form(c).picture(bad).set(octaves=1, iterations=1).args, api_name="/dream")
    assert str(exc.value) == expected
    assert "\n" not in str(exc.value)
    good = Form(c).picture(picture(tmp_path / "good.png")).set(octaves=1, iterations=1)
    assert c.predict(*good.args, api_name="/dream")[1].startswith("done")


def test_settings_from_an_uploaded_dream_are_untrusted(server, tmp_path):
    c = client(server, tmp_path)
    mine = tmp_path / "mine.png"
    rgb = np.asarray(Image.open(picture(tmp_path / "p.png")), np.float32)
    cfg = {"model": "efficientnet-lite0", "octaves": 3, "iterations": 7, "seed": 5}
    save_image(mine, rgb, None, {"config": cfg})
    got = c.predict(handle_file(str(mine)), api_name="/load_settings")
    labels = Form(c).labels
    generic = labels[labels.index("Guide layer") :]  # the generated fields, after the special ones
    values = {k: v["value"] for k, v in zip(generic, got[4:], strict=True) if "value" in v}
    assert values["Octaves"] == 3 and values["Iterations"] == 7 and values["Seed"] == 5
    evil = tmp_path / "evil.png"
    save_image(evil, rgb, None, {"config": {**cfg, "model": "evil.py:factory"}})
    with pytest.raises(AppError, match="would run its code"):
        c.predict(handle_file(str(evil)), api_name="/load_settings")


LINK = '<a href="https://evil.example/login">Session expired: sign in</a>'
MARKUP = f'{LINK}<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'


CRAFTED = {
    "model": {"model": LINK},
    "layer": {"layers": {"<script>block3</script>": 1.0}},
    "guide layer": {"layers": {"block3": 1.0}, "guide_layer": "<b>block5</b>"},
    "class": {"classes": {"<img src=x onerror=alert(1)>": 1.0}},
    "unknown key": {LINK: 1},
    "preset": {"preset": MARKUP},
}


def test_markup_in_an_uploaded_recipe_is_escaped_in_the_message(server, tmp_path):
    """The page shows an error's message as HTML: text from a file comes back escaped, and a
    name the page's fields do not offer (a layer, a class) is refused when the settings are
    loaded, not by Gradio (whose message would quote it unescaped) at the next dream."""
    c = client(server, tmp_path)
    for case, setting in CRAFTED.items():
        crafted = tmp_path / "crafted.png"
        config = {"model": "efficientnet-lite0", **setting}
        save_image(crafted, np.zeros((32, 32, 3), np.float32), None, {"config": config})
        with pytest.raises(AppError) as exc:
            c.predict(handle_file(str(crafted)), api_name="/load_settings")
        message = str(exc.value)
        assert "<" not in message and ">" not in message, (case, message)
        assert "&lt;" in message and "crafted.png" in message, (case, message)


def test_a_class_from_an_uploaded_recipe_is_the_field_s_own(server, tmp_path):
    """A class given by index or another spelling loads as the Classes field names it."""
    c = client(server, tmp_path)
    mine = tmp_path / "mine.png"
    config = {"model": "efficientnet-lite0", "classes": {"281": 1.0, "Tabby Cat": 1.0}}
    save_image(mine, np.zeros((32, 32, 3), np.float32), None, {"config": config})
    got = c.predict(handle_file(str(mine)), api_name="/load_settings")
    assert got[3]["value"] == ["tabby"], got[3]


def test_model_from_the_page_must_be_registered(server, tmp_path):
    c = client(server, tmp_path)
    form = Form(c).picture(picture(tmp_path / "p.png")).set(model="evil.py:factory")
    with pytest.raises(AppError):
        c.predict(*form.args, api_name="/dream")


def test_atlas_streams_labelled_tiles(server, tmp_path):
    """The atlas dreams its own picture (the tab's upload), with the Image tab's settings."""
    c = client(server, tmp_path)
    labels = Form(c, "/atlas").labels
    assert labels[0].startswith("Atlas picture") and labels[1:-3] == Form(c).labels[1:]
    form = Form(c, "/atlas").picture(picture(tmp_path / "p.png")).set(octaves=1, iterations=2)
    form.args[form.labels.index("Atlas of")] = "block3"
    form.args[form.labels.index("Channels of that layer")] = "0-2"
    form.args[form.labels.index("Tile size (px)")] = 96
    job = c.submit(*form.args, api_name="/atlas")
    sizes = [len(o[0] or []) for o in job]
    outputs = job.outputs()
    galleries = [len(o[0]) for o in outputs if o[0]]
    assert galleries[-1] == 3 and len(set(galleries)) >= 2, (sizes, galleries)
    labels = [item["caption"] for item in outputs[-1][0]]
    assert labels == ["block3:0", "block3:1", "block3:2"]
    with Image.open(outputs[-1][0][0]["image"]) as tile:
        assert tile.size == (96, 64)  # the atlas picture's shape (192x128), not the sample's
    sheet = outputs[-1][2]
    assert sheet and Image.open(sheet).size[0] > 96


# -- the video tab -------------------------------------------------------------------------------

VIDEO_TINY = {"max_side": 96, "octaves": 2, "iterations": 2}


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """6 frames of 96x72 (the least the default layer takes) with a tone, moving 2 px a frame."""
    folder = tmp_path_factory.mktemp("clips")
    return write_clip(folder / "clip.mp4", moving_frames(6, (96, 72), (2, 1)), 24)


def video_frames(path: Path | str) -> tuple[list[np.ndarray], str | None]:
    """The decoded frames of a video and its audio codec."""
    import av

    with av.open(str(path)) as c:
        audio = c.streams.audio[0].codec_context.name if c.streams.audio else None
        return [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])], audio


@pytest.mark.slow
def test_video_dreams_a_clip_with_its_sound_as_the_command_does(server, tmp_path, clip):
    c = client(server, tmp_path)
    form = Form(c, "/video").picture(clip).set(**VIDEO_TINY)
    job = c.submit(*form.args, api_name="/video")
    for _ in job:  # to the end of the stream
        pass
    outputs = job.outputs()
    lines = [o[0] for o in outputs]
    assert any(re.match(r"frame \d/6 · ", line) for line in lines), lines  # progress streams
    assert sum(isinstance(o[1], str) for o in outputs) >= 2, lines  # frames as they are dreamed
    status, result, download, command = outputs[-1][0], *outputs[-1][2:]
    assert status.startswith("done: 6 frames") and "96x72 px · sound kept" in status, status
    frames, audio = video_frames(download)
    assert len(frames) == 6 and frames[0].shape == (72, 96, 3) and audio == "aac"
    assert Path(result).read_bytes() == Path(download).read_bytes()
    # the page's command makes the same video
    words = command.split()
    assert words[:5] == ["deepdream", "video", "clip.mp4", "-o", "clip.dream.mp4"], command
    shutil.copy(clip, tmp_path / "clip.mp4")
    r = deepdream(*words[1:], "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    again, _ = video_frames(tmp_path / "clip.dream.mp4")
    assert all(np.array_equal(a, b) for a, b in zip(again, frames, strict=True))
    # the dream's work folder is gone; the video stays in the studio's folder until it stops
    assert not list(server.temp_dir.rglob("*.frames"))


@pytest.mark.slow
def test_video_stop_stops_the_work_on_the_server(server, tmp_path, clip):
    c = client(server, tmp_path)
    long = tmp_path / "long.mp4"
    shutil.copy(clip, long)
    form = Form(c, "/video").picture(long).set(**{**VIDEO_TINY, "iterations": 400})
    job = c.submit(*form.args, api_name="/video")
    wait_for(lambda: steps(c)["session"] >= 3)
    assert stop(c).startswith("stopped at frame 1/6 · step ")
    after_stop = steps(c)["session"]
    wait_for(lambda: steps(c)["running"] == 0, timeout=30)
    first = steps(c)
    time.sleep(2)
    assert steps(c) == first  # no step ran in these 2 s
    assert first["session"] - after_stop <= 2  # within a step (two, counting the race)
    wait_for(job.done, timeout=30)
    assert not list(server.temp_dir.rglob("long.dream*"))  # a stopped dream leaves nothing


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["not a video", "truncated", "a picture renamed"])
def test_video_bad_upload_gets_the_cli_message_and_the_page_keeps_working(
    server, tmp_path, clip, kind
):
    c = client(server, tmp_path)
    bad = tmp_path / "bad.mp4"
    if kind == "not a video":
        bad.write_text("hello, I am not a video\n")
    elif kind == "truncated":
        data = clip.read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    else:
        bad.write_bytes(picture(tmp_path / "p.png").read_bytes())
    expected = cli_error(bad, "video")
    with pytest.raises(AppError) as exc:
        c.predict(*Form(c, "/video").picture(bad).set(**VIDEO_TINY).args, api_name="/video")
    assert str(exc.value) == expected
    assert "\n" not in str(exc.value)
    good = Form(c, "/video").picture(clip).set(**VIDEO_TINY)
    assert c.predict(*good.args, api_name="/video")[0].startswith("done: 6 frames")


def test_video_form_is_the_image_form_and_the_video_options(server, tmp_path):
    """The Video tab asks what the Image tab asks, then ``deepdream video``'s own options."""
    from inceptionism.frontends.web import video_options

    c = client(server, tmp_path)
    image, video = Form(c).labels, Form(c, "/video").labels
    extra = [o.title.capitalize() for o in video_options()]
    assert video[1:] == image[1:] + extra, video
    assert "Keep frames" not in video  # the command line's own


# -- reachability --------------------------------------------------------------------------------


def non_loopback_address() -> str | None:
    """An IPv4 address of this machine other than loopback: the source address of its routes
    (a UDP connect sends no packet), else what ``hostname -I`` lists."""
    found: list[str] = []
    for target in ("10.254.254.254", "203.0.113.1", "192.168.254.254"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.connect((target, 9))
                found.append(s.getsockname()[0])
            except OSError:
                pass
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        found += subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    for addr in found:
        with contextlib.suppress(ValueError):
            ip = ipaddress.ip_address(addr)
            if ip.version == 4 and not ip.is_loopback and not ip.is_unspecified:
                return addr
    return None


def test_not_reachable_on_a_non_loopback_address_by_default(server):
    addr = non_loopback_address()
    if addr is None:
        pytest.skip("this machine has no non-loopback address to try")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass  # reachable here
    with pytest.raises(OSError):
        socket.create_connection((addr, server.port), timeout=5).close()


def test_another_host_prints_a_warning():
    # (a bad upload limit stops it right after the warning: nothing listens on the network)
    r = deepdream("ui", "--host", "0.0.0.0", "--max-upload", "lots", timeout=60)
    assert r.returncode != 0
    assert "warning: the studio listens on 0.0.0.0" in r.stderr
    assert "deepdream: error: invalid size 'lots'" in r.stderr


# -- the atlas command ---------------------------------------------------------------------------


@pytest.mark.slow
def test_atlas_command_writes_a_labelled_sheet(tmp_path):
    out = tmp_path / "sheet.png"
    args = ["atlas", str(SAMPLE), "--layer", "block3", "--channels", "0-3", "-o", str(out)]
    args += ["--max-side", "96", "--octaves", "1", "--iterations", "2", "-q"]
    r = deepdream(*args)
    assert r.returncode == 0, r.stderr
    sheet = np.asarray(Image.open(out))
    assert sheet.shape[1] > 2 * 96 and sheet.shape[0] > 64
    meta = read_metadata(out)
    assert meta["atlas"]["tiles"] == [f"block3:{i}" for i in range(4)]
    r = deepdream(*args)  # an existing sheet is kept
    assert r.returncode == 1 and "--overwrite" in r.stderr and r.stderr.count("\n") == 1


def test_atlas_command_bad_channels(tmp_path):
    r = deepdream("atlas", str(SAMPLE), "--layer", "block3", "--channels", "38-45", "-o",
                  str(tmp_path / "s.png"), "-q")  # fmt: skip
    assert r.returncode == 1 and "block3 has 40 channels" in r.stderr, r.stderr
    assert not (tmp_path / "s.png").exists()


# -- pure helpers ----------------------------------------------------------------------------------


def test_parse_size_and_loopback():
    from inceptionism.frontends.web import is_loopback, parse_size

    assert parse_size("25MB") == 25 * 1024**2 and parse_size("512kb") == 512 * 1024
    assert parse_size("1000") == 1000
    for bad in ("", "MB", "-1MB", "12XB"):
        with pytest.raises(DreamError):
            parse_size(bad)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.2")


def test_atlas_tiles_and_channels():
    from inceptionism.atlas import parse_channels, tiles_for
    from inceptionism.models.base import LayerInfo

    assert parse_channels("0-3,7,2") == [0, 1, 2, 3, 7]
    for bad in ("a", "5-2", "-1", "0-100000"):
        with pytest.raises(DreamError):
            parse_channels(bad)
    infos = [LayerInfo("a", 8, 2, "m"), LayerInfo("b", 4, 4, "n"), LayerInfo("logits", 10, 0, "f")]
    assert [t.label for t in tiles_for(infos)] == ["a (8 ch, /2)", "b (4 ch, /4)"]
    assert [t.layers for t in tiles_for(infos, "b")] == [{f"b:{i}": 1.0} for i in range(4)]
    with pytest.raises(DreamError, match="no channel 4"):
        tiles_for(infos, "b", [4])


def test_the_form_is_the_options_schema(server, tmp_path):
    """Every option the page offers comes from the schema, labelled and bounded by it."""
    from inceptionism.frontends.web import form_options

    c = client(server, tmp_path)
    labels = Form(c).labels
    for opt in form_options():
        if opt.kind in ("int", "float", "bool", "choice", "tile", "str") and opt.name != "model":
            assert opt.title.capitalize() in labels, opt.name
    assert not {"Device", "Weights", "Threads", "Quiet", "Overwrite"} & set(labels)


def test_contact_sheet_png_roundtrip(tmp_path):
    from inceptionism.atlas import contact_sheet

    tiles = [(f"t{i}", np.full((20, 30, 3), i * 40, np.uint8)) for i in range(5)]
    sheet = contact_sheet(tiles, columns=2, title="x")
    buf = io.BytesIO()
    sheet.save(buf, "PNG")
    assert sheet.size[0] == 2 * 30 + 3 * 6


def test_the_command_is_the_recipe_of_the_form():
    """The page's command line, parsed by ``deepdream dream``, gives the page's recipe."""
    import shlex

    from inceptionism.config import make_config
    from inceptionism.frontends import cli
    from inceptionism.frontends.web import (
        command_for,
        form_defaults,
        form_options,
        recipe_from_form,
    )

    special = ("layers", "classes", "guide")  # fields of their own on the page
    fields = {o.name for o in form_options()} - set(special)
    values = {
        k: v for k, v in form_defaults("default", "efficientnet-lite0").items() if k in fields
    }
    values.update(octaves=3, step=0.05, max_loss="12.5", clip=False, seed=7, tile="96")
    cfg, run = recipe_from_form(
        values, layers=["block8", "block3"], channels="3,17", classes=["tabby cat"]
    )
    assert cfg.layers == {"block8:3,17": 1.0, "block3:3,17": 1.0}
    assert cfg.octaves == 3 and cfg.max_loss == 12.5 and cfg.tile == 96 and not cfg.clip
    command = command_for(cfg, run, "my photo.png", "out.png")
    words = shlex.split(command)
    assert words[:3] == ["deepdream", "dream", "my photo.png"]
    args = cli.build_parser().parse_args(words[1:])
    assert cli.recipe(args) == cfg
    # the defaults as the page shows them are the preset's recipe
    plain = {k: v for k, v in form_defaults("seed", "efficientnet-lite0").items() if k in fields}
    cfg, _ = recipe_from_form(plain)
    assert cfg == make_config("seed", model="efficientnet-lite0")


def test_time_left_stays_near_the_real_time_left(tmp_path):
    """A real short dream (3 octaves): after the first octave, the page's time left is never
    over 3x the time the dream really had left (it was 6x here, 25x on the sample, at each
    octave's last step, which counted the octave's work once instead of once per step)."""
    from inceptionism.config import make_config
    from inceptionism.frontends.web import Progress
    from inceptionism.session import Dreamer

    cfg = make_config("default", model="efficientnet-lite0", octaves=3, iterations=6)
    dreamer = Dreamer("efficientnet-lite0", cfg, device="cpu")
    rgb = np.asarray(Image.open(picture(tmp_path / "p.png", (240, 160))), np.float32)
    sizes = dreamer.octave_sizes(rgb.shape[:2])
    areas = [h * w for h, w in sizes]

    def one_dream() -> list[tuple[float, float]]:
        """(time really left, time left said) at each step after the first octave."""
        progress = Progress(sizes, cfg.iterations)
        said: list[tuple[float, int, float]] = []
        for event in dreamer.steps(rgb):
            progress.tick(event.octave, event.step)
            if event.step % cfg.iterations == 0:  # an octave's last step: all its work counted
                assert progress.done == cfg.iterations * sum(areas[: event.octave])
            said.append((time.monotonic(), event.octave, progress.seconds_left()))
            assert "s left" in progress.line(event.octave, 3, event.step, 18, 1.0) or len(said) == 1
        end = time.monotonic()
        assert len(said) == 18 and said[-1][2] == 0
        return [(end - t, left) for t, octave, left in said if octave > 1]

    for _ in range(3):  # a shared machine may stall one dream: one run free of stalls will do
        later = one_dream()
        if all(left <= 3 * really + 0.25 for really, left in later):
            break
    else:
        raise AssertionError(later)


@pytest.mark.slow
def test_an_uploaded_clip_is_described_and_shown_if_a_browser_plays_it(tmp_path):
    from inceptionism.frontends.web_checks import clip_preview

    frames = [np.full((32, 48, 3), 40 * i, np.uint8) for i in range(3)]
    mp4 = write_clip(tmp_path / "a.mp4", frames, 12)
    line = "mine.mp4: 3 frames of 48x32 px at 12 fps, sound (aac)"
    assert clip_preview(mp4, "mine.mp4") == (mp4, line)
    mkv = write_clip(tmp_path / "a.mkv", frames, 12, audio=False)
    shown, line = clip_preview(mkv, "mine.mkv")
    assert shown is None and line.endswith("no sound (no preview: browsers do not play .mkv files)")
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video\n")
    with pytest.raises(DreamError, match="is not a video"):
        clip_preview(bad, "bad.mp4")
