"""The Layer atlas tab: one small dream of its picture per layer of the model, or per channel of
one layer, with the Image tab's settings, and the contact sheet of them all.

:mod:`inceptionism.atlas` (which builds models, so imports torch) is imported when used.
"""

# No "from __future__ import annotations": Gradio reads the handlers' hints (gr.Request) at
# runtime.

import time
from collections.abc import Iterator
from typing import Any

import gradio as gr
import numpy as np

from inceptionism.atlas import ATLAS_SIDE, contact_sheet, dream_atlas, parse_channels, tiles_for
from inceptionism.config import DEFAULT_MODEL
from inceptionism.errors import Cancelled, DreamError
from inceptionism.frontends.web.form import SettingsForm
from inceptionism.frontends.web.listing import layer_choices, layer_infos
from inceptionism.frontends.web.studio import SAMPLE, Job, Studio
from inceptionism.frontends.web.widgets import EVERY_LAYER, page_error, picture_input
from inceptionism.io import save_image

INTRO = (
    "One small dream of this tab's picture per layer of the model, or per channel "
    "of one layer, with the settings of the Image tab: see what each paints before "
    "choosing. The same from the command line: `deepdream atlas PICTURE --model M "
    "[--layer L --channels 0-15] -o sheet.png`."
)


class CountingCancel:
    """The job's cancel flag, also counting each step the session checks it at."""

    def __init__(self, studio: Studio, job: Job) -> None:
        self.studio = studio
        self.job = job

    def is_set(self) -> bool:
        self.studio.count_step(self.job.session)
        return self.job.cancel.is_set()


class AtlasTab:
    """The atlas tab's components and handlers; its settings are ``image_form``'s."""

    def __init__(self, studio: Studio, image_form: SettingsForm) -> None:
        self.studio = studio
        self.image_form = image_form

    def draw(self) -> None:
        """The tab: its picture, what to make an atlas of, its tiles and sheet."""
        with gr.Tab("Layer atlas"):
            gr.Markdown(INTRO)
            with gr.Row():
                self.picture = picture_input(
                    value=str(SAMPLE),
                    type="filepath",
                    sources=["upload", "clipboard"],
                    label="Atlas picture (upload, paste, or the sample)",
                    elem_id="atlas_picture",
                    height=200,
                )
                self.sample_btn = gr.Button("Use the sample picture", size="sm")
            with gr.Row():
                self._draw_choices()
            with gr.Row():
                self.button = gr.Button("Build the atlas", variant="primary", elem_id="atlas")
                self.stop_btn = gr.Button("Stop", variant="stop", elem_id="atlas_stop")
            self.status = gr.Textbox(label="Progress", interactive=False, elem_id="atlas_status")
            self.gallery = gr.Gallery(
                label="Atlas", columns=6, height=520, object_fit="contain", elem_id="atlas_gallery"
            )
            self.sheet = gr.File(label="Contact sheet (PNG)", interactive=False, elem_id="sheet")

    def _draw_choices(self) -> None:
        """The layer (or every layer), its channels and the tile size."""
        self.layer = gr.Dropdown(
            layer_choices(DEFAULT_MODEL, EVERY_LAYER),
            value="",
            label="Atlas of",
            info="the model's layers (one tile each), or one layer's channels",
            elem_id="atlas_layer",
        )
        self.channels = gr.Textbox(
            value="0-15",
            label="Channels of that layer",
            info="e.g. 0-15 or 3,7,9",
            elem_id="atlas_ch",
        )
        self.side = gr.Number(
            value=ATLAS_SIDE,
            minimum=32,
            maximum=512,
            precision=0,
            label="Tile size (px)",
            elem_id="atlas_side",
        )

    def follow_model(self, model: str) -> Any:
        """The layer choice's update for ``model`` (the Image tab's model)."""
        return gr.update(choices=layer_choices(model, EVERY_LAYER), value="")

    def wire_sample(self) -> None:
        """The sample button puts the bundled picture back."""
        self.sample_btn.click(lambda: str(SAMPLE), None, self.picture, queue=False, api_name=False)

    def wire(self) -> Any:
        """The Build button (the ``/atlas`` endpoint); returns its event, which Stop cancels."""
        # its own picture (first, as the dream's), the Image tab's settings
        inputs = [self.picture, *self.image_form.inputs, self.layer, self.channels, self.side]

        def atlas_fn(request: gr.Request, *values: Any) -> Iterator[dict]:
            data = dict(zip(inputs, values, strict=True))
            yield from self.atlas(data, request.session_hash or "anonymous")

        return self.button.click(
            atlas_fn,
            inputs,
            [self.gallery, self.status, self.sheet],
            api_name="atlas",
            concurrency_limit=1,
            concurrency_id="device",
            show_progress="minimal",
        )

    def _request(self, data: dict) -> tuple[Any, ...]:
        """(upload, recipe, run options, tile side, picture, tiles) of the submitted form,
        checked before the atlas waits for the device."""
        upload = self.studio.upload(data[self.picture], "picture")
        cfg, run, _ = self.image_form.recipe(data)
        side = int(data[self.side] or ATLAS_SIDE)
        if not 16 <= side <= 1024:
            raise DreamError(f"invalid tile size {side}: need 16 to 1024 px")
        loaded = self.studio.load(upload, side)
        layer = data[self.layer] or None
        chans = parse_channels(data[self.channels]) if layer and data[self.channels] else None
        tiles = tiles_for(layer_infos(cfg.model), layer, chans)
        return upload, cfg, run, side, loaded, tiles

    def atlas(self, data: dict, session: str) -> Iterator[dict]:
        """One atlas of ``session``: its tiles shown as they are dreamed, then the sheet."""
        try:
            upload, cfg, run, side, loaded, tiles = self._request(data)
        except DreamError as e:
            raise page_error(e) from None
        yield {self.status: f"waiting for the device… ({len(tiles)} tiles)", self.gallery: []}
        done: list[tuple[str, np.ndarray]] = []
        shown: list[tuple[str, str]] = []
        with self.studio.job(session) as job:
            try:
                yield from self._tiles(
                    job, loaded, cfg.replace(max_side=side), run, tiles, done, shown
                )
            except Cancelled:
                yield {self.status: f"stopped after {len(done)}/{len(tiles)} tiles"}
                return
            except (DreamError, MemoryError, RuntimeError, OSError) as e:
                raise page_error(e) from None
        sheet = contact_sheet(done, title=f"{cfg.model} · {upload.name}")
        out = self.studio.result_path(session, "atlas")
        save_image(out, np.asarray(sheet), None, {"atlas": [t.label for t in tiles]})
        yield {
            self.gallery: list(shown),
            self.sheet: str(out),
            self.status: f"done: {len(done)} tiles",
        }

    def _tiles(
        self,
        job: Job,
        loaded: Any,
        cfg: Any,
        run: dict[str, Any],
        tiles: list[Any],
        done: list[tuple[str, np.ndarray]],
        shown: list[tuple[str, str]],
    ) -> Iterator[dict]:
        """Dream each tile, adding it to ``done`` (label, pixels) and ``shown`` (file, label)."""
        start = time.monotonic()
        steps = CountingCancel(self.studio, job)
        job.where = f"tile 1/{len(tiles)}"
        for tile, rgb in dream_atlas(
            loaded.rgb, cfg.model, cfg, tiles, device=self.studio.device, cancel=steps, **run
        ):
            done.append((tile.label, rgb))
            job.where = f"tile {len(done) + 1}/{len(tiles)}"
            path = self.studio.result_path(job.session, f"tile-{len(done)}")
            save_image(path, rgb)
            shown.append((str(path), tile.label))
            took = time.monotonic() - start
            yield {
                self.gallery: list(shown),
                self.status: f"{len(done)}/{len(tiles)} tiles · {took:.1f} s",
            }
