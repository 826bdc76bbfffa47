"""Inception v3 with torchvision's published weights (``inception_v3_google-0cc3c7bd.pth``).

Module names and shapes are exactly torchvision's ``Inception3`` (``Conv2d_1a_3x3`` ...
``Mixed_7c``, ``AuxLogits``, ``fc``), so the published state dict loads strictly without
torchvision. The weights were ported from Google's TensorFlow model and expect RGB in [-1, 1]:
torchvision's ``transform_input`` turns ImageNet-normalised input into ``(x/255 - 0.5) / 0.5``
before the first convolution. Here the network is fed that directly, so the preprocessing is
``(pixel - 127.5) / 127.5`` (0 -> -1, 255 -> 1) and no ``transform_input`` step exists.

Keras names its mixed blocks ``mixed0`` ... ``mixed10``; those are aliases here, so settings
written for the Keras Deep Dream example carry over.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import BasicConv2d, Preprocess, SharedInputBranches, conv_bn_pairs, relu_after_pool
from .weights import Published, published_spec

NAME = "inception-v3"
WEIGHTS: dict[str, Published] = {
    NAME: Published(
        "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
        "0cc3c7bd75056d25e46cba549dc184522069b81e9787eff6df84f397bd52a5ef",
    )
}


def _pool3(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1)


class InceptionA(SharedInputBranches):
    """35x35 block: 1x1, 5x5, double 3x3 and pooled branches."""

    head_names = ("branch1x1", "branch5x5_1", "branch3x3dbl_1", "branch_pool")
    head_pool = staticmethod(_pool3)

    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1, b5, b3, bp = self.heads(x)
        b5 = self.branch5x5_2(b5)
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(b3))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(SharedInputBranches):
    """17x17 block with factorised 7x7 convolutions (1x7 then 7x1)."""

    head_names = ("branch1x1", "branch7x7_1", "branch7x7dbl_1", "branch_pool")
    head_pool = staticmethod(_pool3)

    def __init__(self, cin: int, c7: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1, b7, d, bp = self.heads(x)
        b7 = self.branch7x7_3(self.branch7x7_2(b7))
        for conv in (
            self.branch7x7dbl_2,
            self.branch7x7dbl_3,
            self.branch7x7dbl_4,
            self.branch7x7dbl_5,
        ):
            d = conv(d)
        return torch.cat([b1, b7, d, bp], 1)


class InceptionD(SharedInputBranches):
    """Grid reduction 17 -> 8."""

    head_names = ("branch3x3_1", "branch7x7x3_1")

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3, b7 = self.heads(x)
        b3 = self.branch3x3_2(b3)
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(b7)))
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(SharedInputBranches):
    """8x8 block whose 3x3 branches split into parallel 1x3 and 3x1 halves."""

    head_names = ("branch1x1", "branch3x3_1", "branch3x3dbl_1", "branch_pool")
    head_pool = staticmethod(_pool3)

    def __init__(self, cin: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1, b3, d, bp = self.heads(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(d)
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        return torch.cat([b1, b3, d, bp], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: used in training only, kept so the published state dict fits."""

    def __init__(self, cin: int, num_classes: int = 1000):
        super().__init__()
        self.conv0 = BasicConv2d(cin, 128, 1)
        self.conv1 = BasicConv2d(128, 768, 5)
        self.fc = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(self.conv0(F.avg_pool2d(x, kernel_size=5, stride=3)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Inception3(nn.Module):
    """Inference-only Inception v3 (the auxiliary head holds weights but is not run)."""

    fuse_pairs = conv_bn_pairs  # every BasicConv2d's conv and norm (DreamModel.fast)

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.maxpool1 = nn.MaxPool2d(3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.maxpool2 = nn.MaxPool2d(3, stride=2)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, c7=128)
        self.Mixed_6c = InceptionC(768, c7=160)
        self.Mixed_6d = InceptionC(768, c7=160)
        self.Mixed_6e = InceptionC(768, c7=192)
        self.AuxLogits = InceptionAux(768, num_classes)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x))
        x = relu_after_pool(self.Conv2d_2b_3x3, self.maxpool1, x)
        x = relu_after_pool(self.Conv2d_4a_3x3, self.maxpool2, self.Conv2d_3b_1x1(x))
        for name in _TRUNK[_TRUNK.index("Mixed_5b") :]:
            x = getattr(self, name)(x)
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


_TRUNK = [
    "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
    "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b",
    "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c",
]  # fmt: skip


def build_net() -> Inception3:
    """Inception v3 with random weights, in the published layout."""
    return Inception3()


LAYERS: dict[str, str] = {**{n: n for n in _TRUNK}, "logits": "fc"}
_MIXED = [n for n in _TRUNK if n.startswith("Mixed_")]
# Keras' names: mixed0 ... mixed10 are the eleven Mixed blocks in order.
ALIASES: dict[str, str] = {f"mixed{i}": n for i, n in enumerate(_MIXED)}
# The Keras Deep Dream example's setting {mixed2: 2, mixed3: 0.5, mixed4: 1, mixed5: 2}.
DEFAULT_LAYERS: dict[str, float] = {
    "Mixed_5d": 2.0,
    "Mixed_6a": 0.5,
    "Mixed_6b": 1.0,
    "Mixed_6c": 2.0,
}
DESCRIPTION = "Inception v3 (torchvision weights, ImageNet); Keras names mixed0..mixed10 work"


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
