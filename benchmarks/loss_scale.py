"""Each model's loss scale: the reference objective at its default layers on photo-like images.

    PYTHONPATH=src python benchmarks/loss_scale.py

The reference's ``max_loss = 10`` is an absolute number in InceptionV1's loss scale. This prints
the objective (``sum(act[:, :, 2:-2, 2:-2] ** 2) / act.numel()`` at the default layers, what the
progress bar shows and ``max_loss`` compares with) of the input itself, at full size, for every
model whose weights are here, on the images of ``benchmarks/quality.py``. A model whose photos
start above 10 would end every octave of ``--preset seed`` before its first step with the
notebook's limit, which is why ``seed`` keeps 10 only on inception-v1 (config.REFERENCE_MAX_LOSS).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from quality import images

from inceptionism.algorithm.objectives import objective_for
from inceptionism.config import make_config
from inceptionism.models import REGISTRY, load_model


def main() -> int:
    pictures = images(600)
    print("| model | default layers | " + " | ".join(pictures) + " | median |")
    print("|---|---|" + "---|" * (len(pictures) + 1))
    for name, spec in REGISTRY.items():
        if not spec.weights_here():
            continue
        model = load_model(name).fast()
        objective = objective_for(make_config("seed", model=name), model)
        values = []
        for rgb in pictures.values():
            px = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float()
            with torch.no_grad():
                acts = model.activations(model.preprocess(px), objective.layers)
                values.append(float(objective(acts)))
        layers = ", ".join(spec.default_layers)
        cells = " | ".join(f"{v:.1f}" for v in values)
        print(f"| {name} | {layers} | {cells} | {np.median(values):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
