"""The file-system rules of a run: what an output may never replace, and how it is named.

A run never writes over one of its own inputs (compared by resolved path and by device and
inode, so hard links and symlinks count), never over something that is not a regular file (a
device node, a FIFO), and never over an existing output unless asked (``--overwrite``). Its
temporary files stay within the file system's name limit, and those a killed run left behind
are removed by the next run that writes the same file, once no live run could still own them.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Iterable
from pathlib import Path

from ..errors import DreamError

#: The longest file name (in bytes) most file systems allow; used where the folder cannot say.
NAME_MAX = 255
#: A temporary file older than this is left over from a killed run: a live run writes its
#: temporary output within seconds of creating it (a weights download within minutes).
STALE_TEMP_AGE_S = 3600
#: What ``tempfile`` adds to a prefix: 8 random characters.
_RANDOM_CHARS = 8
OUTPUT_TEMP_SUFFIX = ".tmp"


class RunInputs:
    """Every file a run reads (images, guide, settings and weights files): never an output."""

    def __init__(self, paths: Iterable[str | os.PathLike | None] = ()) -> None:
        self._paths: set[str] = set()
        self._ids: set[tuple[int, int]] = set()
        for p in paths:
            if p is not None:
                self.add(p)

    def add(self, path: str | os.PathLike) -> None:
        self._paths.add(_resolved(path))
        with contextlib.suppress(OSError, ValueError):
            st = os.stat(path)
            self._ids.add((st.st_dev, st.st_ino))

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, (str, os.PathLike)):
            return False
        if _resolved(path) in self._paths:
            return True
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            return False
        return (st.st_dev, st.st_ino) in self._ids


def _resolved(path: str | os.PathLike) -> str:
    try:
        return os.path.normcase(os.path.realpath(path))
    except (OSError, ValueError):
        return os.path.normcase(os.path.abspath(path))


def numbered(base: Path, n: int) -> Path:
    """``photo.dream.png`` -> ``photo.dream-2.png``: the n-th name for the same output."""
    return base.with_name(f"{base.stem}-{n}{base.suffix}")


def next_free(
    base: Path, taken: Iterable[str | os.PathLike] = (), inputs: RunInputs | None = None
) -> Path:
    """``base`` or the first numbered name after it that no file, input or ``taken`` name has."""
    used = {_resolved(t) for t in taken}
    out, n = base, 2
    while os.path.lexists(out) or _resolved(out) in used or (inputs is not None and out in inputs):
        out = numbered(base, n)
        n += 1
    return out


def check_replaceable(out: Path, inputs: RunInputs | None, overwrite: bool) -> None:
    """Refuse an output that is an input, not a regular file, or exists without ``overwrite``."""
    if inputs is not None and out in inputs:
        raise DreamError(
            f"output {out} is an input of this run; choose another output so that it is not "
            "overwritten"
        )
    try:
        st = os.stat(out)
    except FileNotFoundError:
        if os.path.islink(out):
            raise DreamError(f"output {out} is a dangling symlink; remove it first") from None
        return
    except OSError:
        return  # reported when the folder is checked or written
    if stat.S_ISDIR(st.st_mode):
        raise DreamError(f"output {out} is a folder; give a file name such as {out / 'dream.png'}")
    if not stat.S_ISREG(st.st_mode):
        raise DreamError(f"output {out} exists and is not a regular file (a device or a FIFO?)")
    if not overwrite:
        raise output_exists(out)


def output_exists(out: Path) -> DreamError:
    """The one error for an existing output that may not be replaced."""
    return DreamError(f"output {out} exists", hint="pass {overwrite} to replace it")


def name_max(folder: Path) -> int:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    return NAME_MAX


def check_name_length(out: Path) -> None:
    limit = name_max(out.parent)
    size = len(os.fsencode(out.name))
    if size > limit:
        raise DreamError(
            f"output name is {size} bytes long; the folder {out.parent} allows at most {limit}"
        )


def temp_prefix(name: str, suffix: str, folder: Path | None = None) -> str:
    """``.NAME.`` for a temporary file of ``NAME``: cut so that prefix + random + ``suffix`` fit
    the name limit (a legal 250-byte output name must still get a temporary file)."""
    limit = name_max(folder) if folder is not None else NAME_MAX
    budget = limit - 2 - _RANDOM_CHARS - len(os.fsencode(suffix))
    raw = os.fsencode(name)
    if len(raw) > budget:
        name = os.fsdecode(raw[:budget].decode("utf-8", "ignore").encode("utf-8"))
    return f".{name}."


def remove_stale_temps(
    folder: Path, prefix: str, suffix: str, max_age: float = STALE_TEMP_AGE_S
) -> int:
    """Remove ``prefix*suffix`` regular files in ``folder`` older than ``max_age`` seconds: what
    a killed run left. Returns how many went; a file that cannot be removed is left alone."""
    cutoff = time.time() - max_age
    removed = 0
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if not (name.startswith(prefix) and name.endswith(suffix)):
                continue
            if len(name) != len(prefix) + _RANDOM_CHARS + len(suffix):
                continue  # not one of ours: tempfile adds exactly 8 characters
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(st.st_mode) and st.st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
    return removed
