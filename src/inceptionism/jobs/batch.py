"""``deepdream dream`` on many inputs: files, folders and glob patterns.

A batch is several inputs, or any folder or glob pattern (quote it, so that we expand it:
``'photos/*.jpg'``, ``'**/*.png'``). Each input dreams exactly as a single one would; a bad file
is reported in one line and skipped, the rest are done, and a final line sums up (exit 1 if
anything failed). Outputs go beside the inputs, or into the ``-o`` folder (created if missing);
an output that already exists is skipped, so an interrupted batch resumes where it stopped
(``--overwrite`` redoes them). Our own outputs (``*.dream.*``) are never picked up from folders
or patterns.
"""

from __future__ import annotations

import argparse
import copy
import glob
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from inceptionism.errors import DreamError, user_error

EXIT_ERROR = 1
_MAGIC = re.compile(r"[*?[]")


def _is_pattern(arg: str) -> bool:
    return bool(_MAGIC.search(arg)) and not os.path.lexists(arg)


def is_batch(inputs: Sequence[str]) -> bool:
    """Several inputs, a folder or a glob pattern; one plain path is a single dream."""
    return len(inputs) > 1 or any(Path(a).is_dir() or _is_pattern(a) for a in inputs)


def _image_suffixes() -> set[str]:
    from PIL import Image

    from inceptionism.io.images import _INPUT_FORMATS

    return {ext for ext, fmt in Image.registered_extensions().items() if fmt in _INPUT_FORMATS}


def _ours(path: Path) -> bool:
    """A dream we wrote (``photo.dream.png``): not an input when scanning folders or patterns."""
    return ".dream" in path.suffixes[-2:-1]


def expand(inputs: Sequence[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """(files in order, each once; [(input, problem)] for folders/patterns that gave none)."""
    suffixes = _image_suffixes()
    files: list[Path] = []
    problems: list[tuple[str, str]] = []
    for arg in inputs:
        p = Path(arg)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in suffixes and f.is_file())
            found = [f for f in found if not _ours(f)]
            if not found:
                problems.append((arg, f"no images in folder {arg}"))
        elif _is_pattern(arg):
            found = [Path(f) for f in sorted(glob.glob(arg, recursive=True))]
            found = [f for f in found if f.is_file() and not _ours(f)]
            if not found:
                problems.append((arg, f"no files match {arg!r}"))
        else:
            found = [p]  # named explicitly: taken as is, a bad one is reported when read
        files.extend(found)
    seen: set[str] = set()
    unique = []
    for f in files:
        key = os.path.normcase(os.path.abspath(f))
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, problems


def output_folder(path: str) -> Path:
    """The ``-o`` folder of a batch, created (with its parents) if missing."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise DreamError(f"output {out} is a file; with several inputs -o names a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DreamError(f"cannot create output folder {out}: {e.strerror or e}") from None
    return out


def plan(
    files: Sequence[Path], folder: Path | None
) -> tuple[list[tuple[Path, Path]], list[tuple[str, str]]]:
    """(input, output) pairs; an input whose output another input already has is a problem."""
    from inceptionism.io import default_output_path

    pairs: list[tuple[Path, Path]] = []
    problems: list[tuple[str, str]] = []
    owner: dict[str, Path] = {}
    for f in files:
        out = default_output_path(f)
        if folder is not None:
            out = folder / out.name
        key = os.path.normcase(os.path.abspath(out))
        if key in owner:
            problems.append(
                (str(f), f"{f}: its output {out} is also the output of {owner[key]}; skipped")
            )
            continue
        owner[key] = f
        pairs.append((f, out))
    return pairs, problems


def describe(e: BaseException) -> str | None:
    """The one-line message for an error that concerns one input (None: not one of those)."""
    from inceptionism.options import cli_spelling

    error = user_error(e)
    return None if error is None else error.render(cli_spelling)


def run_batch(
    args: argparse.Namespace,
    settings: Callable[[argparse.Namespace], Any],
    dream_one: Callable[[argparse.Namespace, Any], int],
) -> int:
    """Dream every input with the same settings; returns the exit code."""
    from tqdm import tqdm

    chosen = settings(args)  # bad options fail once, before any work
    files, problems = expand(args.input)
    folder = output_folder(args.output) if args.output and files else None
    pairs, clashes = plan(files, folder)
    problems += clashes
    failed = [name for name, _ in problems]
    for _, message in problems:
        print(f"deepdream: error: {message}", file=sys.stderr)
    if not pairs:
        return EXIT_ERROR
    done = skipped = 0
    with tqdm(
        total=len(pairs),
        disable=args.quiet,
        unit="file",
        desc="batch",
        file=sys.stderr,
        dynamic_ncols=True,
    ) as bar:
        for src, out in pairs:
            if out.exists() and not args.overwrite:
                skipped += 1
            else:
                one = copy.copy(args)
                one.input, one.output = str(src), str(out)
                try:
                    dream_one(one, chosen)
                    done += 1
                except (DreamError, OSError, MemoryError, RuntimeError) as e:
                    message = describe(e)
                    if message is None:
                        raise
                    tqdm.write(f"deepdream: error: {message}", file=sys.stderr)
                    failed.append(str(src))
            bar.update(1)
    total = len(pairs) + len(problems)
    if failed or not args.quiet:
        print(f"deepdream: {total} inputs: {summary(done, skipped, failed)}", file=sys.stderr)
    return EXIT_ERROR if failed else 0


def summary(done: int, skipped: int, failed: Sequence[str]) -> str:
    """The end of a batch's last line (every executor's): what was done, skipped, failed."""
    parts = [f"{done} dreamed"]
    if skipped:
        parts.append(f"{skipped} skipped (output exists; --overwrite redoes it)")
    if failed:
        parts.append(f"{len(failed)} failed: {', '.join(failed)}")
    return ", ".join(parts)
