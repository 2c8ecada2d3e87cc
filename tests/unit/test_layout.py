"""The layers: ``triage`` (command line) on top, ``pipeline`` (training) below it, ``serving`` at the bottom."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from serving.settings import PROJ_ROOT


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(package: str) -> list[Path]:
    return sorted((PROJ_ROOT / package).rglob("*.py"))


def _top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("package", ["serving", "pipeline"])
def test_nothing_below_the_command_line_imports_it(package):
    offenders = [str(p.relative_to(PROJ_ROOT)) for p in _modules(package) if "triage" in map(_top, _imported_modules(p))]
    assert offenders == []


def test_serving_never_imports_training_code():
    offenders = [str(p.relative_to(PROJ_ROOT)) for p in _modules("serving") if "pipeline" in map(_top, _imported_modules(p))]
    assert offenders == []


def test_the_checker_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from triage.cli import app\n    import pipeline.train\n")
    assert {"triage.cli", "pipeline.train"} <= _imported_modules(module)
