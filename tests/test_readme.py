"""Every code block of README.md runs as pasted, so the README cannot rot (issue 11).

Each block runs, in README order, in one sandbox folder laid out like a checkout after the Quick
start: ``photo.jpg`` (the bundled sample as JPEG), ``src/inceptionism/data/chelsea.png`` and
``docs/coffee.jpg``, and ``deepdream`` on the PATH (this interpreter's ``-m inceptionism``).

- ``python`` blocks run in a fresh interpreter; ``sh``/``bash`` blocks run in bash with ``-e``
  (a failing command fails the test). The Quick start's set-up blocks (``python3 -m venv``,
  ``pip install``) are what this environment already is, and are not run.
- A ``toml`` block whose first line is ``# NAME.toml`` is written to that file, for the
  commands that read it.
- A command that needs a download (a model whose weights are not here) is not run offline.
- Blocks in plain fences (```` ``` ````) or ``text`` are output or synopsis, not code.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RUNNABLE = {"python", "sh", "bash"}
SETUP = re.compile(r"python3 -m venv|pip install")


def blocks(text: str) -> list[tuple[int, str, str]]:
    """(line number, language, code) of every fenced block."""
    out = []
    for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
        out.append((text[: m.start()].count("\n") + 1, m.group(1), m.group(2)))
    return out


def needs_download(command: str) -> bool:
    from inceptionism.models import REGISTRY

    models = re.findall(r"--model[ =](\S+)", command)
    return any(m in REGISTRY and not REGISTRY[m].weights_here() for m in models)


def runnable_shell(code: str) -> str:
    """The block with continuation lines joined and download-needing commands left out."""
    lines = []
    for line in code.replace("\\\n", " ").splitlines():
        if needs_download(line):
            lines.append(f": offline, not run: {line!r}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    box = tmp_path_factory.mktemp("readme")
    sample = ROOT / "src" / "inceptionism" / "data" / "chelsea.png"
    Image.open(sample).convert("RGB").save(box / "photo.jpg", quality=95)
    (box / "src" / "inceptionism" / "data").mkdir(parents=True)
    shutil.copy(sample, box / "src" / "inceptionism" / "data" / "chelsea.png")
    (box / "docs").mkdir()
    shutil.copy(ROOT / "docs" / "coffee.jpg", box / "docs" / "coffee.jpg")
    bin_dir = box / ".bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "deepdream"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m inceptionism "$@"\n')
    wrapper.chmod(0o755)
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    env["INCEPTIONISM_CACHE"] = str(box / "cache")  # nothing downloaded, nothing found
    return box, env


def test_readme_has_blocks_of_each_kind():
    langs = {lang for _, lang, _ in blocks(README.read_text())}
    assert {"python", "sh", "toml"} <= langs


@pytest.mark.slow
def test_every_readme_block_runs_as_pasted(sandbox):
    box, env = sandbox
    ran = 0
    for line, lang, code in blocks(README.read_text()):
        if lang == "toml":
            first = code.splitlines()[0]
            if m := re.fullmatch(r"#\s*(\S+\.toml)\s*", first):
                (box / m.group(1)).write_text(code)
            continue
        if lang not in RUNNABLE or SETUP.search(code):
            continue
        if lang == "python":
            cmd = [sys.executable, "-c", code]
        else:
            cmd = ["bash", "-e", "-c", runnable_shell(code)]
        r = subprocess.run(cmd, cwd=box, env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"README.md line {line} ({lang}) failed:\n{code}\n{r.stderr}"
        ran += 1
    assert ran >= 8


def test_the_synopsis_lists_every_flag_of_dream_help():
    """The README's synopsis and ``deepdream dream --help`` name the same flags."""
    from inceptionism.frontends.cli import build_parser

    synopsis = next(
        code
        for _, lang, code in blocks(README.read_text())
        if code.startswith("deepdream dream INPUT")
    )
    synopsis = synopsis.split("\ndeepdream layers")[0]
    written = set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", synopsis))
    dream = build_parser()._subparsers._group_actions[0].choices["dream"]  # type: ignore[union-attr]
    flags = {f for a in dream._actions for f in a.option_strings} - {"-h", "--help"}
    assert flags - written == set(), "flags missing from the README's synopsis"
    assert written - flags == set(), "the README's synopsis names flags dream does not have"
