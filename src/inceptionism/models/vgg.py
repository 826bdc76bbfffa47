"""VGG16 and VGG19 with torchvision's published weights (``features.N`` / ``classifier.N``).

The layout is torchvision's (``features`` = conv/ReLU/max-pool in a Sequential, ``classifier``
= three Linear layers), so the published state dicts load strictly without torchvision. Layers
carry the names of the VGG paper and of style-transfer code (``conv4_3``, ``relu4_3``,
``pool4``, ...), mapped to ``features.N``. Preprocessing is torchvision's ImageNet mean/std.

The ReLUs are not in place (unlike torchvision's): in place, a hook on ``conv4_3`` would see
its tensor overwritten by ``relu4_3``.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from .base import IMAGENET_MEAN, IMAGENET_STD, Preprocess
from .weights import Published, published_spec

# Channels of each conv per block; a max-pool closes every block.
CONFIGS: dict[str, list[list[int]]] = {
    "vgg16": [[64] * 2, [128] * 2, [256] * 3, [512] * 3, [512] * 3],
    "vgg19": [[64] * 2, [128] * 2, [256] * 4, [512] * 4, [512] * 4],
}
# Full SHA-256 of each published file (its name carries the first 8 digits).
WEIGHTS: dict[str, Published] = {
    "vgg16": Published(
        "https://download.pytorch.org/models/vgg16-397923af.pth",
        "397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0",
    ),
    "vgg19": Published(
        "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        "dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44",
    ),
}
# relu4_3 is the usual VGG16 Deep Dream layer (e.g. gordicaleksa/pytorch-deepdream's examples);
# relu4_4 is its VGG19 counterpart: the output of block 4, at the same stride of 8.
DEFAULT_LAYERS: dict[str, dict[str, float]] = {
    "vgg16": {"relu4_3": 1.0},
    "vgg19": {"relu4_4": 1.0},
}


class VGG(nn.Module):
    def __init__(self, blocks: list[list[int]], num_classes: int = 1000):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for block in blocks:
            for cout in block:
                layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]
                cin = cout
            layers.append(nn.MaxPool2d(2, stride=2))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


def build_net(name: str = "vgg16") -> VGG:
    """VGG16 or VGG19 with random weights, in the published layout."""
    return VGG(CONFIGS[name])


def layer_names(name: str) -> dict[str, str]:
    """Public layer names (conv1_1, relu1_1, ..., pool5, logits) -> module paths."""
    layers: dict[str, str] = {}
    i = 0
    for b, block in enumerate(CONFIGS[name], start=1):
        for c in range(1, len(block) + 1):
            layers[f"conv{b}_{c}"] = f"features.{i}"
            layers[f"relu{b}_{c}"] = f"features.{i + 1}"
            i += 2
        layers[f"pool{b}"] = f"features.{i}"
        i += 1
    layers["logits"] = "classifier.6"
    return layers


def _description(name: str) -> str:
    return f"{name.upper()} (torchvision weights, ImageNet); layers conv4_3, relu4_3, pool4, ..."


SPECS = [
    published_spec(
        name,
        WEIGHTS,
        partial(build_net, name),
        Preprocess.mean_std(IMAGENET_MEAN, IMAGENET_STD),
        layer_names(name),
        DEFAULT_LAYERS[name],
        _description(name),
    )
    for name in CONFIGS
]
