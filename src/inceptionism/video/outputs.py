"""Where ``deepdream video`` and ``zoom`` write, and what they refuse to write over.

A run writes its output (a file, or a folder of ``frame_NNNNNN.png``) and, for a video, a work
folder beside it (``NAME.frames``: ``state.json``, ``threads.json`` and one PNG per dreamed
frame). Neither may be
an input or hold one, whatever the flags; ``--overwrite`` replaces only what such a run writes:
never a folder that holds anything else, never a FIFO or a device. What a resumed run finds in
its work folder is untrusted data: a state file that cannot be read is ignored (with a note, the
frames are dreamed afresh) and a frame file is opened only if it is a plain file of the right
size.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from inceptionism.errors import DreamError
from inceptionism.io import files
from inceptionism.io import video as vio
from inceptionism.io.files import RunInputs

STATE_FILE = "state.json"
#: A settings record is a few kB; a bigger file is not one of ours.
STATE_MAX_BYTES = 1 << 20
#: What a run puts in its work folder: the state, dreamed frames, the threads each frame ran on
#: (``thread_record``), their temporary files.
WORK_FILE = re.compile(r"\.?(\d{6,}\.png|state\.json|threads\.json)(\.[a-z0-9_]{8}\.tmp)?")

Notify = Callable[[str], None]


def work_folder(output: str | os.PathLike) -> Path:
    """Where the frames of ``output`` are kept until it is complete: beside it."""
    out = Path(output)
    return out.with_name(out.name + ".frames")


def frame_path(work: Path, index: int) -> Path:
    return work / f"{index + 1:06d}.png"


def run_inputs(
    source: str | os.PathLike | None,
    config: Any = None,
    weights: str | os.PathLike | None = None,
    reads: Iterable[str | os.PathLike | None] = (),
) -> RunInputs:
    """Every file a video or zoom run reads (input, guide, own model, weights, settings files):
    none of them may be written over, whatever the flags."""
    inputs = RunInputs([source, weights, *reads])
    guide = getattr(config, "guide", None)
    if isinstance(guide, (str, os.PathLike)):
        inputs.add(guide)
    module = str(getattr(config, "model", "") or "").rpartition(":")[0]
    if module.endswith(".py"):
        inputs.add(module)
    return inputs


def check_output(
    output: str | os.PathLike,
    source: str | os.PathLike,
    overwrite: bool,
    inputs: RunInputs | None = None,
) -> Path:
    """The output, checked before the slow run: kind, name, folder, and that it may be written
    (never an input, a non-file, or an existing output without ``overwrite``)."""
    out = Path(output)
    kind = vio.output_kind(out)
    inputs = inputs if inputs is not None else RunInputs()
    inputs.add(source)
    with contextlib.suppress(OSError):
        if out.exists() and Path(source).exists() and os.path.samefile(out, source):
            raise DreamError(f"output {out} is the input; choose another output path")
    files.check_name_length(out)
    if kind == "folder":
        _check_frame_folder(out, inputs, overwrite)
    elif out.is_dir():
        raise DreamError(f"output {out} is a folder; give a file name for the .{kind} video")
    else:
        files.check_replaceable(out, inputs, overwrite)
    if not out.parent.is_dir():
        raise DreamError(f"output folder {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise DreamError(f"cannot write to folder {out.parent}: permission denied")
    return out


def _check_frame_folder(out: Path, inputs: RunInputs, overwrite: bool) -> None:
    """A folder of frames replaces only a folder of our frames (an empty one freely)."""
    if out in inputs or inputs.within(out):
        raise DreamError(f"output {out} is or holds an input of this run; choose another output")
    if os.path.islink(out):
        raise DreamError(f"output {out} is a symbolic link; give a folder name for the frames")
    if not os.path.lexists(out):
        return
    if not out.is_dir():
        raise DreamError(f"output {out} exists and is not a folder; choose another output")
    if files.own_files(out, vio.OUTPUT_FRAME.fullmatch, "output folder") and not overwrite:
        raise files.output_exists(out)


def check_output_and_work(
    output: str | os.PathLike,
    source: str | os.PathLike,
    overwrite: bool,
    config: Any = None,
    weights: str | os.PathLike | None = None,
    reads: Iterable[str | os.PathLike | None] = (),
) -> tuple[Path, Path]:
    """A video's output and its work folder, checked against every file the run reads."""
    inputs = run_inputs(source, config, weights, reads)
    out = check_output(output, source, overwrite, inputs)
    work = work_folder(out)
    check_work(work, inputs)
    return out, work


def check_work(work: Path, inputs: RunInputs) -> None:
    """The work folder is cleared when done or started over: it may not be or hold an input."""
    if work in inputs or inputs.within(work):
        raise DreamError(f"work folder {work} is or holds an input of this run; rename it")
    if os.path.islink(work) or (os.path.lexists(work) and not work.is_dir()):
        raise DreamError(f"{work} is in the way of the work folder (it is not a folder)")


def read_state(work: Path) -> dict | None:
    """The work folder's settings record; None if it is missing or unreadable (a plain file of
    at most ``STATE_MAX_BYTES`` holding a JSON object, else it is not ours)."""
    path = work / STATE_FILE
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > STATE_MAX_BYTES:
            return None
        with open(path, "rb") as fh:
            data = json.loads(fh.read(STATE_MAX_BYTES + 1))
    except (OSError, ValueError, RecursionError, MemoryError):
        return None
    return data if isinstance(data, dict) else None


def prepare_work(work: Path, state: dict, overwrite: bool, notify: Notify) -> None:
    """Make or reuse the work folder. Frames of other settings are refused (started over with
    ``overwrite``); frames without a readable state are dreamed afresh, with a note."""
    if work.is_dir():
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISREG(os.lstat(work / STATE_FILE).st_mode):
                raise DreamError(f"{work / STATE_FILE} is not a regular file; remove it first")
        old = read_state(work)
        if old is None and _holds_frames(work):
            notify(f"work folder {work} has no readable {STATE_FILE}: dreaming its frames afresh")
            files.clear_folder(work, WORK_FILE.fullmatch, "work folder")
        elif old is not None and old != state:
            if not overwrite:
                what = "another input" if old.get("input") != state["input"] else None
                raise DreamError(
                    f"work folder {work} holds frames of {what or 'other settings'}",
                    hint="start over with {overwrite}",
                )
            files.clear_folder(work, WORK_FILE.fullmatch, "work folder")
    work.mkdir(exist_ok=True)
    if read_state(work) != state:
        write_json_atomic(work / STATE_FILE, state)


def _holds_frames(work: Path) -> bool:
    try:
        return any(WORK_FILE.fullmatch(n) and n.endswith(".png") for n in os.listdir(work))
    except OSError:
        return False


def write_json_atomic(path: Path, data: dict, indent: int | None = 1) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            compact = None if indent is not None else (",", ":")
            json.dump(data, fh, indent=indent, separators=compact, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def remove_work(work: Path) -> None:
    """Remove what the run put in its work folder, and the folder once empty (a file someone
    else put there stays, and so does the folder)."""
    with contextlib.suppress(OSError):
        for name in os.listdir(work):
            path = work / name
            if WORK_FILE.fullmatch(name) and stat.S_ISREG(os.lstat(path).st_mode):
                os.unlink(path)
        os.rmdir(work)


def _plain_png(path: Path, size: tuple[int, int]) -> Any:
    """The opened PNG at ``path`` if it is a plain file whose header says ``size`` (W, H)."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        im = Image.open(path)
    except Exception:  # an untrusted file: whatever it raises means "not a frame"
        return None
    if im.format != "PNG" or im.size != size:
        im.close()
        return None
    return im


def load_frame(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """A finished frame, or None if it is missing, damaged or not one of ours (then it is
    dreamed again)."""
    im = _plain_png(path, (shape[1], shape[0]))
    if im is None:
        return None
    try:
        with im:
            rgb = np.asarray(im.convert("RGB"))
    except Exception:  # a damaged frame is dreamed again
        return None
    return rgb if rgb.shape == shape else None


def save_frame(path: Path, rgb: np.ndarray) -> None:
    """A dreamed frame as a PNG at ``path``, whole or not at all (a temporary file, synced,
    renamed): a run stopped at any moment leaves only finished frames to resume from."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            Image.fromarray(rgb).save(fh, format="PNG", compress_level=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def finished_frames(work: Path, size: tuple[int, int], total: int | None) -> int:
    """How many frames from the first on the work folder holds (by their PNG headers)."""
    done = 0
    while total is None or done < total:
        im = _plain_png(frame_path(work, done), size)
        if im is None:
            break
        im.close()
        done += 1
    return done


def start_work(
    work: Path,
    state: dict,
    overwrite: bool,
    notify: Notify,
    size: tuple[int, int],
    total: int | None,
) -> None:
    """Make or reuse the work folder (``prepare_work``) and say where a resumed run picks up."""
    prepare_work(work, state, overwrite, notify)
    done = finished_frames(work, size, total)
    if done:
        notify(resume_note(done, total))


def resume_note(done: int, total: int | None) -> str:
    """The line a resumed run prints: where it picks up."""
    if total is not None and done >= total:
        return f"resuming: all {total} frames are dreamed already; writing the output"
    return f"resuming at frame {done + 1}" + (f" of {total}" if total is not None else "")
