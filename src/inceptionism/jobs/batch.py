"""``deepdream dream`` on many inputs: files, folders and glob patterns.

A batch is several inputs, or any folder or glob pattern (quote it, so that we expand it:
``'photos/*.jpg'``, ``'**/*.png'``). Each input dreams exactly as a single one would; a bad file
is reported in one line and skipped, the rest are done, and a final line sums up (exit 1 if
anything failed). Outputs go beside the inputs, or into the ``-o`` folder (created if missing);
an output that already exists is skipped, so an interrupted batch resumes where it stopped
(unless the run says to overwrite). Our own outputs (``*.dream.*``) are never picked up from folders
or patterns.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from tqdm import tqdm

from inceptionism.errors import (
    DreamError,
    OptionError,
    Spelling,
    literal,
    python_spelling,
    quote,
    user_error,
)
from inceptionism.io import SUPPORTED_OUTPUT, default_output_path
from inceptionism.io.files import RunInputs, numbered
from inceptionism.io.images import _INPUT_FORMATS

EXIT_ERROR = 1
_MAGIC = re.compile(r"[*?[]")


def _is_pattern(arg: str) -> bool:
    return bool(_MAGIC.search(arg)) and not os.path.lexists(arg)


def is_batch(inputs: Sequence[str]) -> bool:
    """Several inputs, a folder or a glob pattern; one plain path is a single dream."""
    return len(inputs) > 1 or any(Path(a).is_dir() or _is_pattern(a) for a in inputs)


@dataclass(frozen=True)
class BatchRun:
    """A batch as its front end asked for it: the inputs (files, folders, patterns), the
    output folder (None: beside each input), and how the front end names options."""

    inputs: tuple[str, ...]
    output: str | None
    overwrite: bool
    quiet: bool
    reads: RunInputs  # every file the run reads besides the inputs: never written over
    spell: Spelling = python_spelling


def _image_suffixes() -> set[str]:
    return {ext for ext, fmt in Image.registered_extensions().items() if fmt in _INPUT_FORMATS}


_OURS = re.compile(r"\.dream(-\d+)?$")


def _ours(path: Path) -> bool:
    """A dream we wrote (``photo.dream.png``, ``photo.dream-2.png``): not an input when scanning
    folders or patterns."""
    return bool(_OURS.search(path.stem))


def _hidden(path: Path) -> bool:
    """``.hidden.png`` and macOS's ``._photo.jpg`` companions: never picked up by a scan."""
    return path.name.startswith(".")


def _scan_folder(folder: Path, suffixes: set[str]) -> list[Path]:
    return sorted(
        f
        for f in folder.iterdir()
        if f.suffix.lower() in suffixes and not _hidden(f) and not _ours(f) and f.is_file()
    )


def _glob(pattern: str) -> list[Path]:
    """The files that ``pattern`` matches. ``**`` descends into real folders only: a symlink to
    a folder (``ln -s . loop``) is not followed, so a link back up cannot make it endless.
    Hidden files and folders are skipped."""
    if "**" not in pattern:
        return [Path(f) for f in glob.glob(pattern)]
    parts = Path(pattern).parts
    fixed = next(i for i, part in enumerate(parts) if _MAGIC.search(part))
    root = Path(*parts[:fixed]) if fixed else Path()
    wanted = parts[fixed:]
    found = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel = Path(folder).relative_to(root).parts if Path(folder) != root else ()
        for name in names:
            if not name.startswith(".") and _match((*rel, name), wanted):
                found.append(Path(folder) / name)
    return found


def _match(parts: Sequence[str], wanted: Sequence[str]) -> bool:
    """Whether path ``parts`` match pattern parts, ``**`` standing for any number of folders."""
    if not wanted:
        return not parts
    if wanted[0] == "**":
        return _match(parts, wanted[1:]) or (bool(parts) and _match(parts[1:], wanted))
    return bool(parts) and fnmatch.fnmatch(parts[0], wanted[0]) and _match(parts[1:], wanted[1:])


def expand(inputs: Sequence[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """(files in order, each once; [(input, problem)] for folders/patterns that gave none)."""
    suffixes = _image_suffixes()
    files: list[Path] = []
    problems: list[tuple[str, str]] = []
    for arg in inputs:
        p = Path(arg)
        if p.is_dir():
            found = _scan_folder(p, suffixes)
            if not found:
                problems.append((arg, f"no images in folder {arg}"))
        elif _is_pattern(arg):
            found = sorted(_glob(arg))
            found = [f for f in found if f.is_file() and not _ours(f) and not _hidden(f)]
            if not found:
                problems.append((arg, f"no files match {quote(arg)}"))
        else:
            found = [p]  # named explicitly: taken as is, a bad one is reported when read
        files.extend(found)
    seen: set[str] = set()
    unique = []
    for f in files:
        key = os.path.normcase(os.path.realpath(f))  # the same file by two names counts once
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, problems


def output_folder(path: str) -> Path:
    """The output folder of a batch, created (with its parents) if missing."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OptionError(
            f"output {literal(out)} is a file; with several inputs {{output}} names a folder"
        )
    if not out.exists() and out.suffix.lower() in SUPPORTED_OUTPUT:
        raise OptionError(
            f"{{output}} {literal(out)} looks like an image file, but with several inputs "
            f"{{output}} names a folder (give a folder name, such as "
            f"{literal(out.with_suffix(''))})"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DreamError(f"cannot create output folder {out}: {e.strerror or e}") from None
    return out


def plan(
    files: Sequence[Path], folder: Path | None, inputs: RunInputs | None = None
) -> list[tuple[Path, Path]]:
    """(input, output) pairs. Each output name is distinct, and none is an input of the run:
    two inputs that would share one (``p.png``, ``p.jpg``) get ``p.dream.png`` and
    ``p.dream-2.png``. The names do not depend on which outputs exist, so a rerun finds its
    finished outputs under the same names (and skips them)."""
    inputs = inputs if inputs is not None else RunInputs(files)
    pairs: list[tuple[Path, Path]] = []
    taken: set[str] = set()
    for f in files:
        base = default_output_path(f)
        if folder is not None:
            base = folder / base.name
        out, n = base, 2
        while os.path.normcase(os.path.abspath(out)) in taken or out in inputs:
            out, n = numbered(base, n), n + 1
        taken.add(os.path.normcase(os.path.abspath(out)))
        pairs.append((f, out))
    return pairs


def describe(e: BaseException, spell: Spelling = python_spelling) -> str | None:
    """The one-line message for an error that concerns one input (None: not one of those),
    its options named by ``spell`` (the front end's)."""
    error = user_error(e)
    return None if error is None else error.render(spell)


def progress_bar(
    total: int | None, quiet: bool, unit: str, desc: str, initial: int = 0, steady: bool = False
) -> Any:
    """The bar a many-item run (a batch, a clip on Ray) shows on stderr; none with ``quiet``.
    ``steady``: rate and ETA from the whole run's average, for items that come in bursts (on
    Ray, several at once after a wait): the last burst's rate would swing the ETA wildly."""
    return tqdm(
        total=total,
        initial=initial,
        disable=quiet,
        unit=unit,
        desc=desc,
        file=sys.stderr,
        dynamic_ncols=True,
        smoothing=0 if steady else 0.3,
    )


def run_batch(run: BatchRun, dream_one: Callable[[Path, Path], object]) -> int:
    """Dream every input with ``dream_one(input, output)`` (the settings made and checked
    beforehand, once); returns the exit code."""
    files, problems = expand(run.inputs)
    folder = output_folder(run.output) if run.output and files else None
    for f in files:
        run.reads.add(f)
    pairs = plan(files, folder, run.reads)
    failed = [name for name, _ in problems]
    for _, message in problems:
        print(f"deepdream: error: {message}", file=sys.stderr)
    if not pairs:
        return EXIT_ERROR
    done = skipped = 0
    with progress_bar(len(pairs), run.quiet, "file", "batch") as bar:
        for src, out in pairs:
            if out.exists() and not run.overwrite:
                skipped += 1
            else:
                try:
                    dream_one(src, out)
                    done += 1
                except (DreamError, OSError, MemoryError, RuntimeError) as e:
                    message = describe(e, run.spell)
                    if message is None:
                        raise
                    tqdm.write(f"deepdream: error: {message}", file=sys.stderr)
                    failed.append(str(src))
            bar.update(1)
    total = len(pairs) + len(problems)
    if failed or not run.quiet:
        line = summary(done, skipped, failed, run.spell)
        print(f"deepdream: {total} inputs: {line}", file=sys.stderr)
    return EXIT_ERROR if failed else 0


def summary(
    done: int, skipped: int, failed: Sequence[str], spell: Spelling = python_spelling
) -> str:
    """The end of a batch's last line (every executor's): what was done, skipped, failed."""
    parts = [f"{done} dreamed"]
    if skipped:
        parts.append(f"{skipped} skipped (output exists; {spell('overwrite', '')} redoes it)")
    if failed:
        parts.append(f"{len(failed)} failed: {', '.join(failed)}")
    return ", ".join(parts)
