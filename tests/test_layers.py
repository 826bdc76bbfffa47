"""The layers, declared once (``[tool.importlinter]`` in pyproject.toml) and checked: imports go
one way, bottom to top; no import cycle, imports inside functions included; an import inside a
function only for an optional extra or a slow import, each saying so, at most 20 in all; no
module over 600 lines.

The AST checks read imports as written: ``from a import b`` depends on the package ``a`` (its
``__init__`` runs) and on ``a.b`` where that is a module, so going through a package that
imports you back is a cycle even when Python happens to cope with it.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "inceptionism"
MAX_IN_FUNCTION = 20
MAX_LINES = 600
#: What an import inside a function must say on its line, and why it may be there at all.
REASON = re.compile(r"#\s*(optional extra|slow import):\s*\S")


@dataclass(frozen=True)
class InnerImport:
    """An import statement inside a function: where it is and whether it gives its reason."""

    module: str
    line: int
    text: str
    explained: bool


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The package modules an import statement runs: ``from a import b`` runs ``a`` and
    ``a.b``; a relative import is resolved against ``module``."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            here = here[: len(here) - node.level + 1]
            base = ".".join(here + ([node.module] if node.module else []))
        names = [base] + [f"{base}.{alias.name}" for alias in node.names]
    found = []
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name and name != module:
            found.append(name)
    return found


def _in_functions(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    yield sub


def _typing_only(tree: ast.AST) -> set[int]:
    """The imports under ``if TYPE_CHECKING:``: read by type checkers, never run."""
    return {
        id(sub)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for sub in ast.walk(node)
    }


def _graph() -> tuple[dict[str, set[str]], list[InnerImport]]:
    """Every module's imports (in functions included), and the imports inside functions."""
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    inner: dict[tuple[str, int], InnerImport] = {}
    for module, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text)
        for node in _in_functions(tree):
            own = lines[node.lineno - 1 : node.end_lineno]
            explained = any(REASON.search(line) for line in own)
            inner[(module, node.lineno)] = InnerImport(
                module, node.lineno, ast.unparse(node), explained
            )
        typing_only = _typing_only(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in typing_only:
                edges[module].update(_targets(module, path, node))
    return edges, list(inner.values())


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


EDGES, INNER = _graph()


def test_the_import_contracts_hold() -> None:
    """``lint-imports`` on the contracts in pyproject.toml (layers; no argparse below the CLI)."""
    pytest.importorskip("importlinter", reason="import-linter (the test extra) is not installed")
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
        "lint-imports"
    )
    assert exe, "lint-imports not found beside the Python that runs the tests"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    run = subprocess.run(
        [exe, "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_the_ast_check_finds_a_cycle_through_a_package() -> None:
    """The checker itself: ``from . import b`` inside ``a`` goes through ``a``'s package."""
    edges = {"p": {"p.a"}, "p.a": {"p", "p.b"}, "p.b": set(), "q": set()}
    assert _cycles(edges) == [["p", "p.a"]]
    assert _cycles({"p": {"q"}, "q": set()}) == []


def test_no_import_cycle() -> None:
    """No cycle in the whole package, imports inside functions included."""
    assert _cycles(EDGES) == []


def test_few_in_function_imports_each_with_its_reason() -> None:
    """An import inside a function is an optional extra or a slow import and says so on its
    line; at most 20 in all (the rest sit at the top of their module)."""
    bare = [f"{i.module}:{i.line}: {i.text}" for i in INNER if not i.explained]
    assert bare == [], "\n".join(bare)
    assert len(INNER) <= MAX_IN_FUNCTION, [f"{i.module}:{i.line}" for i in INNER]


def test_no_module_over_600_lines() -> None:
    long = {
        module: n
        for module, path in MODULES.items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, long


def test_no_function_over_60_lines() -> None:
    """A function fits on a screen: at most 60 lines, decorators and docstring included."""
    long = [
        f"{module}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for module, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - min([node.lineno, *(d.lineno for d in node.decorator_list)]) >= 60
    ]
    assert long == [], "\n".join(long)


def test_the_web_package_and_the_cli_need_no_gradio() -> None:
    """Without the ``ui`` extra, the web package imports (the command line reads its defaults)
    and ``deepdream ui`` says in one line what to install: no traceback, exit status 1."""
    script = (
        "import sys; sys.modules['gradio'] = None\n"  # as if Gradio were not installed
        "import inceptionism.frontends.web as web\n"
        "assert web.DEFAULT_PORT == 7860 and sys.modules['gradio'] is None\n"
        "from inceptionism.frontends.cli import main\n"
        "sys.argv = ['deepdream', 'ui', '--port', '0']\n"
        "sys.exit(main())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    run = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 1, run.stderr
    assert run.stderr.strip().splitlines() == [
        "deepdream: error: the web studio needs Gradio: pip install 'inceptionism[ui]'"
    ], run.stderr
