"""Library code never sees the command line (issue 19 item 4), and the CLI's rooms are small
(item 5): the imports, messages and sizes read from the source, the wording from real runs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from inceptionism.errors import DreamError, OptionError, python_spelling
from inceptionism.frontends import cli
from inceptionism.frontends.cli import parser
from inceptionism.jobs import batch
from inceptionism.jobs.cluster_video import Seams

SRC = Path(__file__).parents[1] / "src" / "inceptionism"
#: The layers below the front ends: none of them may know there is a command line.
LIBRARY = ("session.py", "algorithm", "models", "io", "video", "jobs")
#: Jobs that run what a front end built: they take values, never a parsed command line.
JOBS = ("batch.py", "cluster.py", "cluster_video.py", "filejob.py")
#: Imports that may sit inside a function: optional extras (and type-only imports).
OPTIONAL = {"ray", "av", "cv2", "gradio", "playwright"}


def _modules(*names: str) -> list[Path]:
    paths = [SRC / name for name in names]
    return sorted(p for path in paths for p in ([path] if path.is_file() else path.rglob("*.py")))


def _imports(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node, node.module))
    return found


@pytest.mark.parametrize("path", _modules(*LIBRARY), ids=lambda p: str(p.relative_to(SRC)))
def test_library_code_imports_neither_argparse_nor_a_front_end(path):
    for _, name in _imports(ast.parse(path.read_text())):
        assert name != "argparse" and not name.startswith("inceptionism.frontends"), (path, name)


def _strings(tree: ast.AST) -> list[str]:
    """Every string literal but docstrings (f-strings' literal parts included)."""
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]


@pytest.mark.parametrize("name", JOBS)
def test_jobs_read_no_namespace_and_spell_no_flag(name):
    """A job names options as ``{option}``; the front end spells them (``--overwrite``)."""
    source = (SRC / "jobs" / name).read_text()
    assert "Namespace" not in source
    for text in _strings(ast.parse(source)):
        assert " --" not in f" {text}" and "-o " not in text, (name, text)


def test_a_jobs_message_is_spelled_by_its_front_end(tmp_path):
    with pytest.raises(DreamError) as raised:
        Seams.choose(0, 2, 1, 10, 2)
    assert raised.value.render(cli.spell) == "--chunk-frames must be at least 1, got 0"
    assert str(raised.value) == "chunk_frames= must be at least 1, got 0"
    image_like = tmp_path / "out{1}.png"  # braces in a path stay as they are
    with pytest.raises(OptionError) as raised:
        batch.output_folder(str(image_like))
    assert raised.value.render(cli.spell).startswith(f"-o {image_like} looks like an image file")
    line = batch.summary(1, 2, [], cli.spell)
    assert line == "1 dreamed, 2 skipped (output exists; --overwrite redoes it)"
    assert "overwrite=" in batch.summary(1, 2, [], python_spelling)


def test_the_cli_says_a_batch_folder_with_its_own_flag(tmp_path, capsys):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(b"")
    b.write_bytes(b"")
    out = tmp_path / "sheet.png"
    assert cli.main(["dream", str(a), str(b), "-o", str(out), "--octaves", "1"]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"deepdream: error: -o {out} looks like an image file, but with several inputs -o "
        f"names a folder (give a folder name, such as {tmp_path / 'sheet'})\n"
    )
    assert not out.exists()


def test_every_command_module_registers_in_one_line():
    """Each module of :data:`parser.COMMAND_MODULES` adds its parsers and names its commands:
    the parser's commands and the functions that run them are the same set."""
    built = parser.build_parser()
    choices = next(a for a in built._actions if a.dest == "command").choices
    assert list(choices) == list(parser.commands())
    for module in parser.COMMAND_MODULES:
        assert callable(module.add_parsers) and module.COMMANDS


def _functions(tree: ast.AST) -> list[ast.AST]:
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef)
    return [node for node in ast.walk(tree) if isinstance(node, kinds)]


@pytest.mark.parametrize(
    "path", _modules("frontends/cli", "jobs"), ids=lambda p: str(p.relative_to(SRC))
)
def test_small_rooms(path):
    """No module over 600 lines, no function over 60 (the command line and the jobs; the
    other rooms are their owners')."""
    text = path.read_text()
    assert len(text.splitlines()) <= 600, path
    for node in _functions(ast.parse(text)):
        length = node.end_lineno - node.lineno + 1
        assert length <= 60, f"{path.relative_to(SRC)}:{node.lineno} {node.name}: {length} lines"


@pytest.mark.parametrize(
    "path",
    _modules("frontends/cli", *(f"jobs/{name}" for name in JOBS)),
    ids=lambda p: str(p.relative_to(SRC)),
)
def test_in_function_imports_are_optional_extras_only(path):
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    typing_only = {
        id(sub)
        for node in tree.body
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for sub in ast.walk(node)
    }
    for node, name in _imports(tree):
        if id(node) in top or id(node) in typing_only:
            continue
        assert name.split(".")[0] in OPTIONAL, (path, name)


def test_the_console_script_and_python_m_run_main():
    """``deepdream`` (pyproject's script) and ``python -m inceptionism`` both run ``main``."""
    text = (SRC.parents[1] / "pyproject.toml").read_text()
    assert 'deepdream = "inceptionism.frontends.cli:main"' in text
    assert "from .frontends.cli import main" in (SRC / "__main__.py").read_text()
    assert callable(cli.main) and cli.main.__module__ == "inceptionism.frontends.cli.command"
