"""ResNet-50 with torchvision's published ImageNet weights (IMAGENET1K_V1, ``resnet50-0676ba61``).

Module names and shapes are torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer1.0.downsample.0``, ..., ``fc``; the stride sits in each bottleneck's 3x3 conv, the
"v1.5" design), so the published state dict loads strictly without torchvision.
Preprocessing is torchvision's ImageNet mean/std.

Layers are module paths: the stem (``conv1``, ``relu``, ``maxpool``), the four stages
(``layer1`` ... ``layer4``) and every bottleneck block (``layer3.5`` ...), plus ``logits``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import IMAGENET_MEAN, IMAGENET_STD, Preprocess, conv_bn_pairs
from .weights import Published, published_spec

NAME = "resnet50"
WEIGHTS: dict[str, Published] = {
    NAME: Published(
        "https://download.pytorch.org/models/resnet50-0676ba61.pth",
        "0676ba61b6795bbe1773cffd859882e5e297624d384b6993f7c9e683e722fb8a",
    )
}
BLOCKS = (3, 4, 6, 3)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand x4, plus the (projected) input.

    No in-place ops, so a hooked block output is never overwritten by the next block.
    """

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int = 1):
        super().__init__()
        cout = width * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, blocks: tuple[int, ...] = BLOCKS, num_classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin = 64
        for i, n in enumerate(blocks):
            width = 64 * 2**i
            stride = 1 if i == 0 else 2
            stage = []
            for j in range(n):
                stage.append(Bottleneck(cin, width, stride if j == 0 else 1))
                cin = width * Bottleneck.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, num_classes)

    def fuse_pairs(self) -> list[tuple[str, str]]:
        """Every conv and the batch norm after it, the shortcuts' too (see ``DreamModel.fast``)."""
        names = [(f"conv{i}", f"bn{i}") for i in (1, 2, 3)] + [("0", "1")]  # downsample.0/.1
        return conv_bn_pairs(self, names)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def build_net() -> ResNet:
    """ResNet-50 with random weights, in the published layout."""
    return ResNet(BLOCKS)


def _layers() -> dict[str, str]:
    layers = {n: n for n in ("conv1", "relu", "maxpool")}
    for i, n in enumerate(BLOCKS, start=1):
        layers.update({f"layer{i}.{j}": f"layer{i}.{j}" for j in range(n)})
        layers[f"layer{i}"] = f"layer{i}"
    layers["logits"] = "fc"
    return layers


LAYERS = _layers()
# layer3 (stride 16, like the reference's Mixed_4c) is where ResNet-50 dreams of object parts
# (eyes, snouts, arches): the choice of gordicaleksa/pytorch-deepdream's ResNet-50 showcases;
# layer2 gives textures and layer4 (stride 32) coarse, whole-object shapes.
DEFAULT_LAYERS: dict[str, float] = {"layer3": 1.0}
DESCRIPTION = "ResNet-50 (torchvision IMAGENET1K_V1 weights); layers layer1..layer4, layer3.5, ..."


SPEC = published_spec(
    NAME,
    WEIGHTS,
    build_net,
    Preprocess.mean_std(IMAGENET_MEAN, IMAGENET_STD),
    LAYERS,
    DEFAULT_LAYERS,
    DESCRIPTION,
)
