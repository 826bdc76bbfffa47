"""The web studio in a real browser: Debian's chromium, headless, driven by Playwright.

Upload a picture, Dream, see the previews change and the final image, Stop a second dream, and
screenshot the page mid-dream and the Video tab with its result (with
DEEPDREAM_UPDATE_SCREENSHOT=1 they replace docs/web-studio.png and docs/web-studio-video.png, the
README's pictures; otherwise they stay in the test's folder, so a test run leaves the tree
unchanged). Also measures the time
from clicking Dream to the first preview on the bundled sample at default settings, and prints
it (a benchmark figure, not an assertion).

CI runs this test: ``.ci/run`` installs chromium with apt-get where it is missing. Playwright's
own browser download needs the internet, so the test uses the system chromium.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image
from webapp import ROOT, StudioServer, picture

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = [pytest.mark.browser, pytest.mark.network]

CHROMIUM = (
    os.environ.get("DEEPDREAM_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
)
SCREENSHOT = ROOT / "docs" / "web-studio.png"
VIDEO_SCREENSHOT = ROOT / "docs" / "web-studio-video.png"


@pytest.fixture(scope="module")
def server():
    s = StudioServer("--device", "cpu")
    yield s
    s.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield b
        b.close()


def status(page) -> str:
    return page.locator("#status textarea").input_value()


def view_src(page) -> str | None:
    img = page.locator("#view img")
    return img.get_attribute("src") if img.count() else None


#: Records every picture the Dream view shows, as the page shows it (polling from the test
#: would miss some on a loaded machine).
WATCH_VIEW = """() => {
    window.shown = [];
    const seen = () => {
        const img = document.querySelector('#view img');
        if (img && img.src && !window.shown.includes(img.src)) window.shown.push(img.src);
    };
    new MutationObserver(seen).observe(document.body, {
        subtree: true, childList: true, attributes: true, attributeFilter: ['src'],
    });
}"""


def set_number(page, field: str, value: int) -> None:
    box = page.locator(f"#{field} input")
    box.fill(str(value))
    box.press("Tab")


def test_first_preview_on_the_sample_at_default_settings(server, browser):
    """Click Dream on the page as it opens (the bundled sample, default settings) and time the
    first preview. Printed, not asserted: the machine is shared."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server.url)
    page.wait_for_selector("#picture img")
    start = time.monotonic()
    page.click("#dream")
    page.wait_for_selector("#view img", timeout=120_000)
    first = time.monotonic() - start
    print(f"\nfirst preview {first:.2f} s after clicking Dream (sample, default settings)")
    page.click("#stop")  # (the next test dreams to the end)
    page.wait_for_function(
        "() => /stopp|done/.test(document.querySelector('#status textarea').value)",
        timeout=60_000,
    )
    page.close()


def test_upload_dream_previews_final_and_stop(server, browser, tmp_path):
    shot_path = tmp_path / "web-studio.png"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server.url)
    page.wait_for_selector("#picture img")
    # upload a picture of our own
    photo = picture(tmp_path / "upload-me.png", (300, 200))
    page.locator("#picture input[type=file]").set_input_files(str(photo))
    page.wait_for_function(
        "() => (document.querySelector('#picture img') || {}).src?.includes('upload-me')",
        timeout=60_000,
    )
    set_number(page, "octaves", 4)
    set_number(page, "iterations", 12)
    page.evaluate(WATCH_VIEW)
    page.click("#dream")
    shot = False
    deadline = time.monotonic() + 300
    while not status(page).startswith("done"):
        assert time.monotonic() < deadline, status(page)
        if not shot and page.evaluate("window.shown.length") >= 3:  # mid-dream: for the README
            page.screenshot(path=str(shot_path))
            shot = True
        time.sleep(0.05)
    previews: list[str] = page.evaluate("window.shown")
    final = view_src(page)
    assert len([p for p in previews if p != final]) >= 2, previews  # two different previews
    assert final and final.endswith(".png") and "upload-me.dream" in final
    assert "300x200 px" in status(page)
    assert page.locator("#png a, #png [download]").count() >= 1  # the download link
    command = page.locator("#command").inner_text()
    assert "deepdream dream upload-me.png" in command and "--octaves 4" in command
    assert page.locator("#history img").count() == 1

    # a second, long dream, stopped
    set_number(page, "iterations", 400)
    page.click("#dream")
    page.wait_for_function(
        "() => /step \\d+\\/1600/.test(document.querySelector('#status textarea').value)",
        timeout=120_000,
    )
    page.click("#stop")
    page.wait_for_function(
        "() => /stopp/.test(document.querySelector('#status textarea').value)", timeout=30_000
    )
    from gradio_client import Client

    def server_steps() -> dict:
        return Client(server.url, verbose=False).predict(api_name="/steps")

    deadline = time.monotonic() + 30
    while server_steps()["running"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    before = server_steps()["server"]
    time.sleep(2)
    assert server_steps()["server"] == before  # the server does no more work
    assert page.locator("#history img").count() == 1  # a stopped dream is not in the history
    # nor is it offered as the finished dream's PNG and command were
    assert page.locator("#png a, #png [download]").count() == 0
    assert "upload-me.png" not in page.locator("#command").inner_text()
    page.close()
    with Image.open(shot_path) as im:
        assert im.size == (1400, 1000)
    if os.environ.get("DEEPDREAM_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot_path, SCREENSHOT)


def test_video_tab_dreams_an_uploaded_clip(server, browser, tmp_path):
    """Open the Video tab, upload a tiny clip, Dream, and see the dreamed video on the page."""
    import numpy as np
    from videoclips import write_clip

    # the sample photo panned 4 px a frame: a clip worth a look in the README's screenshot
    with Image.open(ROOT / "src" / "inceptionism" / "data" / "chelsea.png") as im:
        photo = np.asarray(im.convert("RGB").resize((160, 106)))
    frames = [np.ascontiguousarray(photo[5:101, 4 * i : 4 * i + 128]) for i in range(6)]
    clip = write_clip(tmp_path / "walk.mp4", frames, 24)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server.url)
    page.get_by_role("tab", name="Video").click()
    page.locator("#clip input[type=file]").set_input_files(str(clip))
    page.wait_for_selector("#clip_view video", timeout=60_000)
    line = page.locator("#video_status textarea")
    assert line.input_value().startswith("walk.mp4: 6 frames of 128x96 px"), line.input_value()
    for field, value in (("video_max_side", 128), ("video_octaves", 2), ("video_iterations", 8)):
        box = page.locator(f"#{field} input, #{field} textarea").first
        box.fill(str(value))
        box.press("Tab")
    page.click("#video_dream")
    page.wait_for_selector("#video_result video", timeout=120_000)
    done = page.locator("#video_status textarea").input_value()
    assert done.startswith("done: 6 frames") and "sound kept" in done, done
    src = page.locator("#video_result video").get_attribute("src") or ""
    assert "walk.dream.mp4" in src, src
    assert "deepdream video walk.mp4" in page.locator("#video_command").inner_text()
    shot_path = tmp_path / "web-studio-video.png"
    page.screenshot(path=str(shot_path))
    page.close()
    if os.environ.get("DEEPDREAM_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot_path, VIDEO_SCREENSHOT)


#: A recipe key (the message quotes it): a link, an image with a handler, a script.
MARKUP = '<a href="//evil.example/">Go</a><img src=x onerror=w=1><script>w=2</script>'


def test_markup_in_a_dream_s_settings_is_shown_as_text(server, browser, tmp_path):
    """Load the settings of a crafted dream whose recipe holds markup: the error popup shows
    the markup as text; no link, image or script of it is live on the page. The Layer atlas
    tab has a picture of its own."""
    import numpy as np

    from inceptionism.io import save_image

    crafted = tmp_path / "crafted.png"
    save_image(crafted, np.zeros((16, 16, 3), np.float32), None, {"config": {MARKUP: 1}})
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server.url)
    page.wait_for_selector("#picture img")
    page.locator("#settings_file input[type=file]").set_input_files(str(crafted))
    page.wait_for_selector(".toast-body", timeout=30_000)
    text = page.locator(".toast-body").inner_text()
    assert MARKUP in text and "crafted.png" in text, text
    assert page.locator('a[href*="evil.example"]').count() == 0
    assert page.locator("img[onerror], [onerror]").count() == 0
    assert page.locator("script", has_text="w=2").count() == 0
    assert page.evaluate("typeof window.w") == "undefined"
    page.get_by_role("tab", name="Layer atlas").click()
    assert "chelsea" in (page.locator("#atlas_picture img").get_attribute("src") or "")
    page.close()


def test_a_bad_clip_says_so_once(server, browser, tmp_path):
    """A clip that is no video: the Video tab says why beside it (the browser does not try to
    play it and pop up an error of its own); Dream shows the command's message, once."""
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all\n" * 10)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server.url)
    page.get_by_role("tab", name="Video").click()
    page.locator("#clip input[type=file]").set_input_files(str(bad))
    page.wait_for_function(
        "() => document.querySelector('#video_status textarea').value.includes('bad.mp4')",
        timeout=30_000,
    )
    line = page.locator("#video_status textarea").input_value()
    assert "is not a video" in line, line
    time.sleep(1)  # (a player's error would pop up by now)
    assert page.locator(".toast-body").count() == 0
    page.click("#video_dream")
    page.wait_for_selector(".toast-body", timeout=30_000)
    time.sleep(0.5)  # (a second message would join it by now)
    popup = page.locator(".toast-body").inner_text()
    assert popup.count("bad.mp4 is not a video") == 1 and "(2)" not in popup, popup
    page.close()
