"""Process-wide speed settings in one place: how CPU threads wait, what the C allocator does
with freed memory during a dream, and cuDNN autotuning.

Measured in benchmarks/README.md. All are settings of the whole process, so the library applies
them only around a dream (``dreaming``) or, for OpenMP, before torch is imported.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

try:  # the CPU's instruction sets as NumPy detected them
    from numpy._core._multiarray_umath import __cpu_features__ as _NUMPY_CPU  # NumPy 2
except ImportError:
    try:
        from numpy.core._multiarray_umath import __cpu_features__ as _NUMPY_CPU  # NumPy 1
    except ImportError:
        _NUMPY_CPU = {}

import inceptionism.threads as cpu_threads

# cuDNN autotuning (times every conv algorithm once per new shape, then reuses the fastest).
# Off, torch's default, until the GPU suite shows it pays across a dream's few octave shapes
# (benchmarks/gpu_check.sh measures it; True here turns it on).
CUDNN_BENCHMARK = False


#: Spins an idle OpenMP thread makes before it sleeps (GNU OpenMP, which PyTorch's Linux builds
#: use; its default is 300000). The 2-core machine, default dream at 1024 px, wall seconds:
#: idle 8.2 (default) / 8.3 (this) / 12.0 (PASSIVE, no spin); with two busy processes beside it
#: 109 (default) / 18 to 21 (this) / 18.7 (PASSIVE). See benchmarks/README.md.
OMP_SPINCOUNT = "10000"


def short_omp_spin() -> bool:
    """Let idle OpenMP threads spin only briefly before they sleep (``GOMP_SPINCOUNT``).

    PyTorch's OpenMP threads spin between ops by default; on a machine whose cores are busy with
    other work (a shared machine, a laptop doing other things), spinning threads steal the cores
    the working thread needs and a dream gets five times slower. Sleeping at once
    (``OMP_WAIT_POLICY=PASSIVE``) fixes that but costs an idle machine 45%, as every op then
    wakes its threads; a short spin covers the gap between one op and the next. OpenMP reads this
    once, when torch is first imported, so it only applies when we get there first; an explicit
    ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` always wins. Returns whether it was set.
    """
    if "torch" in sys.modules or {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"} & os.environ.keys():
        return False
    os.environ["GOMP_SPINCOUNT"] = OMP_SPINCOUNT
    return True


short_omp_spin()  # on import: the package imports this module before anything imports torch

import torch  # noqa: E402  (after short_omp_spin: OpenMP reads GOMP_SPINCOUNT as torch loads)

# glibc mallopt parameters and their defaults.
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM, _DEFAULT_MMAP_MAX = 128 * 1024, 65536
_lock = threading.Lock()
_active = 0


def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


@contextlib.contextmanager
def keep_freed_memory() -> Iterator[None]:
    """Inside, glibc keeps freed memory for reuse instead of handing it back to the system.

    Every step of a dream allocates and frees the same large activation and gradient buffers;
    glibc serves big blocks with mmap and returns them on free, so each step page-faults them
    in afresh (up to a third of a step's time, all in the kernel). With mmap off and trimming
    raised, the second step on reuses the first one's memory. On exit (of the outermost use)
    the defaults come back and the spare memory is returned. Elsewhere than glibc: no-op.
    """
    global _active
    libc = _glibc()
    if libc is None:
        yield
        return
    with _lock:
        _active += 1
        if _active == 1:
            libc.mallopt(_M_MMAP_MAX, 0)
            libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
                libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM)
                libc.malloc_trim(0)


#: A dream of more pixels than this hands the memory its step freed back to the system after
#: every step (``trim_freed_memory``). Under ``keep_freed_memory`` the heap otherwise keeps
#: every free page of every step, and where a later step's buffers do not fit its holes it
#: grows: the whole 4000x2668 default dream peaked at 2447 and 2622 MiB in two runs. Trimmed,
#: the freed pages are dropped but the heap's layout is kept, so each step faults back in only
#: what it touches: 2160-2532 MiB, about as fast (349 s against 322-336 s for the whole dream;
#: 7.9-8.1 against 7.0-8.3 s a step in short runs; benchmarks/big_image.py, issue 20). Smaller
#: dreams keep their pages: there the faults are a real share of a step.
TRIM_ABOVE_PIXELS = 2_000_000


def trim_freed_memory() -> None:
    """Hand the heap's free pages back to the system now (glibc's ``malloc_trim``), keeping
    its layout; elsewhere than glibc: nothing."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


#: The x264 kernels to use on a CPU with AVX-512: all that such a CPU has (x264's names; each
#: brings those below it) but AVX-512. x264's AVX-512 code for the macroblock tree (its
#: lookahead's rate control) reads memory nobody wrote, so the same frames made different files,
#: each frame off by up to 25 levels, depending on what the process's heap held (a 96x72 clip:
#: 15 different files in 20 tries; 854x480: 8 in 8). Without it: one file every time, as fast
#: (1280x720: 1.68 against 1.74 s for 24 frames). Only where x264 would pick AVX-512 (its test:
#: F, CD, BW, DQ and VL), as those CPUs have every kernel named here.
X264_WITHOUT_AVX512 = "AVX2,SSE4.2,BMI2,LZCNT,SSE2Fast,Cache64"
_X264_AVX512 = ("AVX512F", "AVX512CD", "AVX512BW", "AVX512DQ", "AVX512VL")


def _cpu_features() -> dict[str, bool]:
    """The CPU's instruction sets as NumPy detected them ({} where it does not say)."""
    return dict(_NUMPY_CPU)


def x264_options() -> dict[str, str]:
    """libx264 options that make the same frames give the same file in every run and process
    (see ``X264_WITHOUT_AVX512``); none where x264 would not use AVX-512."""
    features = _cpu_features()
    if all(features.get(name) for name in _X264_AVX512):
        return {"x264-params": f"asm={X264_WITHOUT_AVX512}"}
    return {}


def configure(device: torch.device, cudnn_benchmark: bool | None = None) -> None:
    """Settings for dreaming on ``device``: cuDNN autotuning on CUDA (``CUDNN_BENCHMARK`` unless
    given). CPU threads stay torch's default, one per available core (the way to use the second
    core when it is free), except for small octaves (``threads_for``)."""
    if device.type == "cuda":
        on = CUDNN_BENCHMARK if cudnn_benchmark is None else cudnn_benchmark
        torch.backends.cudnn.benchmark = on
        # fp32 means fp32: cuDNN's default TF32 convolutions cost the fidelity bound (an H200
        # gave 44.5 dB against the plain reference with them); half precision is --precision.
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False


_forced: int | None = None  # --threads N: every dream of the process runs on N, no adapting
_replay: tuple[int, ...] | None = None  # --config-from: the recorded count of each octave


def set_threads(threads: int | None) -> None:
    """CPU threads for the network (``threads`` run option; None: torch's default, one per
    core, fewer when other work keeps cores busy). Given, every dream uses it as it is."""
    global _forced
    if threads:
        torch.set_num_threads(threads)
        _forced = threads


def replay_threads(schedule: Sequence[int] | None) -> None:
    """Every dream of the process runs its octaves on these thread counts (the ones a dream
    recorded in its metadata: oneDNN's sums depend on the count, so the same pixels need the
    same counts); None: choose them again."""
    global _replay
    _replay = tuple(schedule) if schedule else None


def user_threads() -> bool:
    """Whether the process's thread counts are the user's word (``--threads N``, or a dream's
    counts replayed by ``--config-from``): a clip's own record then yields to them."""
    return bool(_forced or _replay)


#: Octave pixels per CPU thread: an octave smaller than twice this runs on one thread, one of
#: twice this on two, and so on up to the thread setting. On an idle machine two threads win at
#: every octave size a dream has (inception-v3 at 111x198: 0.029 s a step against 0.042 on one;
#: EfficientNet-Lite0 at 32x48: 3 against 4 ms), so only the tiniest octaves, where the second
#: thread buys a few per cent of a few milliseconds, stay on one: on a busy machine those lose
#: most to OpenMP synchronising threads over hundreds of tiny ops (0.12 against 0.59 s at
#: 111x198 under load). Measured in benchmarks/README.md ("Threads per octave").
PIXELS_PER_THREAD = 10_000


def thread_count(shape: tuple[int, int], threads: int) -> int:
    """Threads worth using for an image of ``shape`` (H, W) when ``threads`` are allowed."""
    return max(1, min(threads, shape[0] * shape[1] // PIXELS_PER_THREAD))


_dreams = 0  # dreams running now on CPU threads of this process
_base_threads = 0  # the thread count they all run at (read when the first one starts)


@dataclass(frozen=True)
class ThreadPolicy:
    """How a dream picks each octave's CPU threads: ``forced`` (``--threads N``, fewer only on
    small octaves), ``schedule`` (a recorded dream's count per octave, replayed exactly), or
    neither: from the CPUs free now (``threads.free_cpus``), shared with this process's other
    dreams."""

    forced: int | None = None
    schedule: tuple[int, ...] | None = None


#: Threads for a dream's work outside its octaves' steps (resizing the photo to each octave,
#: adding back its lost detail): a few ops a dream, but bilinear resizing rounds its last bit
#: differently on one thread than on two, which twenty steps later is 20 levels. On a fixed
#: count, the pixels depend on the octaves' counts alone (what the metadata records).
BETWEEN_OCTAVES = 1


class OctaveThreads:
    """One dream's CPU threads: chosen at each octave's start, kept for the octave, recorded
    in ``used`` (one count per octave: what the metadata stores for ``--config-from``); the
    work between octaves runs on ``BETWEEN_OCTAVES``."""

    def __init__(self, policy: ThreadPolicy | None = None) -> None:
        self.policy = policy
        self.used: list[int] = []
        self.base = 0  # the process's count when the dream started (``dream_threads``)
        self.on_cpu = False

    def _count(self, index: int, shape: tuple[int, int]) -> int:
        policy = self.policy or ThreadPolicy(_forced, _replay)
        if policy.schedule:
            return policy.schedule[min(index, len(policy.schedule) - 1)]
        if policy.forced:
            return thread_count(shape, policy.forced)
        want = thread_count(shape, self.base)
        if want == 1:
            return 1
        with _lock:
            dreams = max(1, _dreams)
        return thread_count(shape, min(want, max(1, cpu_threads.free_cpus() // dreams)))

    @contextlib.contextmanager
    def octave(self, index: int, shape: tuple[int, int]) -> Iterator[None]:
        """Inside, octave ``index`` (0-based) of ``shape`` runs on its count."""
        if not self.on_cpu:
            yield
            return
        self.used.append(self._count(index, shape))
        self.hold()
        try:
            yield
        finally:
            _set_count(BETWEEN_OCTAVES)

    def hold(self) -> None:
        """The calling thread at the octave's count: a generator may be resumed on another
        thread (Gradio does), and OpenMP counts are per thread."""
        if self.on_cpu and self.used:
            _set_count(self.used[-1])


def threads_flag(used: Sequence[int], shapes: Sequence[tuple[int, int]]) -> int | None:
    """The ``--threads N`` that runs octaves of ``shapes`` on the counts ``used`` (a dream's
    record), so a command line repeats its pixels; None where no N does (the load changed
    between octaves: then only ``--config-from`` the dream repeats it)."""
    if not used or len(used) != len(shapes):
        return None
    n = max(used)
    return n if [thread_count(s, n) for s in shapes] == list(used) else None


def _set_count(count: int) -> None:
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)


@contextlib.contextmanager
def dream_threads(
    device: torch.device, plan: OctaveThreads | None = None
) -> Iterator[OctaveThreads]:
    """Around a whole dream: yields ``plan`` (a new one if None), which picks each octave's count
    from the process's thread count (``base``), whatever happened before; the work between
    octaves runs on ``BETWEEN_OCTAVES``, and ``base`` comes back at the end.

    ``torch.set_num_threads`` sets the calling thread's OpenMP count and also a process-wide
    value that a new thread copies at its first op. A dream started in a new thread while another
    is inside ``threads_for`` would copy the other's reduced count, and some ops sum in a
    different order on a different number of threads: the same dream, other pixels. Here every
    dream sets its own thread's count from one value read while no dream ran, so two dreams at
    once give the pixels they give one after the other. Off the CPU: no change.
    """
    global _dreams, _base_threads
    plan = plan or OctaveThreads()
    if device.type != "cpu":
        plan.base = torch.get_num_threads()
        yield plan
        return
    with _lock:
        if _dreams == 0:
            _base_threads = torch.get_num_threads()
        _dreams += 1
        base = _base_threads
    torch.set_num_threads(BETWEEN_OCTAVES)  # until the first octave starts
    plan.base, plan.on_cpu = base, True
    try:
        yield plan
    finally:
        torch.set_num_threads(base)
        with _lock:
            _dreams -= 1


@contextlib.contextmanager
def threads_for(shape: tuple[int, int], device: torch.device, base: int) -> Iterator[None]:
    """Inside, the CPU runs an image of ``shape`` on ``thread_count`` threads of ``base`` (from
    ``dream_threads``); ``base`` comes back on exit. No-op off the CPU."""
    want = thread_count(shape, base) if device.type == "cpu" else base
    if want == base:
        yield
        return
    torch.set_num_threads(want)
    try:
        yield
    finally:
        torch.set_num_threads(base)
