"""The package's dependencies point one way: each stage imports only itself and what is below it
(README, "Architecture"). A new import that points up, e.g. the generator reaching into the
evaluation for a helper, fails here with the module and the line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import REPO

PACKAGE = REPO / "src" / "peapod"
# Bottom to top. Foundation modules serve every stage; a stage may import its own package, the
# foundation and the stages listed before it.
FOUNDATION = {"errors", "io", "logs", "provenance", "progress", "formatting", "config", "paths", "splits",
              "metrics", "sampling", "devices", "fetch"}
STAGES = ["data", "embeddings", "neighbors", "generator", "evaluation", "aggregate"]


def unit_of(module: str) -> str:
    """The stage or foundation module a dotted name (peapod.x.y) belongs to."""
    return module.split(".")[1] if module.count(".") else ""


def peapod_imports(path: Path):
    """(line, imported module) of every peapod import in a file, at module level or inside functions."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("peapod."):
            yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names if a.name.startswith("peapod."))


def allowed(importer: str, imported: str) -> bool:
    if imported == importer or imported in FOUNDATION:
        return True
    if importer in FOUNDATION:  # the foundation imports only itself
        return False
    return STAGES.index(imported) < STAGES.index(importer)


def test_every_unit_is_placed():
    units = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()}
    assert units == FOUNDATION | set(STAGES), "place a new module in FOUNDATION or STAGES (and the README)"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    importer = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    upward = [f"{path.relative_to(REPO)}:{line} imports {module}" for line, module in peapod_imports(path)
              if not allowed(importer, unit_of(module))]
    assert not upward, "imports that point up:\n" + "\n".join(upward)


def test_the_check_catches_an_upward_import(tmp_path):
    bad = tmp_path / "train.py"
    bad.write_text("def f():\n    from peapod.evaluation.metrics import rank_in_list\n")
    assert [m for _, m in peapod_imports(bad)] == ["peapod.evaluation.metrics"]
    assert not allowed("generator", unit_of("peapod.evaluation.metrics"))
    assert allowed("evaluation", unit_of("peapod.generator.model"))


MAX_FUNCTION_LINES = 80


def test_no_function_is_too_long_to_change_safely():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} has {lines} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines (split them):\n" + "\n".join(long)
