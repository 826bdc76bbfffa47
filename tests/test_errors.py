"""Errors any front end can show: a message and a hint whose option names each front end spells
its own way; out of memory recognised by its type and translated in one place."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from conftest import tiny_model

from inceptionism import Cancelled, DreamConfig, Dreamer, DreamError
from inceptionism.algorithm.objectives import Objective
from inceptionism.errors import is_out_of_memory, user_error
from inceptionism.frontends import cli
from inceptionism.options import cli_spelling


def test_a_hint_is_spelled_by_each_front_end():
    e = DreamError("weights not found", hint="put them in the cache, or pass {weights:FILE}")
    assert str(e) == "weights not found; put them in the cache, or pass weights=FILE"
    assert e.render(cli_spelling) == (
        "weights not found; put them in the cache, or pass --weights FILE"
    )
    assert e.render(lambda name, value: f"the {name.title()} field") == (
        "weights not found; put them in the cache, or pass the Weights field"
    )
    assert DreamError("plain").render(cli_spelling) == "plain"
    assert cli_spelling("layers", "NAME") == "--layer NAME" and cli_spelling("max_side") == (
        "--max-side"
    )


def test_errors_survive_pickling_whole():
    """Worker pools (a cluster) send errors between processes."""
    for e in (DreamError("m", hint="use {tile:PX}"), Cancelled()):
        back = pickle.loads(pickle.dumps(e))
        assert type(back) is type(e) and str(back) == str(e) and back.hint == e.hint


def test_out_of_memory_is_known_by_its_type_not_its_text():
    assert is_out_of_memory(MemoryError())
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate"))
    assert not is_out_of_memory(RuntimeError("out of memory"))  # text alone proves nothing
    assert user_error(RuntimeError("boom")) is None
    oom = user_error(MemoryError())
    assert oom is not None and "out of memory" in str(oom) and "max_side=PX" in str(oom)
    assert "--max-side PX" in cli.message(oom)


@pytest.mark.parametrize("kind", [MemoryError, torch.OutOfMemoryError])
def test_a_dream_out_of_memory_is_one_dream_error(kind):
    def fn(acts):
        raise kind("no room")

    cfg = DreamConfig(model="tiny", octaves=1, iterations=2, tile=0)
    dreamer = Dreamer(tiny_model(), cfg, device="cpu", objective=Objective(fn, ["conv3"], "oom"))
    with pytest.raises(DreamError) as info:
        dreamer.dream(np.zeros((32, 32, 3), np.float32))
    assert info.value.message == "out of memory" and isinstance(info.value.__cause__, kind)


def test_the_library_names_no_command_line_flags():
    """Messages raised outside the command line's own modules say what is wrong in words; a
    hint names options as ``{name}`` for each front end to spell."""
    import ast
    import re
    from pathlib import Path

    import inceptionism

    root = Path(inceptionism.__file__).parent
    flag = re.compile(r"--[a-z]")
    found = []
    for path in root.rglob("*.py"):
        where = path.relative_to(root).parts
        if where[0] in ("frontends", "jobs") or path.name == "options.py":
            continue  # the front ends speak in flags (jobs: tests/test_cli_package.py)
        for node in ast.walk(ast.parse(path.read_text())):
            is_error = isinstance(node, ast.Call) and getattr(node.func, "id", "") == "DreamError"
            if not is_error:
                continue
            for part in ast.walk(node):
                text = part.value if isinstance(part, ast.Constant) else None
                if isinstance(text, str) and flag.search(text):
                    found.append(f"{path.relative_to(root)}:{part.lineno}: {text}")
    assert not found, found
