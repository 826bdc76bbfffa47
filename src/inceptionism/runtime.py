"""Process-wide speed settings in one place: how CPU threads wait, and cuDNN autotuning.

Measured in benchmarks/README.md. Both are settings of the whole process, so the library only
applies them on the way into a dream (``configure``) or, for OpenMP, before torch is imported.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported lazily: passive_omp_wait must run before it
    import torch

# cuDNN autotuning pays for itself when a dream runs many steps per octave shape (it times every
# conv algorithm once per new shape, then reuses the fastest).
CUDNN_BENCHMARK = True


def passive_omp_wait() -> bool:
    """Let idle OpenMP threads sleep rather than spin (``OMP_WAIT_POLICY=PASSIVE``).

    PyTorch's OpenMP threads spin between ops by default; on a machine whose cores are busy with
    other work (a shared or small laptop), spinning threads steal the cores the working thread
    needs and a dream step gets several times slower. Sleeping costs a few microseconds per op on
    an idle machine. OpenMP reads this once, when torch is first imported, so it only applies
    when we get there first; an explicit ``OMP_WAIT_POLICY`` always wins. Returns whether set.
    """
    if "torch" in sys.modules or "OMP_WAIT_POLICY" in os.environ:
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


passive_omp_wait()  # on import: the package imports this module before anything imports torch


def configure(device: torch.device, cudnn_benchmark: bool | None = None) -> None:
    """Settings for dreaming on ``device``: cuDNN autotuning on CUDA (``CUDNN_BENCHMARK`` unless
    given). CPU threads stay torch's default, one per available core (measured best)."""
    if device.type == "cuda":
        import torch

        on = CUDNN_BENCHMARK if cudnn_benchmark is None else cudnn_benchmark
        torch.backends.cudnn.benchmark = on
