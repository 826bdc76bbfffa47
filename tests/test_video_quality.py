"""The yardsticks of a dreamed clip (fine flicker, ghosting) and the zoom's colour anchor.

Clips are a texture moving by known pixels (tests/videoclips.py); a "dream" is a second texture
added to it, either carried with the motion (as a coherent dream is) or left in place (a ghost),
so each yardstick is checked against an answer known in advance.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cv2")

from videoclips import moving_frames, texture, write_clip

from inceptionism import make_config
from inceptionism.errors import DreamError
from inceptionism.io.video import Frame
from inceptionism.video import flow as vflow
from inceptionism.video.clip import FrameLoop, VideoSettings, _Level
from inceptionism.video.quality import fine_flicker, ghosting
from inceptionism.video.zoom import ColourAnchor


def _with_detail(frames: list[np.ndarray], detail: list[np.ndarray]) -> list[np.ndarray]:
    pairs = zip(frames, detail, strict=True)
    return [np.clip(f.astype(np.float32) + d, 0, 255).astype(np.uint8) for f, d in pairs]


def _moving_square(n: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A textured square jumping 6 px a frame over a still background, and a detail that
    moves with it."""
    bg = texture(96, 128, seed=1)
    obj = texture(40, 40, seed=2)
    grain = (texture(40, 40, seed=3).astype(np.float32) - 128) * 0.5
    frames, detail = [], []
    for i in range(n):
        f, d = bg.copy(), np.zeros((96, 128, 3), np.float32)
        x = 10 + 6 * i
        f[28:68, x : x + 40] = obj
        d[28:68, x : x + 40] = grain
        frames.append(f)
        detail.append(d)
    return frames, detail


def test_fine_flicker_sees_boiling_grain_that_moving_grain_does_not_show():
    frames = moving_frames(4, (128, 96), (2, 1))
    moving = [(t.astype(np.float32) - 128) * 0.3 for t in moving_frames(4, (128, 96), (2, 1), 5)]
    boiling = [(texture(96, 128, seed=10 + i).astype(np.float32) - 128) * 0.3 for i in range(4)]
    steady = fine_flicker(frames, _with_detail(frames, moving), "medium")
    boils = fine_flicker(frames, _with_detail(frames, boiling), "medium")
    assert boils > 3 * steady


def test_ghosting_is_high_for_detail_left_in_place_and_low_for_carried_detail():
    frames, detail = _moving_square(4)
    carried = ghosting(frames, _with_detail(frames, detail), "best")
    left = [detail[0]] * len(frames)  # the first frame's detail never moves: a ghost
    ghost = ghosting(frames, _with_detail(frames, left), "best")
    assert ghost > 0.5 and carried < 0.25


def test_ghosting_does_not_count_a_still_backgrounds_dream_where_the_flow_fails_beside_it():
    """Issue 20: the flow fails in a ring around a moving object, and the ring covers the still
    background too, where a dream carried along *is* a dream left in place. Counting those
    pixels scored this perfect carry (object's detail moving with it, background's staying) as
    0.55 of a ghost; only pixels whose picture changed in place can show one."""
    frames, detail = _moving_square(4)
    background = (texture(96, 128, seed=4).astype(np.float32) - 128) * 0.5
    perfect = []
    for d in detail:
        on_object = np.any(d != 0, -1)
        perfect.append(np.where(on_object[..., None], d, background))
    assert ghosting(frames, _with_detail(frames, perfect), "best") < 0.2
    left = [perfect[0]] * len(frames)
    assert ghosting(frames, _with_detail(frames, left), "best") > 0.9


def test_the_colour_check_drops_the_carry_where_the_carried_picture_is_not_the_new_one():
    """A screen that changes in place: whatever the flow says there, frame t-1 carried onto
    frame t does not look like it, so nothing is carried; elsewhere the mask is the flow's."""
    before = texture(96, 128, seed=6)
    after = before.copy()
    after[30:70, 40:90] = texture(40, 50, seed=7)  # new picture on the screen, nothing moves
    m = vflow.motion(before, after, "medium")
    checked = vflow.colour_checked(m, before, after)
    assert checked.mask[36:64, 46:84].max() < 0.05
    far = np.ones((96, 128), bool)
    far[12:88, 22:108] = False  # the patch, the flow smeared past it, the growing
    assert np.allclose(checked.mask[far], m.mask[far], atol=1e-3)
    assert (checked.mask <= m.mask + 1e-6).all()
    with pytest.raises(DreamError, match="colour tolerance"):
        VideoSettings(colour_tolerance=0.0).check()


def test_the_colour_check_of_a_big_frame_runs_on_the_flows_grid_and_finds_the_screen():
    """Above MAX_FLOW_LINES the check runs on the flow's smaller grid (issue 21: 720p live) and
    its mask is scaled back up: the changed screen still carries nothing, the rest as before."""
    before = texture(720, 1280, seed=6)
    after = before.copy()
    after[240:520, 400:900] = texture(280, 500, seed=7)
    m = vflow.motion(before, after, "medium")
    checked = vflow.colour_checked(m, before, after)
    assert checked.mask.shape == (720, 1280)
    assert checked.mask[280:480, 440:860].max() < 0.05
    far = np.ones((720, 1280), bool)
    far[160:600, 320:980] = False
    assert np.allclose(checked.mask[far], m.mask[far], atol=1e-3)
    assert (checked.mask <= m.mask + 1e-6).all()


def test_colour_anchor_pulls_a_crept_frame_back_and_leaves_a_steady_one_alone():
    first = texture(64, 64, seed=4).astype(np.float32) * 0.8 + 25  # off the rails (next test)
    anchor = ColourAnchor.of(first)
    assert np.allclose(anchor.hold(first), first, atol=1e-3)  # nothing crept: untouched
    luma = first @ np.float32([0.299, 0.587, 0.114])
    crept = np.clip(luma[..., None] + 1.6 * (first - luma[..., None]) + 10, 0, 255)
    held = ColourAnchor.of(anchor.hold(crept))
    assert held.chroma_rms <= anchor.chroma_rms * 1.02
    assert abs(held.luma_mean - anchor.luma_mean) < 1.0
    faint = ColourAnchor.of(anchor.hold(first * 0.5 + 64))  # less colour: never boosted
    assert faint.chroma_rms == pytest.approx(ColourAnchor.of(first * 0.5 + 64).chroma_rms, 1e-3)


def test_colour_anchor_keeps_a_frame_off_the_rails_where_the_first_dream_was_not():
    """A zoom gathers pixels at black and white (the next pass clips them): the anchor lets no
    more of the frame near the rails than RAIL_SHARE of the first dream's share."""
    from inceptionism.video import zoom

    first = texture(64, 64, seed=5).astype(np.float32) * 0.6 + 50  # nothing near the rails
    anchor = ColourAnchor.of(first)
    burnt = first.copy()
    burnt[:16] = 255.0  # a quarter of the frame blown out, same mean colour elsewhere
    burnt[16:24] = 0.0
    held = anchor.hold(burnt)
    near = (zoom._rail_need(held, anchor.luma_mean) < 1.0).mean()
    assert near <= zoom.RAIL_SHARE * anchor.near_rails + 1 / held[..., 0].size
    assert held.max() < 255 and held.min() > 0 and held.std() > 10  # held, not flattened


def test_the_carry_rises_while_the_dream_is_weaker_than_the_shots_first_frame():
    frame = np.full((8, 8, 3), 100, np.uint8)
    level = _Level()
    level.follow(frame, frame + 20, fresh=True)  # the shot's first frame: 20 levels of dream
    assert level.carry(0.9) == 0.9  # as strong as it: damped as asked
    level.follow(frame, frame + 19, fresh=False)
    assert 0.9 < level.carry(0.9) < 1.0
    level.follow(frame, frame + 10, fresh=False)  # half as strong: carried in full
    assert level.carry(0.9) == 1.0
    level.follow(frame, frame + 30, fresh=False)  # stronger: damped, never more than asked
    assert level.carry(0.9) == 0.9
    level.follow(frame, frame + 5, fresh=True)  # a cut: the new shot sets the level
    assert level.carry(0.9) == 0.9


@pytest.mark.slow  # a real dream of 4 frames: 3 s idle, 30 s on a loaded machine
def test_where_the_flow_fails_the_frame_is_dreamed_afresh_not_ghosted():
    frames, _ = _moving_square(4)
    config = make_config(octaves=2, iterations=2, max_side=None)
    loop = FrameLoop(config, VideoSettings(coherence=0.9), frames[0].shape[:2], device="cpu")
    dreams = [d.rgb for d in loop.frames(Frame(i, f, i) for i, f in enumerate(frames))]
    assert all(np.abs(d.astype(int) - f).mean() > 1 for d, f in zip(dreams, frames, strict=True))
    # detail left in place scores above 0.5 (the test above); dreamed afresh here: ~0.25
    assert ghosting(frames, dreams, "best") < 0.35


def _video_real_module():
    """benchmarks/video_real.py, loaded from its file (benchmarks/ is not a package)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "video_real.py"
    spec = importlib.util.spec_from_file_location("video_real", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_real_footage_benchmark_reads_only_its_pinned_licensed_clip(tmp_path, monkeypatch):
    """Only the pinned CC-BY clip is read (another file in its place is refused, one line), and
    the head clip's crop can sit at the picture's right edge, where the man's head is."""
    pytest.importorskip("av")

    bench = _video_real_module()
    monkeypatch.setattr(bench, "CACHE", tmp_path)
    assert bench.CLIP in bench.SHA256 and "awwkl/ZWM" in bench.SOURCE
    left = np.zeros((48, 128, 3), np.uint8)
    left[:, 64:] = 255  # black left half, white right half
    write_clip(tmp_path / bench.CLIP, [left] * 3, codec="ffv1", audio=False)
    with pytest.raises(SystemExit, match="not the expected file"):
        bench.read_frames(bench.CLIP, 0, 2, (32, 24))
    digest = hashlib.sha256((tmp_path / bench.CLIP).read_bytes()).hexdigest()
    monkeypatch.setitem(bench.SHA256, bench.CLIP, digest)
    right = bench.read_frames(bench.CLIP, 1, 2, (32, 24), across=1.0)
    centre = bench.read_frames(bench.CLIP, 1, 2, (32, 24))
    assert len(right) == 2 and right[0].shape == (24, 32, 3)
    assert right[0].mean() > 250 and 100 < centre[0].mean() < 155
