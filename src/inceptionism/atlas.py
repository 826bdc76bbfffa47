"""The layer atlas: what each layer of a model, or each channel of one layer, paints on a photo.

A user choosing ``--layer`` otherwise has only names to go by. The atlas dreams the same small
picture once per layer (or per channel), with the same recipe apart from what is amplified, so
the tiles differ only by what that layer sees. Front ends share this module: the ``deepdream
atlas`` command writes a labelled contact sheet, the web studio streams tiles into a gallery as
each finishes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from inceptionism.command_options import ATLAS_SIDE as ATLAS_SIDE  # where callers find it
from inceptionism.command_options import DEFAULT_CHANNELS
from inceptionism.config import DreamConfig
from inceptionism.errors import DreamError, unknown_name
from inceptionism.models.base import DreamModel, LayerInfo
from inceptionism.session import Dreamer

# ATLAS_SIDE (each tile's side unless told otherwise) and DEFAULT_CHANNELS (of one layer, when
# none are named): declared with ``deepdream atlas``'s options.
#: More tiles than this would take long and make an unreadable sheet.
MAX_TILES = 256
#: Largest contact sheet, in pixels (about 300 MB of RGB): 256 tiles of 512 px fit. Checked
#: from the columns, rows and tile size before anything is dreamed or allocated.
MAX_SHEET_PIXELS = 100_000_000


@dataclass(frozen=True)
class AtlasTile:
    """One dream of the atlas: ``layers`` (a recipe's layer weights, e.g. ``{"block3:5": 1}``)
    and the ``label`` written under its picture."""

    label: str
    layers: dict[str, float]


def parse_channels(text: str) -> list[int]:
    """``0-15``, ``3,7,9`` or ``0-7,32``: channel numbers, in order, without repeats."""
    out: dict[int, None] = {}
    for part in text.split(","):
        part = part.strip()
        lo, dash, hi = part.partition("-")
        try:
            first = int(lo)
            last = int(hi) if dash else first
        except ValueError:
            raise DreamError(
                f"invalid channels {text!r}: need numbers like 0-15 or 3,7,9"
            ) from None
        if first < 0 or last < first:
            raise DreamError(f"invalid channel range {part!r}: need FIRST-LAST with FIRST <= LAST")
        if last - first >= MAX_TILES:
            raise DreamError(f"channel range {part!r} is too long: at most {MAX_TILES} tiles")
        out.update(dict.fromkeys(range(first, last + 1)))
    if len(out) > MAX_TILES:
        raise DreamError(f"too many channels ({len(out)}): an atlas has at most {MAX_TILES} tiles")
    return list(out)


def dreamable_layers(infos: Sequence[LayerInfo]) -> list[LayerInfo]:
    """The layers worth a tile: every feature map (the class scores are not a picture)."""
    return [li for li in infos if li.stride]


def tiles_for(
    infos: Sequence[LayerInfo], layer: str | None = None, channels: Sequence[int] | None = None
) -> list[AtlasTile]:
    """The atlas's tiles: one per layer (``layer`` None), or one per channel of ``layer``
    (``channels`` default: the first :data:`DEFAULT_CHANNELS`). ``infos``: the model's
    ``layer_info()`` (a listing from the architecture alone will do)."""
    if layer is None:
        if channels:
            raise DreamError("channels need a layer: name the layer whose channels to show")
        return [
            AtlasTile(f"{li.name} ({li.channels} ch, /{li.stride})", {li.name: 1.0})
            for li in dreamable_layers(infos)
        ]
    by_name = {li.name: li for li in infos}
    if layer not in by_name:
        raise unknown_name("layer", layer, by_name)
    count = by_name[layer].channels
    chans = list(channels) if channels else list(range(min(count, DEFAULT_CHANNELS)))
    too_big = [c for c in chans if c >= count]
    if too_big:
        raise DreamError(
            f"layer {layer} has {count} channels (0-{count - 1}); there is no channel {too_big[0]}"
        )
    return [AtlasTile(f"{layer}:{c}", {f"{layer}:{c}": 1.0}) for c in chans]


def tile_recipe(config: DreamConfig, tile: AtlasTile) -> DreamConfig:
    """The recipe of one tile: ``config`` amplifying the tile's layers and nothing else (no
    classes, no guide: they would paint the same thing on every tile)."""
    return config.replace(layers=dict(tile.layers), classes={}, guide=None, guide_layer=None)


def dream_atlas(
    image: np.ndarray,
    model: str | DreamModel,
    config: DreamConfig,
    tiles: Sequence[AtlasTile],
    *,
    device: str = "auto",
    precision: str = "auto",
    cancel: threading.Event | None = None,
) -> Iterator[tuple[AtlasTile, np.ndarray]]:
    """Each tile's dream of ``image`` ((H, W, 3) float RGB 0..255, already at the atlas size)
    as uint8 RGB, yielded as soon as it is done. ``cancel`` stops within one step
    (:class:`~inceptionism.errors.Cancelled`). Every tile's session is set up first: its plan
    says the smallest side its layers need, and a bad layer fails before any tile is dreamed."""
    dreamers = [
        Dreamer(model, tile_recipe(config, tile), device=device, precision=precision)
        for tile in tiles
    ]
    image = fit_for(image, max((d.plan.min_side for d in dreamers), default=1))
    for tile, dreamer in zip(tiles, dreamers, strict=True):
        rgb = dreamer.dream(image, cancel=cancel)
        yield tile, np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def fit_for(image: np.ndarray, need: int) -> np.ndarray:
    """``image``, enlarged if its short side is below ``need`` px, what the deepest tile's layer
    needs (a small atlas picture must not fail on the last layers), so every tile has the same
    size."""
    h, w = image.shape[:2]
    if min(h, w) >= need:
        return image
    k = need / min(h, w)
    size = (max(need, round(w * k)), max(need, round(h * k)))
    pil = Image.fromarray(np.clip(np.rint(image), 0, 255).astype(np.uint8)).resize(
        size, Image.Resampling.BICUBIC
    )
    return np.asarray(pil, dtype=np.float32)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def contact_sheet(
    tiles: Sequence[tuple[str, np.ndarray]],
    *,
    columns: int | None = None,
    title: str = "",
    gap: int = 6,
) -> Image.Image:
    """The tiles (label, uint8 RGB) on a grid, each label under its picture, ``title`` on top.

    Tiles of different sizes are laid out in cells of the largest one.
    """
    if not tiles:
        raise DreamError("an atlas needs at least one tile")
    cell_w = max(t.shape[1] for _, t in tiles)
    cell_h = max(t.shape[0] for _, t in tiles)
    cols = check_sheet(len(tiles), (cell_h, cell_w), columns, title, gap)
    rows = -(-len(tiles) // cols)
    font = _font(max(10, min(16, cell_w // 10)))
    label_h = font.getbbox("Ag")[3] + 6
    title_font = _font(18)
    title_h = title_font.getbbox("Ag")[3] + 2 * gap if title else 0
    width = cols * cell_w + (cols + 1) * gap
    height = title_h + rows * (cell_h + label_h) + (rows + 1) * gap
    sheet = Image.new("RGB", (width, height), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((gap, gap), title, fill=(235, 235, 235), font=title_font)
    for i, (label, rgb) in enumerate(tiles):
        r, c = divmod(i, cols)
        x = gap + c * (cell_w + gap)
        y = title_h + gap + r * (cell_h + label_h + gap)
        sheet.paste(Image.fromarray(rgb), (x, y))
        text = label
        while text and draw.textlength(text, font=font) > cell_w:
            text = text[:-2] + "…" if len(text) > 2 else ""
        draw.text((x, y + rgb.shape[0] + 2), text, fill=(220, 220, 220), font=font)
    return sheet


def check_sheet(
    count: int, cell: tuple[int, int], columns: int | None, title: str = "", gap: int = 6
) -> int:
    """The columns a sheet of ``count`` tiles of ``cell`` (H, W) px lays out (``columns``, or
    about square), checked before anything is allocated: a sheet over
    :data:`MAX_SHEET_PIXELS` is refused in one line (``--columns 1000000`` would ask for
    gigabytes of empty cells)."""
    if columns is not None and (isinstance(columns, bool) or columns < 1):
        raise DreamError(f"invalid columns {columns!r}: need a whole number >= 1")
    cols = columns or max(1, min(count, round(count**0.5 * 1.3)))
    rows = -(-count // cols)
    label_h = 16 + 6 + gap  # a generous label line: the estimate must not undercount
    width = cols * (cell[1] + gap) + gap
    height = (32 + 2 * gap if title else 0) + rows * (cell[0] + label_h) + gap
    if width * height > MAX_SHEET_PIXELS:
        raise DreamError(
            f"the sheet would be {width:,}x{height:,} px ({cols:,} columns, {rows:,} rows of "
            f"{cell[1]}x{cell[0]} px tiles): at most {MAX_SHEET_PIXELS // 1_000_000} megapixels",
            hint="use fewer {columns} (at most one per tile) or a smaller {max_side:PX}",
        )
    return cols
