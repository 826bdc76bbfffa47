"""README.md and every docs/*.md page run as pasted, link only to files that exist, and build
into a site, so the documentation cannot rot (issues 11, 19 and 23).

Each page's code blocks run, in page order, in a fresh sandbox folder laid out like a checkout
after the Quick start: ``photo.jpg``, ``src/inceptionism/data/chelsea.png``, ``docs/coffee.jpg``
and ``benchmarks/video.py``, and ``deepdream`` on the PATH (this interpreter's ``-m
inceptionism``; ``python`` is this interpreter, as in the activated venv). The pictures are the
real sample and photo, shrunk (to 160 and 200 px wide) so that the pages' commands run as
written, only on fewer pixels: the suite checks that they work, ``docs/make_pictures.py`` makes
the pictures at full size.

- ``python`` blocks run in a fresh interpreter; ``sh``/``bash`` blocks run in bash with ``-e``
  (a failing command fails the test). The Quick start's set-up blocks (``python3 -m venv``,
  ``pip install``) are what this environment already is, and are not run.
- A ``toml`` block whose first line is ``# NAME.toml`` is written to that file, for the
  commands that read it.
- A command that needs a download (a model whose weights are not here) is not run offline.
- Blocks in plain fences (```` ``` ````) or ``text`` are output or synopsis, not code.
"""

from __future__ import annotations

import importlib.util
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
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
RUNNABLE = {"python", "sh", "bash"}
SETUP = re.compile(r"python3 -m venv|pip install")
SANDBOX_SAMPLE = (160, 107)  # the sample's size in the sandbox (451x300 in the package)
SANDBOX_PHOTO = (200, 133)  # photo.jpg: over 192 px wide, so that --tile 192 tiles


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


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


def shrunk_copy(source: Path, target: Path, size: tuple[int, int]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.open(source).convert("RGB").resize(size, Image.LANCZOS).save(target)


def make_sandbox(box: Path) -> dict[str, str]:
    """A checkout-like folder in ``box``; the environment to run its commands in."""
    sample = ROOT / "src" / "inceptionism" / "data" / "chelsea.png"
    shrunk_copy(sample, box / "photo.jpg", SANDBOX_PHOTO)
    shrunk_copy(sample, box / "src" / "inceptionism" / "data" / "chelsea.png", SANDBOX_SAMPLE)
    shrunk_copy(DOCS / "coffee.jpg", box / "docs" / "coffee.jpg", SANDBOX_SAMPLE)
    (box / "benchmarks").mkdir()
    shutil.copy(ROOT / "benchmarks" / "video.py", box / "benchmarks" / "video.py")
    bin_dir = box / ".bin"
    bin_dir.mkdir()
    for name, command in (("deepdream", "-m inceptionism "), ("python", "")):
        wrapper = bin_dir / name
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" {command}"$@"\n')
        wrapper.chmod(0o755)
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    env["INCEPTIONISM_CACHE"] = str(box / "cache")  # nothing downloaded, nothing found
    return env


def checkout_files(box: Path) -> dict[Path, int]:
    """The sandbox's checkout files (not the user's working files) and their times."""
    files = (p for d in ("docs", "src", "benchmarks") for p in (box / d).rglob("*"))
    return {p: p.stat().st_mtime_ns for p in files if "__pycache__" not in p.parts}


def run_block(box: Path, env: dict[str, str], lang: str, code: str) -> str | None:
    """Run one block in ``box``; the failure's stderr, or None when it passed or is not code."""
    if lang == "toml":
        if m := re.fullmatch(r"#\s*(\S+\.toml)\s*", code.splitlines()[0]):
            (box / m.group(1)).write_text(code)
        return None
    if lang not in RUNNABLE or SETUP.search(code):
        return None
    if lang == "python":
        cmd = [sys.executable, "-c", code]
    else:
        cmd = ["bash", "-e", "-c", runnable_shell(code)]
    r = subprocess.run(cmd, cwd=box, env=env, capture_output=True, text=True, timeout=600)
    return None if r.returncode == 0 else r.stderr


def test_the_pages_have_blocks_of_each_kind():
    langs = {lang for page in PAGES for _, lang, _ in blocks(page.read_text())}
    assert {"python", "sh", "toml"} <= langs


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_block_of_the_page_runs_as_pasted(page: Path, tmp_path: Path):
    """Each block runs, and the commands write only into the current folder (issue 23)."""
    env = make_sandbox(tmp_path)
    checkout = checkout_files(tmp_path)
    for line, lang, code in blocks(page.read_text()):
        error = run_block(tmp_path, env, lang, code)
        assert error is None, f"{page_id(page)} line {line} ({lang}) failed:\n{code}\n{error}"
    assert checkout_files(tmp_path) == checkout, (
        f"{page_id(page)} wrote into docs/, src/ or benchmarks/"
    )


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|<img [^>]*src=\"([^\"]+)\"")


def relative_links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every link and image that is not a URL or a bare anchor."""
    text = re.sub(r"^```.*?^```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S | re.M)
    out = []
    for m in LINK.finditer(text):
        target = m.group(1) or m.group(2)
        if not re.match(r"[a-z][a-z0-9+.-]*:|#", target):
            out.append((text[: m.start()].count("\n") + 1, target))
    return out


def slug(heading: str) -> str:
    """The anchor of a heading, as mkdocs (Python-Markdown's toc) makes it."""
    text = re.sub(r"[^\w\s-]", "", heading.replace("`", "")).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_and_picture_points_at_a_file(page: Path):
    for line, target in relative_links(page.read_text()):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve()
        assert file.is_file(), f"{page_id(page)} line {line}: {target} is not a file"
        if anchor and file.suffix == ".md":
            assert anchor in anchors(file), f"{page_id(page)} line {line}: no #{anchor} there"


def test_the_readme_is_short_and_ci_runs_its_test_command_verbatim():
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    setup = [code.strip() for _, lang, code in blocks(text) if code.startswith("python3 -m venv")]
    assert len(setup) == 2, "the Quick start has its two set-up one-liners"
    assert setup[1] in (ROOT / ".ci" / "run").read_text().splitlines()


def test_the_site_lists_every_page_and_builds_strict(tmp_path: Path):
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        pytest.skip("mkdocs-material is not installed (pip install -e '.[docs]')")
    nav = (ROOT / "mkdocs.yml").read_text()
    missing = [p.name for p in PAGES[1:] if f": {p.name}" not in nav]
    assert missing == [], "pages missing from mkdocs.yml's nav"
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's end-of-life banner
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "site" / "index.html").is_file()


def test_the_synopsis_lists_every_flag_of_dream_help():
    """The command-line page's synopsis and ``deepdream dream --help`` name the same flags."""
    from inceptionism.frontends.cli import build_parser

    page = DOCS / "command-line.md"
    synopsis = next(
        code
        for _, lang, code in blocks(page.read_text())
        if lang == "text" and code.startswith("deepdream dream INPUT")
    )
    # The dream synopsis runs until the next command's line (``deepdream layers`` and on).
    synopsis = re.split(r"\n(?=deepdream (?!dream\b))", synopsis)[0]
    written = set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", synopsis))
    dream = build_parser()._subparsers._group_actions[0].choices["dream"]  # type: ignore[union-attr]
    flags = {f for a in dream._actions for f in a.option_strings} - {"-h", "--help"}
    assert flags - written == set(), f"flags missing from {page_id(page)}'s synopsis"
    assert written - flags == set(), f"{page_id(page)}'s synopsis names flags dream does not have"
