"""The Inception blocks' shared parts: the conv-norm-ReLU unit, the stem's ReLU moved after its
pool, and branches whose opening 1x1 convs run as one conv when dreaming."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from .taps import has_tap, tapped_below


class BasicConv2d(nn.Module):
    """Convolution (no bias) + batch norm (TF's eps 0.001) + ReLU: torchvision's Inception unit.

    The ReLU is not in place: a hook on any sub-module must see its own output, not one that a
    later in-place op overwrote.
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.pre_activation(x))

    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


def relu_after_pool(block: BasicConv2d, pool: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``pool(block(x))`` for a max pool after a conv-norm-ReLU block, with the ReLU moved after
    the pool: max and ReLU commute, value and gradient to the bit, and the ReLU then runs on a
    quarter of the pixels (the largest activations of the network, at the stem). A block or pool
    with a tap runs as written, so its hook sees its own output."""
    if has_tap(pool) or has_tap(block) or tapped_below(block):
        return pool(block(x))
    return torch.relu(pool(block.pre_activation(x)))


Pool = Callable[[torch.Tensor], torch.Tensor]


class PointwiseHeads(nn.Module):
    """The 1x1 convs (batch norms folded, each followed by a ReLU) that open several branches of
    a block on the block's input, run as one conv whose output is split back (for dreaming).

    One wider GEMM forward and backward instead of several narrow ones, and the input's gradient
    comes out of it whole instead of being summed from each branch (Inception v3 at 1024x575:
    about 7% of a step). ``pool``, a linear pool (an average) that the last branch applies
    before its conv: the two commute, so that branch's far fewer output channels are pooled
    after the conv, with its bias added after the pool. The same sums, to float32 rounding.
    """

    def __init__(self, convs: Sequence[nn.Conv2d], pool: Pool | None) -> None:
        super().__init__()
        plain = ((1, 1), (1, 1), (0, 0), (1, 1), 1)
        if any((c.kernel_size, c.stride, c.padding, c.dilation, c.groups) != plain for c in convs):
            raise ValueError("only plain 1x1 convs can share their input")
        if len({c.in_channels for c in convs}) != 1:
            raise ValueError("convs of different input widths")
        self.sizes = [c.out_channels for c in convs]
        zero = convs[0].weight.new_zeros
        bias = torch.cat([zero(c.out_channels) if c.bias is None else c.bias for c in convs])
        bias = bias.detach().clone()
        self.pool = pool
        if pool is not None:  # the pooled branch's bias goes after the pool
            pooled = bias[-self.sizes[-1] :]
            self.pool_bias = nn.Parameter(pooled.view(1, -1, 1, 1).clone(), requires_grad=False)
            pooled.zero_()
        weight = torch.cat([c.weight.detach() for c in convs])
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.bias = nn.Parameter(bias, requires_grad=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        parts = list(torch.split(nn.functional.conv2d(x, self.weight, self.bias), self.sizes, 1))
        if self.pool is not None:
            parts[-1] = self.pool(parts[-1]) + self.pool_bias
        return [torch.relu(p) for p in parts]


class SharedInputBranches(nn.Module):
    """A block whose branches open with 1x1 convs (conv, batch norm, ReLU modules) on its input.

    ``heads(x)`` gives those openings' outputs, by running each as published or, once
    ``for_dreaming`` has folded them into one ``PointwiseHeads``, in one conv. A block tapped
    anywhere inside runs as published, so every module's hook still sees its own output.
    """

    head_names: tuple[str, ...] = ()  # module paths of the opening convs' modules
    head_pool: Pool | None = None  # what the last head's branch applies before its conv

    def merged_heads(self) -> PointwiseHeads | None:
        """The merged heads, when set up and no module inside the block is tapped."""
        merged = self._modules.get("pointwise_heads")
        if merged is None or tapped_below(self):
            return None
        return merged  # type: ignore[return-value]

    def heads(self, x: torch.Tensor) -> list[torch.Tensor]:
        merged = self.merged_heads()
        if merged is not None:
            return merged(x)
        mods = [self.get_submodule(n) for n in self.head_names]
        if self.head_pool is None:
            return [m(x) for m in mods]
        return [m(x) for m in mods[:-1]] + [mods[-1](self.head_pool(x))]

    def for_dreaming(self) -> None:
        """Run the heads as one conv (their batch norms are folded by now)."""
        convs = [self.get_submodule(f"{n}.conv") for n in self.head_names]
        self.pointwise_heads = PointwiseHeads(convs, self.head_pool)  # type: ignore[arg-type]
