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
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..errors import DreamError, quote

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

    def within(self, folder: str | os.PathLike) -> bool:
        """Whether an input is ``folder`` or lies inside it (a folder the run may clear)."""
        top = _resolved(folder)
        return any(p == top or p.startswith(top.rstrip(os.sep) + os.sep) for p in self._paths)


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


def _stale_temps(
    folder: Path, prefix: str, suffix: str, max_age: float
) -> Iterator[tuple[os.DirEntry, os.stat_result]]:
    """The ``prefix*suffix`` entries of ``folder`` (exactly the random part tempfile adds
    between) older than ``max_age`` seconds, with their own (not followed) stat."""
    cutoff = time.time() - max_age
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if not (name.startswith(prefix) and name.endswith(suffix)):
                continue
            if len(name) != len(prefix) + _RANDOM_CHARS + len(suffix):
                continue  # not one of ours: tempfile adds exactly 8 characters
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                if st.st_mtime < cutoff:
                    yield entry, st


def remove_stale_temps(
    folder: Path, prefix: str, suffix: str, max_age: float = STALE_TEMP_AGE_S
) -> int:
    """Remove ``prefix*suffix`` regular files in ``folder`` older than ``max_age`` seconds: what
    a killed run left. Returns how many went; a file that cannot be removed is left alone."""
    removed = 0
    for entry, st in _stale_temps(folder, prefix, suffix, max_age):
        if stat.S_ISREG(st.st_mode):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed += 1
    return removed


def remove_stale_temp_folders(
    folder: Path,
    prefix: str,
    suffix: str,
    is_ours: Callable[[str], bool],
    max_age: float = STALE_TEMP_AGE_S,
) -> int:
    """Remove ``prefix*suffix`` folders in ``folder`` older than ``max_age`` seconds that hold
    only files ``is_ours`` names (a killed run's half-written frame folder). Returns how many."""
    removed = 0
    for entry, st in _stale_temps(folder, prefix, suffix, max_age):
        if stat.S_ISDIR(st.st_mode):
            with contextlib.suppress(OSError, DreamError):
                clear_folder(Path(entry.path), is_ours, "temporary folder")
                os.rmdir(entry.path)
                removed += 1
    return removed


def clear_folder(folder: Path, is_ours: Callable[[str], bool], what: str = "folder") -> int:
    """Remove the files of ``folder`` that a run of ours wrote (regular files ``is_ours``
    names), leaving the folder. A folder that holds anything else is refused as a whole, before
    one file goes: only what the run itself wrote may be replaced. Returns how many went."""
    names = own_files(folder, is_ours, what)
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder / name)
    return len(names)


def own_files(folder: Path, is_ours: Callable[[str], bool], what: str = "folder") -> list[str]:
    """The names in ``folder`` (regular files that ``is_ours`` accepts); DreamError naming the
    first other entry (a user's file, a subfolder, a symlink) if there is one."""
    names: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not (is_ours(entry.name) and entry.is_file(follow_symlinks=False)):
                    raise DreamError(
                        f"{what} {folder} holds {quote(entry.name)}, which this run did not write; "
                        "choose another output"
                    )
                names.append(entry.name)
    except OSError as exc:
        raise DreamError(f"cannot read {what} {folder}: {exc.strerror or exc}") from None
    return sorted(names)


def publish(tmp: Path, out: Path, overwrite: bool) -> None:
    """Give a finished temporary file its name: a rename, or, where an existing file must not
    be replaced, a hard link (it fails if the name exists, atomically; the caller removes
    ``tmp``). Never over a folder, FIFO or device, whatever ``overwrite`` says."""
    if not overwrite:
        try:
            os.link(tmp, out)
            os.unlink(tmp)
            return
        except FileExistsError:
            raise output_exists(out) from None
        except OSError:  # no hard links here (FAT, some network shares): check, then rename
            if os.path.lexists(out):
                raise output_exists(out) from None
    check_replaceable(out, None, overwrite=True)
    os.replace(tmp, out)


def publish_folder(tmp: Path, out: Path, is_ours: Callable[[str], bool], overwrite: bool) -> None:
    """Put a finished temporary folder in place of ``out``: only a folder of files a run of ours
    wrote (names ``is_ours`` accepts) is replaced, and only with ``overwrite`` unless empty;
    never a folder holding anything else, a symlink, or a file."""
    if os.path.islink(out) or (os.path.lexists(out) and not out.is_dir()):
        raise DreamError(f"output {out} exists and is not a folder; choose another output")
    if out.is_dir():
        if own_files(out, is_ours, "output folder") and not overwrite:
            raise output_exists(out)
        clear_folder(out, is_ours, "output folder")
        try:
            os.rmdir(out)
        except OSError:  # a file appeared meanwhile: it stays, and so does the folder
            raise DreamError(f"output folder {out} is not empty; choose another output") from None
    os.replace(tmp, out)
