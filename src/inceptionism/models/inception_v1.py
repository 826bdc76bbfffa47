"""GoogLeNet (Inception v1), the network of the original Deep Dream, with torchvision's weights.

The module layout (names and shapes) is exactly that of torchvision's ``GoogLeNet``, so the
published ``googlenet-1378be20.pth`` loads strictly; torchvision itself is not needed. Those
weights were converted from TensorFlow and their first convolution expects RGB in [-1, 1]
(torchvision's ``transform_input`` maps ImageNet-normalised input there); this model is fed
[-1, 1] directly: ``(pixel - 127.5) / 127.5``.

Note that torchvision's "5x5" branch (``branch3``) is a 3x3 convolution, a known quirk of the
converted weights, and is kept so that the weights fit.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import BasicConv2d, Preprocess, SharedInputBranches, conv_bn_pairs, relu_after_pool
from .weights import Published, published_spec

NAME = "inception-v1"
# Full SHA-256 of the published file (its name carries the first 8 digits).
WEIGHTS: dict[str, Published] = {
    NAME: Published(
        "https://download.pytorch.org/models/googlenet-1378be20.pth",
        "1378be20a8e875cf1568b8a71654e704449655e34711a959a38b04fb34905cef",
    )
}


class Inception(SharedInputBranches):
    """Four parallel branches (1x1; 1x1-3x3; 1x1-"5x5"; pool-1x1), concatenated on channels.

    The first three open with 1x1 convs on the input, one conv once set up for dreaming; the
    fourth's max pool does not commute with its conv, so it stays on its own.
    """

    head_names = ("branch1", "branch2.0", "branch3.0")

    def __init__(self, cin: int, c1: int, c3red: int, c3: int, c5red: int, c5: int, pool_proj: int):
        super().__init__()
        self.branch1 = BasicConv2d(cin, c1, 1)
        self.branch2 = nn.Sequential(BasicConv2d(cin, c3red, 1), BasicConv2d(c3red, c3, 3, 1, 1))
        self.branch3 = nn.Sequential(BasicConv2d(cin, c5red, 1), BasicConv2d(c5red, c5, 3, 1, 1))
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True), BasicConv2d(cin, pool_proj, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        merged = self.merged_heads()
        if merged is None:  # as published (the branches' own hooks see it)
            b1, b2, b3 = self.branch1(x), self.branch2(x), self.branch3(x)
        else:
            b1, b2, b3 = merged(x)
            b2, b3 = self.branch2[1](b2), self.branch3[1](b3)
        return torch.cat([b1, b2, b3, self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: only used in training, kept so the published state dict fits."""

    def __init__(self, cin: int, num_classes: int = 1000):
        super().__init__()
        self.conv = BasicConv2d(cin, 128, 1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(0.7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(nn.functional.adaptive_avg_pool2d(x, (4, 4)))
        x = self.dropout(torch.relu(self.fc1(torch.flatten(x, 1))))
        return self.fc2(x)


class GoogLeNet(nn.Module):
    """Inference-only GoogLeNet: the auxiliary heads hold weights but are not run."""

    fuse_pairs = conv_bn_pairs  # every BasicConv2d's conv and norm (DreamModel.fast)

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.conv1 = BasicConv2d(3, 64, 7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, 1)
        self.conv3 = BasicConv2d(64, 192, 3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        self.aux1 = InceptionAux(512, num_classes)
        self.aux2 = InceptionAux(528, num_classes)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = relu_after_pool(self.conv1, self.maxpool1, x)
        x = relu_after_pool(self.conv3, self.maxpool2, self.conv2(x))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        for block in (self.inception4a, self.inception4b, self.inception4c, self.inception4d):
            x = block(x)
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.dropout(torch.flatten(self.avgpool(x), 1))
        return self.fc(x)


def build_net() -> GoogLeNet:
    """GoogLeNet with random weights, in the published layout."""
    return GoogLeNet()


_SPATIAL = [
    "conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
    "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
    "inception5a", "inception5b",
]  # fmt: skip
LAYERS: dict[str, str] = {**{n: n for n in _SPATIAL}, "logits": "fc"}
# TF-slim's names (those of the reference's TF graph and of lucid), for the same tensors.
ALIASES: dict[str, str] = {
    "Conv2d_1a_7x7": "conv1",
    "MaxPool_2a_3x3": "maxpool1",
    "Conv2d_2b_1x1": "conv2",
    "Conv2d_2c_3x3": "conv3",
    "MaxPool_3a_3x3": "maxpool2",
    "Mixed_3b": "inception3a",
    "Mixed_3c": "inception3b",
    "MaxPool_4a_3x3": "maxpool3",
    "Mixed_4b": "inception4a",
    "Mixed_4c": "inception4b",
    "Mixed_4d": "inception4c",
    "Mixed_4e": "inception4d",
    "Mixed_4f": "inception4e",
    "MaxPool_5a_2x2": "maxpool4",
    "Mixed_5b": "inception5a",
    "Mixed_5c": "inception5b",
    "Logits": "logits",
}
# The reference dreams on Mixed_4c (TF-slim's name for inception4b).
DEFAULT_LAYERS: dict[str, float] = {"inception4b": 1.0}
DESCRIPTION = "GoogLeNet / Inception v1 (torchvision weights, ImageNet): the original Deep Dream"


SPEC = published_spec(
    NAME,
    WEIGHTS,
    build_net,
    Preprocess.uniform(127.5, 127.5),
    LAYERS,
    DEFAULT_LAYERS,
    DESCRIPTION,
    ALIASES,
)
