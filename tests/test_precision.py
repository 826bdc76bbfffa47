"""``--precision auto`` (issue 22): bfloat16 only where the device has it in hardware and the
measured table says it pays for the model; the precision a dream ran in is recorded, and
``--config-from`` replays it byte for byte. Decisions are tested as functions of the CPU's flags
and the table, never by timing or by faking the machine."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_model
from PIL import Image

from inceptionism import Dreamer, make_config
from inceptionism.frontends.cli import main
from inceptionism.io import encode_image, read_metadata
from inceptionism.models.precision import (
    AUTO_BF16,
    BF16_MIN_SPEEDUP,
    Bf16Measure,
    auto_precision,
    cpu_flags,
    native_bf16,
)
from inceptionism.options import MODEL_NAMES

CPU = torch.device("cpu")
HERE = native_bf16(CPU)
#: Models the table has ``auto`` run in bfloat16 on a CPU that has it.
CPU_BF16 = sorted(name for name, m in AUTO_BF16["cpu"].items() if m.pays)
ZEN4_FLAGS = {"fpu", "sse2", "avx2", "avx512f", "avx512bw", "avx512_bf16"}
OLDER_FLAGS = {"fpu", "sse2", "avx2", "avx512f", "avx512bw", "avx512_vnni"}


def test_native_bf16_from_the_cpu_flags():
    assert native_bf16(CPU, ZEN4_FLAGS)
    assert native_bf16(CPU, {"avx2", "amx_bf16", "amx_tile"})  # Sapphire Rapids
    assert not native_bf16(CPU, OLDER_FLAGS)  # AVX-512 alone: oneDNN would emulate bf16
    assert not native_bf16(CPU, set())
    assert not native_bf16(torch.device("mps"), ZEN4_FLAGS)


def test_cpu_flags_read_the_flags_line(tmp_path: Path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: X\nflags\t\t: fpu avx2 avx512_bf16\n\n")
    assert cpu_flags(info) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_the_table_is_measured_and_names_real_models():
    assert set(AUTO_BF16["cpu"]) <= set(MODEL_NAMES) and set(AUTO_BF16["cuda"]) <= set(MODEL_NAMES)
    for m in AUTO_BF16["cpu"].values():
        assert min(m.small, m.large, m.dream) > 0
    assert CPU_BF16, "the peer's model, at least, pays on a CPU with bf16 instructions"
    assert "efficientnet-lite0" not in CPU_BF16  # measured no faster: depthwise convs


def test_auto_picks_bf16_only_where_the_table_says_it_pays_and_the_cpu_has_it():
    for name in MODEL_NAMES:  # one test, not one per model: no big model is built
        want = "bf16" if name in CPU_BF16 else "fp32"
        assert auto_precision(name, "cpu", native=True) == want, name
        assert auto_precision(name, "cpu", native=False) == "fp32"  # no bf16 hardware: as before
        assert auto_precision(name, "cuda", native=False) == "fp32"
        assert auto_precision(name, "mps", native=False) == "fp32"


def test_the_rule_needs_speed_and_looks():
    fast = BF16_MIN_SPEEDUP
    assert Bf16Measure(0.8, fast, fast, True).pays  # small images gain nothing: they are quick
    assert not Bf16Measure(2.0, fast - 0.01, 2.0, True).pays  # not on a large image
    assert not Bf16Measure(2.0, 2.0, fast - 0.01, True).pays  # not over a whole dream
    assert not Bf16Measure(2.0, 2.0, 2.0, False).pays  # faster but looks different
    assert not Bf16Measure(2.0, 2.0, 2.0, None).pays  # not judged
    assert auto_precision("a-model-of-my-own", "cpu", native=True) == "fp32"
    # CUDA without measurements keeps AUTO_CUDA_PRECISION, bf16 only where the GPU has it
    assert auto_precision("efficientnet-lite0", "cuda", True, auto_cuda="bf16") == "bf16"
    assert auto_precision("efficientnet-lite0", "cuda", False, auto_cuda="bf16") == "fp32"


def test_a_model_resolves_auto_and_keeps_a_concrete_name():
    model = dataclasses.replace(tiny_model(torch.float32), name="inception-v3")
    assert model.resolve_auto("fp32") == "fp32" and model.resolve_auto("bf16") == "bf16"
    assert model.resolve_auto("auto") == auto_precision("inception-v3", "cpu", HERE)
    assert model.fast().precision == model.resolve_auto("auto")  # never "auto" once set up
    assert model.fast() is model.fast(model.resolve_auto("auto"))  # one set-up, one cache entry


def named(name: str):
    """The tiny float32 network under a registered model's name (what the table keys on)."""
    return dataclasses.replace(tiny_model(torch.float32), name=name)


# ids without the model's name: the tiny network is no big model (conftest marks those slow)
@pytest.mark.parametrize("name", ["efficientnet-lite0", *CPU_BF16[:1]], ids=["fp32", "bf16"])
def test_the_plan_resolves_auto_once_and_the_metadata_records_it(name):
    rgb = np.random.default_rng(0).uniform(0, 255, (40, 48, 3)).astype(np.float32)
    cfg = make_config(model=name, layers={"conv3": 1.0}, iterations=1, octaves=1, jitter=0)
    dreamer = Dreamer(named(name), cfg, device="cpu")
    want = auto_precision(name, "cpu", HERE)
    assert dreamer.plan.precision == dreamer.model.precision == want
    assert dreamer.metadata(rgb.shape[:2])["precision"] == want
    forced = Dreamer(named(name), cfg, device="cpu", precision="fp32")
    assert forced.plan.precision == "fp32" and forced.metadata()["precision"] == "fp32"
    # forced float32 is float32 as before: the same bits as a model the table does not know
    plain = Dreamer(named("tiny"), cfg, device="cpu")
    assert plain.plan.precision == "fp32"
    assert np.array_equal(forced.dream(rgb), plain.dream(rgb))
    if want == "bf16":
        assert not np.array_equal(dreamer.dream(rgb), forced.dream(rgb))


def photo(path: Path) -> Path:
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 256, (72, 96, 3), dtype=np.uint8)).save(path)
    return path


def test_config_from_replays_a_bf16_dream_byte_for_byte(tmp_path: Path, capsys):
    src = photo(tmp_path / "in.png")
    first, again, other = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    flags = ["--iterations", "2", "--octaves", "1", "-q"]
    assert main(["dream", str(src), "-o", str(first), "--precision", "bf16", *flags]) == 0
    assert read_metadata(first)["precision"] == "bf16"
    assert main(["dream", str(src), "-o", str(again), "--config-from", str(first), "-q"]) == 0
    assert read_metadata(again)["precision"] == "bf16"
    assert again.read_bytes() == first.read_bytes()
    # the command line still wins, and float32 is another dream
    args = ["--config-from", str(first), "--precision", "fp32", "-q"]
    assert main(["dream", str(src), "-o", str(other), *args]) == 0
    assert read_metadata(other)["precision"] == "fp32"
    assert not np.array_equal(np.asarray(Image.open(other)), np.asarray(Image.open(first)))
    capsys.readouterr()


def test_a_default_dream_records_what_auto_chose(tmp_path: Path, capsys):
    src, out = photo(tmp_path / "in.png"), tmp_path / "out.png"
    assert main(["dream", str(src), "-o", str(out), "--iterations", "1", "--octaves", "1"]) == 0
    want = auto_precision("efficientnet-lite0", "cpu", HERE)
    assert read_metadata(out)["precision"] == want == "fp32"
    capsys.readouterr()


@pytest.mark.parametrize("bad", ["fp8", "auto", 16, ["bf16"], "bf16; rm -rf /"])
def test_a_bad_precision_in_a_dreams_metadata_is_one_line(tmp_path: Path, capsys, bad):
    src = photo(tmp_path / "in.png")
    crafted = tmp_path / "crafted.png"
    meta = {"config": make_config().to_dict(), "precision": bad}
    crafted.write_bytes(encode_image(crafted, np.zeros((72, 96, 3)), None, meta))
    out = tmp_path / "out.png"
    code = main(["dream", str(src), "-o", str(out), "--config-from", str(crafted), "-q"])
    err = capsys.readouterr().err
    assert code != 0 and err.startswith("deepdream: error:") and "precision" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
