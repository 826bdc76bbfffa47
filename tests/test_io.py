"""Tests for image loading/saving: formats, modes, metadata, atomic writes and user errors."""

from __future__ import annotations

import os
import struct
import zlib
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile

import inceptionism.io.images as dio
import inceptionism.io.metadata as dmeta
import inceptionism.io.outputs as dout
from inceptionism.errors import DreamError
from inceptionism.io import (
    SUPPORTED_OUTPUT,
    LoadedImage,
    check_output_path,
    default_output_path,
    load_image,
    read_metadata,
    save_image,
    to_pil,
)

PARAMS = {
    "model": "efficientnet-lite0",
    "layers": ["blocks.4", "blocks.5"],
    "octaves": 4,
    "octave_scale": 1.4,
    "lr": 0.01,
    "seed": 1234,
    "jitter": None,
    "note": 'café ✓ <&> "quoted"',
}


def gradient(w: int = 48, h: int = 32) -> np.ndarray:
    """A smooth RGB test picture (compresses well, so lossy formats stay close)."""
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    r = np.broadcast_to(x, (h, w))
    g = np.broadcast_to(y, (h, w))
    b = np.full((h, w), 128, np.float32)
    return np.round(np.stack([r, g, b], axis=-1)).astype(np.uint8)


def noise(w: int = 64, h: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def assert_dream_error(exc: pytest.ExceptionInfo, *needles: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg, msg
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"


def mode_of(path: Path) -> str:
    with Image.open(path) as img:
        return img.mode


def snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims width x height: a decompression bomb in ~70 bytes."""
    buf = BytesIO()
    Image.new("1", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


# ------------------------------------------------------------------------------ input formats


@pytest.mark.parametrize(
    ("ext", "tolerance"),
    [(".png", 0), (".jpg", 6), (".webp", 6), (".tif", 0), (".bmp", 0), (".gif", 12)],
)
def test_roundtrip_input_formats(tmp_path: Path, ext: str, tolerance: float) -> None:
    pixels = gradient()
    path = tmp_path / f"photo{ext}"
    Image.fromarray(pixels).save(path)
    loaded = load_image(path)
    assert isinstance(loaded, LoadedImage)
    assert loaded.rgb.shape == (32, 48, 3)
    assert loaded.rgb.dtype == np.float32
    assert loaded.rgb.flags.c_contiguous and loaded.rgb.flags.writeable
    assert loaded.alpha is None
    assert loaded.source == str(path)
    assert loaded.size == (48, 32)
    assert loaded.rgb.min() >= 0 and loaded.rgb.max() <= 255
    assert np.abs(loaded.rgb - pixels).mean() <= tolerance


def test_accepts_str_and_pathlike(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.fromarray(gradient()).save(path)
    np.testing.assert_array_equal(load_image(str(path)).rgb, load_image(path).rgb)


def test_gif_takes_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (16, 12), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    with Image.open(path) as img:
        assert img.n_frames == 3
    loaded = load_image(path)
    assert loaded.rgb.shape == (12, 16, 3)
    np.testing.assert_allclose(loaded.rgb.reshape(-1, 3).mean(0), [255, 0, 0], atol=1)


# ---------------------------------------------------------------------------------- modes


def test_mode_l(tmp_path: Path) -> None:
    grey = gradient()[..., 0]
    path = tmp_path / "grey.png"
    Image.fromarray(grey).save(path)
    assert mode_of(path) == "L"
    loaded = load_image(path)
    assert loaded.alpha is None
    for c in range(3):
        np.testing.assert_array_equal(loaded.rgb[..., c], grey)


def test_mode_1(tmp_path: Path) -> None:
    path = tmp_path / "bits.png"
    img = Image.new("1", (10, 6), 0)
    img.putpixel((3, 2), 1)
    img.save(path)
    rgb = load_image(path).rgb
    assert rgb[2, 3].tolist() == [255, 255, 255]
    assert rgb[0, 0].tolist() == [0, 0, 0]


def test_mode_p(tmp_path: Path) -> None:
    path = tmp_path / "pal.png"
    img = Image.fromarray(gradient()).quantize(16)
    img.save(path)
    assert mode_of(path) == "P"
    loaded = load_image(path)
    assert loaded.alpha is None
    np.testing.assert_array_equal(loaded.rgb, np.asarray(img.convert("RGB")))


def test_mode_p_with_transparency(tmp_path: Path) -> None:
    path = tmp_path / "pal_t.png"
    idx = np.zeros((8, 10), np.uint8)
    idx[2:5, 3:7] = 1
    img = Image.fromarray(idx).convert("P")
    img.putpalette([0, 0, 0, 200, 30, 40] + [0] * 762)
    img.save(path, transparency=0)
    loaded = load_image(path)
    assert loaded.alpha is not None and loaded.alpha.dtype == np.uint8
    np.testing.assert_array_equal(loaded.alpha, np.where(idx == 1, 255, 0))
    assert loaded.rgb[3, 4].tolist() == [200, 30, 40]


def test_mode_p_with_transparency_gif(tmp_path: Path) -> None:
    path = tmp_path / "t.gif"
    img = Image.new("P", (6, 4), 1)
    img.putpalette([0, 0, 0, 10, 200, 10] + [0] * 762)
    img.putpixel((0, 0), 0)
    img.save(path, transparency=0)
    loaded = load_image(path)
    assert loaded.alpha is not None
    assert loaded.alpha[0, 0] == 0 and loaded.alpha[1, 1] == 255
    assert loaded.rgb[1, 1].tolist() == [10, 200, 10]


@pytest.mark.parametrize("ext", [".jpg", ".tif"])
def test_mode_cmyk(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"cmyk{ext}"
    Image.new("CMYK", (12, 8), (255, 0, 0, 0)).save(path)  # pure cyan ink
    assert mode_of(path) == "CMYK"
    loaded = load_image(path)
    assert loaded.rgb.shape == (8, 12, 3)
    np.testing.assert_allclose(loaded.rgb.reshape(-1, 3).mean(0), [0, 255, 255], atol=3)


@pytest.mark.parametrize("ext", [".png", ".tif", ".webp"])
def test_mode_rgba(tmp_path: Path, ext: str) -> None:
    rgb = gradient()
    alpha = np.random.default_rng(1).integers(0, 256, rgb.shape[:2], dtype=np.uint8)
    path = tmp_path / f"rgba{ext}"
    img = Image.fromarray(np.dstack([rgb, alpha]))
    img.save(path, lossless=True) if ext == ".webp" else img.save(path)
    loaded = load_image(path)
    np.testing.assert_array_equal(loaded.alpha, alpha)
    assert loaded.alpha.shape == (32, 48)
    if ext != ".webp":  # lossless WebP may change colour under fully transparent pixels
        np.testing.assert_array_equal(loaded.rgb, rgb)


def test_mode_la(tmp_path: Path) -> None:
    grey = gradient()[..., 1]
    alpha = gradient()[..., 0]
    path = tmp_path / "la.png"
    Image.merge("LA", [Image.fromarray(grey), Image.fromarray(alpha)]).save(path)
    assert mode_of(path) == "LA"
    loaded = load_image(path)
    np.testing.assert_array_equal(loaded.alpha, alpha)
    np.testing.assert_array_equal(loaded.rgb[..., 2], grey)


def test_mode_i16_png_keeps_precision(tmp_path: Path) -> None:
    values = (np.arange(20 * 30, dtype=np.uint32).reshape(20, 30) * 109 % 65536).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    assert mode_of(path).startswith("I")
    loaded = load_image(path)
    assert loaded.rgb.dtype == np.float32
    np.testing.assert_allclose(loaded.rgb[..., 0], values / 257.0, atol=1e-3)
    np.testing.assert_array_equal(loaded.rgb[..., 0], loaded.rgb[..., 2])
    assert np.any(loaded.rgb % 1 != 0)  # fractions survive: more than 8 bits of precision


def test_mode_i32_tiff(tmp_path: Path) -> None:
    values = np.array([[0, 65535], [257 * 100, 70000]], dtype=np.int32)
    path = tmp_path / "int.tif"
    Image.fromarray(values).save(path)
    assert mode_of(path) == "I"
    rgb = load_image(path).rgb
    np.testing.assert_allclose(rgb[..., 0], [[0, 255], [100, 255]], atol=1e-3)


def test_float_tiff(tmp_path: Path) -> None:
    values = np.array([[0.0, 0.5], [1.0, 0.25]], dtype=np.float32)
    path = tmp_path / "f.tif"
    Image.fromarray(values).save(path)
    np.testing.assert_allclose(load_image(path).rgb[..., 1], values * 255, atol=1e-3)


def test_exif_orientation_applied(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    img = Image.fromarray(gradient(40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    img.save(path, exif=exif.tobytes(), quality=95)
    before = snapshot(path)
    loaded = load_image(path)
    assert loaded.rgb.shape == (40, 20, 3)
    # the stored top-left (dark red, dark green) ends up top-right after a clockwise turn
    assert loaded.rgb[0, -1, 0] < 30 and loaded.rgb[-1, -1, 0] > 200
    assert snapshot(path) == before


def test_icc_profiles(tmp_path: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    pixels = gradient()
    good, bad = tmp_path / "srgb.png", tmp_path / "broken_icc.png"
    Image.fromarray(pixels).save(good, icc_profile=srgb)
    Image.fromarray(pixels).save(bad, icc_profile=b"not a profile at all")
    assert np.abs(load_image(good).rgb - pixels).max() <= 2
    np.testing.assert_array_equal(load_image(bad).rgb, pixels)


def icc_profile(description: str, gamma: float, grey: bool = False) -> bytes:
    """A minimal ICC v2 display profile: sRGB's primaries (D50-adapted), a pure power-law
    tone curve of ``gamma`` and the given description (ImageCms can only build its own sRGB)."""

    def s15(*v: float) -> bytes:
        return b"".join(struct.pack(">i", round(x * 65536)) for x in v)

    text = description.encode("ascii") + b"\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(4 + 4 + 2 + 1 + 67)
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)
    tags = [(b"desc", desc), (b"wtpt", b"XYZ " + bytes(4) + s15(0.9642, 1.0, 0.8249))]
    if grey:
        tags.append((b"kTRC", curve))
    else:
        for name, xyz in (
            (b"rXYZ", (0.4361, 0.2225, 0.0139)),
            (b"gXYZ", (0.3851, 0.7169, 0.0971)),
            (b"bXYZ", (0.1431, 0.0606, 0.7141)),
        ):
            tags.append((name, b"XYZ " + bytes(4) + s15(*xyz)))
        tags += [(b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    offset = 128 + 4 + 12 * len(tags)
    table, data = struct.pack(">I", len(tags)), b""
    for name, body in tags:
        body += bytes(-len(body) % 4)
        table += name + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (
        struct.pack(">I", size)
        + bytes(4)
        + struct.pack(">I", 0x02100000)
        + b"mntr"
        + (b"GRAY" if grey else b"RGB ")
        + b"XYZ "
        + bytes(12)
        + b"acsp"
        + bytes(4 + 4 + 4 + 4 + 8 + 4)
        + s15(0.9642, 1.0, 0.8249)
        + bytes(4 + 16 + 28)
    )
    assert len(header) == 128
    return header + table + data


def test_a_linear_profile_named_srgb_is_converted(tmp_path: Path) -> None:
    """Profiles are judged by what they do: mid-grey under a linear (gamma 1.0) profile called
    "sRGB" is sRGB 188, not 128; a real sRGB profile under another name leaves pixels alone."""
    linear = icc_profile("sRGB-elle-V2-g10.icc (sRGB, linear gamma)", 1.0)
    described = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(BytesIO(linear)))
    assert "srgb" in described.lower()
    grey = np.full((8, 8, 3), 128, np.uint8)
    for mode in ("RGB", "RGBA"):
        path = tmp_path / f"linear_{mode}.png"
        img = Image.fromarray(grey).convert(mode)
        img.save(path, icc_profile=linear)
        rgb = load_image(path).rgb
        assert abs(rgb.mean() - 188) <= 2 and np.ptp(rgb) == 0, rgb[0, 0]
    # the same primaries at gamma 2.2 are close to sRGB in mid-tones but not in the shadows
    path = tmp_path / "g22.png"
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
    Image.fromarray(ramp).save(path, icc_profile=icc_profile("sRGB", 2.2))
    assert np.abs(load_image(path).rgb - ramp).max() > 2
    # a grey image with a linear grey profile, 8 and 16 bits
    grey_icc = icc_profile("sRGB grey", 1.0, grey=True)
    for arr in (np.full((4, 4), 128, np.uint8), np.full((4, 4), 32896, np.uint16)):
        path = tmp_path / f"grey_{arr.dtype}.png"
        Image.fromarray(arr).save(path, icc_profile=grey_icc)
        assert Image.open(path).mode == ("L" if arr.dtype == np.uint8 else "I;16")
        assert abs(load_image(path).rgb.mean() - 188) <= 2, arr.dtype
    # real sRGB under any name: untouched, bit for bit (judged by behaviour, cached per profile)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    px = gradient()
    path = tmp_path / "srgb_renamed.png"
    Image.fromarray(px).save(path, icc_profile=srgb.tobytes())
    np.testing.assert_array_equal(load_image(path).rgb, px)


# ------------------------------------------------------------------------- arrays and PIL


def test_array_inputs() -> None:
    px = gradient()
    np.testing.assert_array_equal(load_image(px).rgb, px)
    assert load_image(px).source == "<array>"
    grey = load_image(px[..., 0])
    assert grey.rgb.shape == (32, 48, 3)
    np.testing.assert_array_equal(grey.rgb[..., 1], px[..., 0])
    unit = load_image(px.astype(np.float64) / 255)
    np.testing.assert_allclose(unit.rgb, px, atol=1e-3)
    big = load_image(px.astype(np.float32))
    np.testing.assert_array_equal(big.rgb, px)
    alpha = np.arange(32 * 48, dtype=np.uint8).reshape(32, 48)
    rgba = load_image(np.dstack([px, alpha]))
    np.testing.assert_array_equal(rgba.alpha, alpha)
    np.testing.assert_array_equal(rgba.rgb, px)
    deep = load_image(np.full((2, 2, 3), 65535, np.uint16))
    np.testing.assert_allclose(deep.rgb, 255)


def test_array_is_copied() -> None:
    px = gradient().astype(np.float32)
    loaded = load_image(px)
    loaded.rgb[:] = 0
    assert px.max() == 255


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 4, 2), np.uint8),
        np.zeros((4,), np.uint8),
        np.zeros((0, 4, 3), np.uint8),
        np.full((4, 4, 3), np.nan, np.float32),
        np.full((4, 4, 3), 300, np.int64),
        np.zeros((4, 4, 3), complex),
    ],
)
def test_bad_arrays(bad: np.ndarray) -> None:
    with pytest.raises(DreamError) as exc:
        load_image(bad)
    assert_dream_error(exc, "<array>")


def test_pil_inputs() -> None:
    rgba = Image.fromarray(np.dstack([gradient(), np.full((32, 48), 77, np.uint8)]))
    loaded = load_image(rgba)
    assert loaded.source == "<PIL image>"
    assert (loaded.alpha == 77).all()
    cmyk = load_image(Image.new("CMYK", (4, 4), (0, 0, 0, 0)))
    np.testing.assert_allclose(cmyk.rgb, 255)
    pa = load_image(Image.new("RGBA", (4, 4), (1, 2, 3, 4)).convert("PA"))
    assert pa.alpha is not None and (pa.alpha == 4).all()


def test_bad_source_type() -> None:
    with pytest.raises(DreamError) as exc:
        load_image(42)  # type: ignore[arg-type]
    assert_dream_error(exc, "int")


# ------------------------------------------------------------------------------- max_side


def test_max_side_downscales_keeping_aspect(tmp_path: Path) -> None:
    rgb = gradient(200, 100)
    alpha = np.full((100, 200), 200, np.uint8)
    path = tmp_path / "wide.png"
    Image.fromarray(np.dstack([rgb, alpha])).save(path)
    loaded = load_image(path, max_side=50)
    assert loaded.rgb.shape == (25, 50, 3)
    assert loaded.alpha is not None and loaded.alpha.shape == (25, 50)
    assert (loaded.alpha == 200).all()
    np.testing.assert_allclose(loaded.rgb[..., 2], 128, atol=1)


def test_max_side_never_upscales(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.fromarray(gradient()).save(path)
    assert load_image(path, max_side=1000).rgb.shape == (32, 48, 3)
    assert load_image(path, max_side=48).rgb.shape == (32, 48, 3)


def test_max_side_jpeg_draft_and_orientation(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(gradient(800, 600)).save(path, exif=exif.tobytes(), quality=90)
    loaded = load_image(path, max_side=100)
    assert loaded.rgb.shape == (100, 75, 3)


def test_max_side_high_precision_and_arrays() -> None:
    deep = (np.linspace(0, 65535, 400 * 100).reshape(100, 400)).astype(np.uint16)
    loaded = load_image(Image.fromarray(deep), max_side=40)
    assert loaded.rgb.shape == (10, 40, 3)
    assert np.any(loaded.rgb % 1 != 0)
    arr = load_image(np.dstack([gradient(90, 30), np.zeros((30, 90), np.uint8)]), max_side=9)
    assert arr.rgb.shape == (3, 9, 3) and arr.alpha is not None and arr.alpha.shape == (3, 9)


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "big"])
def test_bad_max_side(bad: object) -> None:
    with pytest.raises(DreamError) as exc:
        load_image(gradient(), max_side=bad)  # type: ignore[arg-type]
    assert_dream_error(exc, "max_side")


# --------------------------------------------------------------------------- load errors


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.jpg"
    with pytest.raises(DreamError) as exc:
        load_image(path)
    assert_dream_error(exc, "not found", str(path))


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "pics.png"
    folder.mkdir()
    with pytest.raises(DreamError) as exc:
        load_image(folder)
    assert_dream_error(exc, "folder", str(folder))


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.touch()
    with pytest.raises(DreamError) as exc:
        load_image(path)
    assert_dream_error(exc, "empty", str(path))


def test_text_file_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\n" * 10)
    with pytest.raises(DreamError) as exc:
        load_image(path)
    assert_dream_error(exc, "not a supported image", str(path))


def test_unsupported_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pic.eps"
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n")
    with pytest.raises(DreamError) as exc:
        load_image(path)
    assert_dream_error(exc, "not a supported image")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "TIFF"])
def test_truncated_file(tmp_path: Path, fmt: str) -> None:
    buf = BytesIO()
    Image.fromarray(noise(96, 96)).save(buf, fmt)
    data = buf.getvalue()
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: len(data) // 2])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    with pytest.raises(DreamError) as exc:
        load_image(path)
    assert_dream_error(exc, str(path))
    assert "truncated" in str(exc.value) or "corrupt" in str(exc.value)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_decompression_bomb_pil_hard_limit(tmp_path: Path) -> None:
    path = png_claiming(tmp_path / "bomb.png", 30000, 30000)
    assert path.stat().st_size < 200
    with pytest.raises(DreamError) as exc:
        load_image(path)
    assert_dream_error(exc, str(path), "decompression bomb")


def test_decompression_bomb_our_limit(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    path = png_claiming(tmp_path / "bomb2.png", 11000, 10000)  # between our and PIL's limits
    with pytest.raises(DreamError) as exc:
        load_image(path)
    assert_dream_error(exc, "11000x10000", "megapixel limit")
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]
    with pytest.raises(DreamError):
        read_metadata(path)


def test_decompression_bomb_pil_image(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dio, "MAX_PIXELS", 100)
    with pytest.raises(DreamError) as exc:
        load_image(Image.new("L", (20, 20)))
    assert_dream_error(exc, "<PIL image>", "20x20")


def test_unreadable_file_chmod(tmp_path: Path) -> None:
    path = tmp_path / "secret.png"
    Image.fromarray(gradient()).save(path)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: chmod cannot make a file unreadable")
        with pytest.raises(DreamError) as exc:
            load_image(path)
        assert_dream_error(exc, "permission denied", str(path))
    finally:
        path.chmod(0o644)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.png"
    Image.fromarray(gradient()).save(path)

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(dio, "open", denied, raising=False)
    with pytest.raises(DreamError) as exc:
        load_image(path)
    assert_dream_error(exc, "permission denied", str(path))


@pytest.mark.parametrize("ext", [".jpg", ".png", ".gif", ".tif"])
def test_input_file_untouched(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"orig{ext}"
    exif = Image.Exif()
    exif[0x0112] = 3
    kwargs = {"exif": exif.tobytes()} if ext in (".jpg", ".png") else {}
    Image.fromarray(gradient()).save(path, **kwargs)
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    before = snapshot(path)
    load_image(path)
    load_image(path, max_side=10)
    read_metadata(path)
    assert snapshot(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


# ----------------------------------------------------------------------------------- saving


def test_to_pil_rounds_and_clips() -> None:
    rgb = np.array([[[-5.0, 0.4, 0.6], [254.4, 254.6, 300.0]]], dtype=np.float32)
    img = to_pil(rgb)
    assert img.mode == "RGB"
    assert np.asarray(img).tolist() == [[[0, 0, 1], [254, 255, 255]]]
    rgba = to_pil(rgb, np.array([[0.4, 299.0]]))
    assert rgba.mode == "RGBA"
    assert np.asarray(rgba)[..., 3].tolist() == [[0, 255]]


@pytest.mark.parametrize(
    ("rgb", "alpha"),
    [
        (np.zeros((4, 4)), None),
        (np.zeros((4, 4, 4)), None),
        (np.zeros((4, 4, 3)), np.zeros((4, 5))),
        (np.full((4, 4, 3), np.inf), None),
    ],
)
def test_to_pil_rejects_bad_arrays(rgb: np.ndarray, alpha: np.ndarray | None) -> None:
    with pytest.raises(DreamError) as exc:
        to_pil(rgb, alpha)
    assert_dream_error(exc)


def test_alpha_bit_exact_through_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    rgb = rng.uniform(0, 255, (40, 30, 3)).astype(np.float32)
    alpha = rng.integers(0, 256, (40, 30), dtype=np.uint8)
    out = save_image(tmp_path / "out.png", rgb, alpha)
    assert out == tmp_path / "out.png"
    with Image.open(out) as img:
        assert img.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(img)[..., 3], alpha)
    loaded = load_image(out)
    np.testing.assert_array_equal(loaded.alpha, alpha)
    np.testing.assert_array_equal(loaded.rgb, np.clip(np.rint(rgb), 0, 255))


@pytest.mark.parametrize("ext", [".webp", ".tif", ".tiff"])
def test_alpha_exact_in_other_formats(tmp_path: Path, ext: str) -> None:
    rng = np.random.default_rng(3)
    rgb = rng.uniform(0, 255, (20, 24, 3))
    alpha = rng.integers(0, 256, (20, 24), dtype=np.uint8)
    loaded = load_image(save_image(tmp_path / f"out{ext}", rgb, alpha))
    np.testing.assert_array_equal(loaded.alpha, alpha)
    np.testing.assert_array_equal(loaded.rgb, np.rint(rgb))


@pytest.mark.parametrize("ext", [".jpg", ".JPEG", ".bmp"])
def test_alpha_dropped_where_unsupported(tmp_path: Path, ext: str) -> None:
    out = save_image(tmp_path / f"out{ext}", gradient(), np.zeros((32, 48), np.uint8))
    with Image.open(out) as img:
        assert img.mode == "RGB"
    assert load_image(out).alpha is None


@pytest.mark.parametrize("ext", [*sorted(SUPPORTED_OUTPUT), ".PNG", ".Jpg"])
def test_save_every_format(tmp_path: Path, ext: str) -> None:
    rgb = gradient().astype(np.float32)
    out = save_image(tmp_path / f"out{ext}", rgb)
    with Image.open(out) as img:
        expected = dout.FORMAT_BY_EXT[ext.lower()]
        assert img.format == expected
        assert img.size == (48, 32)
    assert np.abs(load_image(out).rgb - rgb).mean() < 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_save_jpeg_quality(tmp_path: Path) -> None:
    rgb = noise(64, 64).astype(np.float32)
    out = save_image(tmp_path / "q.jpg", rgb)
    assert np.abs(load_image(out).rgb - rgb).mean() < 8  # quality 95, 4:4:4


def test_save_overwrites_and_has_normal_permissions(tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    save_image(out, np.zeros((4, 4, 3)))
    umask = os.umask(0o022)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    out.chmod(0o640)
    save_image(out, np.full((4, 4, 3), 255.0))
    assert out.stat().st_mode & 0o777 == 0o640
    assert load_image(out).rgb.min() == 255


# -------------------------------------------------------------------------------- metadata


@pytest.mark.parametrize("ext", [".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff"])
def test_metadata_roundtrip(tmp_path: Path, ext: str) -> None:
    out = save_image(tmp_path / f"dream{ext}", gradient(), metadata=PARAMS)
    assert read_metadata(out) == PARAMS


@pytest.mark.parametrize("ext", [".png", ".webp", ".tif"])
def test_metadata_roundtrip_with_alpha(tmp_path: Path, ext: str) -> None:
    alpha = np.full((32, 48), 9, np.uint8)
    out = save_image(tmp_path / f"dream{ext}", gradient(), alpha, metadata=PARAMS)
    assert read_metadata(out) == PARAMS
    assert (load_image(out).alpha == 9).all()


@pytest.mark.parametrize("ext", [".jpg", ".webp", ".tif", ".png"])
def test_metadata_from_xmp_only(tmp_path: Path, ext: str) -> None:
    """Other tools may strip EXIF/text chunks but keep XMP; we still find the parameters."""
    out = tmp_path / f"x{ext}"
    packet = dmeta.xmp_packet(dmeta.metadata_json(PARAMS))
    img = Image.fromarray(gradient())
    if ext == ".tif":
        img.save(out, tiffinfo={700: packet})
    elif ext == ".png":
        from PIL import PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", packet.decode())
        img.save(out, pnginfo=info)
    else:
        img.save(out, xmp=packet)
    assert read_metadata(out) == PARAMS


def test_metadata_converts_common_types(tmp_path: Path) -> None:
    meta = {"input": Path("a/b.jpg"), "scale": np.float32(1.5), "size": np.array([3, 4])}
    out = save_image(tmp_path / "m.png", gradient(), metadata=meta)
    assert read_metadata(out) == {"input": str(Path("a/b.jpg")), "scale": 1.5, "size": [3, 4]}


def test_metadata_absent_or_foreign(tmp_path: Path) -> None:
    plain = save_image(tmp_path / "plain.png", gradient())
    assert read_metadata(plain) is None
    assert read_metadata(save_image(tmp_path / "plain.jpg", gradient())) is None
    assert read_metadata(save_image(tmp_path / "m.bmp", gradient(), metadata=PARAMS)) is None
    camera = tmp_path / "camera.jpg"
    exif = Image.Exif()
    exif[0x010E] = '{"some": "json from another tool"}'
    Image.fromarray(gradient()).save(camera, exif=exif.tobytes())
    assert read_metadata(camera) is None
    text = tmp_path / "text.png"
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("inceptionism", "not json")
    Image.fromarray(gradient()).save(text, pnginfo=info)
    assert read_metadata(text) is None


def test_read_metadata_errors(tmp_path: Path) -> None:
    with pytest.raises(DreamError) as exc:
        read_metadata(tmp_path / "missing.png")
    assert_dream_error(exc, "not found")
    junk = tmp_path / "junk.png"
    junk.write_text("hello")
    with pytest.raises(DreamError):
        read_metadata(junk)


def test_metadata_too_big_for_jpeg(tmp_path: Path) -> None:
    with pytest.raises(DreamError) as exc:
        save_image(tmp_path / "big.jpg", gradient(), metadata={"blob": "x" * 70000})
    assert_dream_error(exc, ".png")
    assert list(tmp_path.iterdir()) == []
    out = save_image(tmp_path / "big.png", gradient(), metadata={"blob": "x" * 70000})
    assert read_metadata(out) == {"blob": "x" * 70000}


# --------------------------------------------------------------------------- save errors


def test_unknown_output_extension(tmp_path: Path) -> None:
    for name in ("out.xyz", "out", "out.gif"):
        with pytest.raises(DreamError) as exc:
            save_image(tmp_path / name, gradient())
        assert_dream_error(exc, name, ".png", ".jpg", ".webp", ".tiff", ".bmp")
        with pytest.raises(DreamError):
            check_output_path(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_missing_output_folder(tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "out.png"
    with pytest.raises(DreamError) as exc:
        save_image(out, gradient())
    assert_dream_error(exc, "does not exist", str(out.parent))
    with pytest.raises(DreamError) as exc:
        check_output_path(out)
    assert_dream_error(exc, "does not exist")


def test_output_parent_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    out = blocker / "out.png"
    for fn in (lambda: save_image(out, gradient()), lambda: check_output_path(out)):
        with pytest.raises(DreamError) as exc:
            fn()
        assert_dream_error(exc, "not a folder", str(blocker))


def test_output_is_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "out.png"
    folder.mkdir()
    for fn in (lambda: save_image(folder, gradient()), lambda: check_output_path(folder)):
        with pytest.raises(DreamError) as exc:
            fn()
        assert_dream_error(exc, "is a folder")


def test_unwritable_folder_chmod(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root: chmod cannot make a folder read-only")
        with pytest.raises(DreamError) as exc:
            check_output_path(folder / "out.png")
        assert_dream_error(exc, "permission denied")
        with pytest.raises(DreamError) as exc:
            save_image(folder / "out.png", gradient())
        assert_dream_error(exc, "permission denied")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_unwritable_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As root chmod is ineffective, so simulate the OS saying no."""
    monkeypatch.setattr(dio.os, "access", lambda *a, **k: False)
    with pytest.raises(DreamError) as exc:
        check_output_path(tmp_path / "out.png")
    assert_dream_error(exc, "permission denied", str(tmp_path))

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(dio.tempfile, "NamedTemporaryFile", denied)
    with pytest.raises(DreamError) as exc:
        save_image(tmp_path / "out.png", gradient())
    assert_dream_error(exc, "permission denied", str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_output_is_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "photo.png"
    Image.fromarray(gradient()).save(src)
    with pytest.raises(DreamError) as exc:
        check_output_path(src, src)
    assert_dream_error(exc, "input", str(src))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DreamError):
        check_output_path("./photo.png", src)
    (tmp_path / "sub").mkdir()
    with pytest.raises(DreamError):
        check_output_path("sub/../photo.png", src)
    link = tmp_path / "hard.png"
    os.link(src, link)
    with pytest.raises(DreamError):
        check_output_path(link, src)
    assert check_output_path(tmp_path / "photo.dream.png", src) == tmp_path / "photo.dream.png"
    assert check_output_path("out.jpg", "photo.png") == Path("out.jpg")


def test_default_output_path() -> None:
    assert default_output_path("dir/photo.jpg") == Path("dir/photo.dream.png")
    assert default_output_path(Path("photo")) == Path("photo.dream.png")
    assert default_output_path("a.b/c.tar.gif") == Path("a.b/c.tar.dream.png")
    assert default_output_path("x.jpg").suffix in SUPPORTED_OUTPUT


# ------------------------------------------------------------------------------- atomicity


def test_invalid_array_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    with pytest.raises(DreamError) as exc:
        save_image(out, np.zeros((4, 4, 7)))
    assert_dream_error(exc, "shape")
    assert list(tmp_path.iterdir()) == []


def test_failure_mid_save_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out.png"
    save_image(out, np.zeros((8, 8, 3)))
    before = out.read_bytes()

    def disk_full(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        fp.write(b"\x89PNG half written")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    with pytest.raises(DreamError) as exc:
        save_image(out, np.full((8, 8, 3), 255.0))
    assert_dream_error(exc, "No space left", str(out))
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
    assert out.read_bytes() == before  # the earlier result is intact, not half-overwritten

    def crash(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        fp.write(b"partial")  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_image(tmp_path / "new.webp", np.zeros((8, 8, 3)))
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
