"""The dream session (``Dreamer``): same pixels as the engine, init, events, previews, cancel."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from conftest import sample_array, tiny_model, to_pixels

import inceptionism
from inceptionism import Cancelled, DreamConfig, Dreamer, DreamError, DreamEvent
from inceptionism.algorithm.engine import dream_tensor, octave_shapes, resize
from inceptionism.algorithm.objectives import Objective, layer_l2
from inceptionism.frontends import cli


def photo(h: int = 48, w: int = 64, seed: int = 1) -> np.ndarray:
    g = np.random.default_rng(seed)
    return (g.random((h, w, 3)) * 255).astype(np.float32)


def recipe(**kw) -> DreamConfig:
    base = dict(model="tiny", octaves=2, octave_scale=1.4, iterations=3, jitter=4, seed=5)
    return DreamConfig(**{**base, "max_loss": float("inf"), **kw})


def counting(obj: Objective) -> tuple[Objective, list[int]]:
    """``obj`` that counts its evaluations (one per gradient step)."""
    calls = [0]

    def fn(acts):
        calls[0] += 1
        return obj(acts)

    return Objective(fn, obj.layers, obj.name, obj.min_size), calls


def test_dream_is_the_engine_s_dream():
    model = tiny_model(torch.float32)
    cfg = recipe(smooth=1.0, clip=True)
    x = photo()
    ours = Dreamer(model, cfg, device="cpu").dream(x)
    ref = dream_tensor(model, to_pixels(x), cfg)[0].permute(1, 2, 0).numpy()
    assert ours.dtype == np.float32 and ours.shape == x.shape
    assert np.array_equal(ours, ref)


def test_steps_yield_one_event_per_step_and_the_last_carries_the_result():
    dreamer = Dreamer(tiny_model(), recipe(), device="cpu")
    x = photo()
    events = list(dreamer.steps(x))
    assert all(isinstance(e, DreamEvent) for e in events)
    assert [e.step for e in events] == [1, 2, 3, 4, 5, 6]
    assert [e.octave for e in events] == [1, 1, 1, 2, 2, 2]
    assert {(e.octaves, e.total) for e in events} == {(2, 6)}
    assert all(isinstance(e.loss, float) and np.isfinite(e.loss) for e in events)
    assert all(e.result is None for e in events[:-1]) and events[-1].result is not None
    assert all(e.preview is None for e in events)  # not asked for
    assert np.array_equal(events[-1].result, dreamer.dream(x))


def test_previews_when_asked_at_the_octave_s_size():
    dreamer = Dreamer(tiny_model(), recipe(), device="cpu")
    events = list(dreamer.steps(photo(), preview_every=2))
    shapes = octave_shapes((48, 64), 2, 1.4)
    with_preview = [e.step for e in events if e.preview is not None]
    assert with_preview == [2, 3, 4, 6]  # every 2 steps and each octave's last
    for e in events:
        if e.preview is not None:
            assert e.preview.dtype == np.uint8
            assert e.preview.shape == (*shapes[e.octave - 1], 3)
    final = events[-1]
    assert np.array_equal(final.preview, np.rint(final.result).astype(np.uint8))
    with pytest.raises(DreamError, match="preview_every"):
        next(dreamer.steps(photo(), preview_every=0))


def test_init_moves_the_start_but_not_the_detail_reinjection():
    model = tiny_model()
    x, start = photo(seed=1), photo(seed=2)
    # No steps: the dream is the start carried through the pyramid plus the photo's lost detail.
    still = Dreamer(model, recipe(iterations=0), device="cpu")
    assert np.allclose(still.dream(x), x, atol=1e-4)  # no init: the photo itself
    got = still.dream(x, init=start)
    shapes = octave_shapes((48, 64), 2, 1.4)
    p = model.preprocess
    base, s = p(to_pixels(x, torch.float64)), p(to_pixels(start, torch.float64))
    small = resize(base, shapes[0])
    expect = resize(resize(s, shapes[0]), shapes[1]) + (base - resize(small, shapes[1]))
    expect = p.invert(expect).clamp(0, 255)[0].permute(1, 2, 0).numpy()
    assert np.allclose(got, expect, atol=1e-4)
    assert not np.allclose(got, x, atol=1)
    # With steps: init=image is the plain dream; another init gives another dream.
    dreamer = Dreamer(model, recipe(), device="cpu")
    plain = dreamer.dream(x)
    assert np.array_equal(dreamer.dream(x, init=x), plain)
    assert not np.allclose(dreamer.dream(x, init=start), plain, atol=1)
    with pytest.raises(DreamError, match="same size"):
        dreamer.dream(x, init=start[:40])


def test_seed_overrides_the_recipe_s():
    model = tiny_model()
    x = photo()
    a = Dreamer(model, recipe(seed=9), device="cpu").dream(x)
    dreamer = Dreamer(model, recipe(seed=5), device="cpu")
    assert np.array_equal(dreamer.dream(x, seed=9), a)
    assert not np.array_equal(dreamer.dream(x), a)
    assert dreamer.metadata(seed=9)["config"]["seed"] == 9


def test_cancel_stops_within_one_step():
    obj, calls = counting(layer_l2("conv3"))
    dreamer = Dreamer(tiny_model(), recipe(iterations=10, tile=0), device="cpu", objective=obj)
    flag = threading.Event()
    flag.set()
    with pytest.raises(Cancelled):
        dreamer.dream(photo(), cancel=flag)
    assert calls[0] == 0  # set before: no work at all
    flag.clear()
    seen = []
    with pytest.raises(Cancelled, match="cancelled"):
        for e in dreamer.steps(photo(), cancel=flag):
            seen.append(e.step)
            if e.step == 3:
                flag.set()
    assert seen == [1, 2, 3] and calls[0] <= 4
    assert issubclass(Cancelled, DreamError)


def test_closing_steps_stops_the_dream():
    obj, calls = counting(layer_l2("conv3"))
    dreamer = Dreamer(tiny_model(), recipe(iterations=10, tile=0), device="cpu", objective=obj)
    gen = dreamer.steps(photo())
    next(gen), next(gen)
    gen.close()
    assert calls[0] == 2 and not dreamer._running


def test_dreamer_cancel_from_another_thread_and_no_file_written(tmp_path):
    obj, calls = counting(layer_l2("conv3"))
    dreamer = Dreamer(tiny_model(), recipe(iterations=200, tile=0), device="cpu", objective=obj)
    out = tmp_path / "out.png"
    started = threading.Event()

    def stop_soon() -> None:
        started.wait(10)
        dreamer.cancel()

    t = threading.Thread(target=stop_soon)
    t.start()
    with pytest.raises(Cancelled):
        for event in dreamer.steps(photo()):
            started.set()
            if event.result is not None:
                inceptionism.io.save_image(out, event.result)
    t.join()
    assert not out.exists() and calls[0] < 400


def test_auto_tile_is_fixed_once_per_size():
    dreamer = Dreamer(tiny_model(), recipe(tile="auto"), device="cpu")
    assert dreamer.config.tile == "auto"
    dreamer.dream(photo())
    assert dreamer.config.tile == 0  # a small image: untiled, and recorded as such
    assert dreamer.metadata()["config"]["tile"] == 0
    assert dreamer.config_for((48, 64)) is dreamer.config_for((48, 64))


def test_model_name_must_match_the_recipe():
    with pytest.raises(DreamError, match="recipe is for model"):
        Dreamer("vgg16", DreamConfig(model="efficientnet-lite0"))


@pytest.mark.slow
def test_session_on_the_real_model_equals_the_api(lite0):
    x = sample_array(120)
    cfg = inceptionism.make_config("default", octaves=2, iterations=3, seed=2)
    dreamer = Dreamer(lite0, cfg, device="cpu")
    ours = dreamer.dream(x)
    api = np.asarray(inceptionism.dream(x, cfg, model=lite0, device="cpu"))
    assert np.array_equal(np.clip(np.rint(ours), 0, 255).astype(np.uint8), api)
    meta = dreamer.metadata()
    assert meta["model"] == "efficientnet-lite0" and meta["config"]["octaves"] == 2
    assert meta["layers"] == cfg.layers  # lite0's default preset: block10 and block8


@pytest.mark.slow
def test_a_batch_sets_the_model_up_once(tmp_path, monkeypatch, sample_path):
    from PIL import Image

    made = []
    real_init = Dreamer.__init__

    def counted(self, *a, **kw):
        made.append(1)
        real_init(self, *a, **kw)

    monkeypatch.setattr(Dreamer, "__init__", counted)
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        Image.open(sample_path).convert("RGB").resize((96 + 8 * i, 72)).save(src / f"{i}.png")
    out = tmp_path / "out"
    args = ["dream", str(src), "-o", str(out), "--octaves", "1", "--iterations", "1", "-q"]
    assert cli.main(args) == 0
    assert len(list(out.glob("*.png"))) == 3 and len(made) == 1


def test_python_dreams_set_up_once_per_recipe(monkeypatch):
    made = []
    real_init = Dreamer.__init__

    def counted(self, *a, **kw):
        made.append(1)
        real_init(self, *a, **kw)

    monkeypatch.setattr(Dreamer, "__init__", counted)
    model = tiny_model(torch.float32)
    x = photo()
    kw = dict(model=model, octaves=1, iterations=2, jitter=3, device="cpu")
    a = np.asarray(inceptionism.dream(x, seed=1, **kw))
    b = np.asarray(inceptionism.dream(x, seed=2, **kw))  # another seed: the same session
    assert len(made) == 1 and not np.array_equal(a, b)
    inceptionism.dream(x, seed=1, step=0.05, **kw)  # another recipe: a new one
    assert len(made) == 2
