"""The CPU threads each octave of each frame of a clip ran on, kept in its work folder.

oneDNN's sums depend on the thread count, so a frame dreamed on other counts has other pixels,
and every later frame carries them on. A clip's frames choose their counts from the CPUs free
when each octave starts (``runtime.OctaveThreads``), and this record (``threads.json``, written
before each frame's PNG) keeps them: a run that continues the clip dreams a frame it holds again
on its own counts (a frame whose PNG was lost), and the frames it holds none for choose from
the CPUs free now and are recorded too. So the finished record reproduces the clip byte for
byte under any load (keep the work folder, delete the PNGs, run again), while a resumed run's
new frames fit the load they meet: pinning them to the interrupted run's counts cost 2.0-2.5x
a frame beside a busy neighbour (``benchmarks/resume_threads.py``).

On disk, runs of frames that used the same counts: ``{"version": 1, "runs": [[12, [1, 2]],
[3, [1, 1]]]}`` (an empty list: a frame with no counts, dreamed off the CPU or by an older
version). It is read back as untrusted data: anything else is a one-line error.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inceptionism.errors import DreamError
from inceptionism.threads import thread_schedule
from inceptionism.video.outputs import write_json_atomic

RECORD_FILE = "threads.json"
RECORD_VERSION = 1
#: A clip's record is 10-20 bytes per change of counts (a million frames that each changed
#: them fit); a bigger file is not one of ours.
RECORD_MAX_BYTES = 16 << 20
#: Most frames a record may cover (46 hours at 60 fps; a crafted run of more is refused, not
#: unpacked into memory).
RECORD_MAX_FRAMES = 10_000_000

Counts = tuple[int, ...]


class ThreadRecord:
    """The counts of each frame of a clip (``()``: none recorded), and the schedule a frame
    dreamed again replays: its own counts where recorded."""

    def __init__(self, frames: Sequence[Counts] = ()) -> None:
        self.frames: list[Counts] = list(frames)

    def schedule_for(self, index: int) -> Counts | None:
        """The counts frame ``index`` is dreamed on (None: none recorded, so chosen from the CPUs
        free now, as a fresh run's frames are)."""
        if index < len(self.frames) and self.frames[index]:
            return self.frames[index]
        return None

    def add(self, index: int, counts: Sequence[int]) -> None:
        """Frame ``index`` used ``counts`` (frames before it with none recorded get ``()``)."""
        if index >= len(self.frames):
            self.frames.extend([()] * (index + 1 - len(self.frames)))
        self.frames[index] = tuple(int(n) for n in counts)

    def runs(self) -> list[list[Any]]:
        """Run-length form: ``[frames, counts]`` for each stretch of frames on the same counts."""
        out: list[list[Any]] = []
        for counts in self.frames:
            if out and tuple(out[-1][1]) == counts:
                out[-1][0] += 1
            else:
                out.append([1, list(counts)])
        return out

    def save(self, work: Path) -> None:
        """Written atomically into ``work`` (not at all while no frame has counts: a GPU run)."""
        if any(self.frames):
            record = {"version": RECORD_VERSION, "runs": self.runs()}
            write_json_atomic(work / RECORD_FILE, record, indent=None)  # 10-20 bytes a run

    @classmethod
    def from_json(cls, data: Any, label: str) -> ThreadRecord:
        """The record in ``data`` (untrusted), checked; one line naming ``label`` otherwise."""
        runs = data.get("runs") if isinstance(data, dict) else None
        if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
            raise _bad(label, f"not a version {RECORD_VERSION} thread record")
        if not isinstance(runs, list):
            raise _bad(label, "no list of runs")
        frames: list[Counts] = []
        for run in runs:
            if not (isinstance(run, list) and len(run) == 2 and isinstance(run[1], list)):
                raise _bad(label, "a run is not [frames, [counts]]")
            n = run[0]
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise _bad(label, f"a run of {str(n)[:20]!r} frames")
            if len(frames) + n > RECORD_MAX_FRAMES:
                raise _bad(label, f"more than {RECORD_MAX_FRAMES:,} frames")
            try:
                counts = thread_schedule(run[1]) if run[1] else ()
            except DreamError as e:
                raise _bad(label, e.message) from None
            frames.extend([counts] * n)
        return cls(frames)

    @classmethod
    def read(cls, work: Path) -> ThreadRecord:
        """The record in ``work`` (empty where there is none); a file that is not a plain one of
        at most ``RECORD_MAX_BYTES`` holding a record is a one-line error."""
        path = work / RECORD_FILE
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return cls()
        except OSError as e:
            raise _bad(path, e.strerror or "unreadable") from e
        if not stat.S_ISREG(st.st_mode) or st.st_size > RECORD_MAX_BYTES:
            raise _bad(path, f"not a plain file of at most {RECORD_MAX_BYTES:,} bytes")
        try:
            with open(path, "rb") as fh:
                data = json.loads(fh.read(RECORD_MAX_BYTES + 1))
        except (OSError, ValueError, RecursionError) as e:
            raise _bad(path, "not JSON") from e
        return cls.from_json(data, str(path))


def _bad(label: str | Path, why: str) -> DreamError:
    return DreamError(
        f"{label}: {why}", hint="remove it to choose the threads of the frames left afresh"
    )
