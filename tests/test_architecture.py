"""The package's dependencies point one way: each stage imports only itself and what is below it
(docs/development.md, "Architecture"). A new import that points up, e.g. the generator reaching into the
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
              "metrics", "sampling", "devices", "fetch", "study", "invocation"}
STAGES = ["data", "embeddings", "neighbors", "generator", "evaluation", "baselines", "aggregate", "preflight"]


def unit_of(module: str) -> str:
    """The stage or foundation module a dotted name (peapod.x.y) belongs to."""
    return module.split(".")[1] if module.count(".") else ""


def module_of(path: Path) -> str:
    """The dotted module name of a file under src/ (peapod.generator.train)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def peapod_imports(path: Path, module: str | None = None):
    """(line, imported module) of every peapod import in a file, at module level or inside
    functions: ``import peapod.x``, ``from peapod.x import y``, ``from peapod import x`` (each name),
    relative imports (resolved against the file's package) and ``import_module("peapod.x")``.
    ``module``: the file's dotted name (default: from its place under src/)."""
    own = module or module_of(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from ..y import z
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            if base == "peapod" or (node.level and not node.module):  # the names are modules
                yield from ((node.lineno, f"{base}.{a.name}") for a in node.names)
            elif base.startswith("peapod."):
                yield node.lineno, base
        elif isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names if a.name.startswith("peapod."))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            target = node.args[0].value
            if name == "import_module" and isinstance(target, str) and target.startswith("peapod."):
                yield node.lineno, target


def allowed(importer: str, imported: str) -> bool:
    if imported == importer or imported in FOUNDATION:
        return True
    if importer in FOUNDATION:  # the foundation imports only itself
        return False
    return STAGES.index(imported) < STAGES.index(importer)


def test_every_unit_is_placed():
    units = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()}
    assert units == FOUNDATION | set(STAGES), "place a new module in FOUNDATION or STAGES (and docs/development.md)"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    importer = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    upward = [f"{path.relative_to(REPO)}:{line} imports {module}" for line, module in peapod_imports(path)
              if not allowed(importer, unit_of(module))]
    assert not upward, "imports that point up:\n" + "\n".join(upward)


def test_the_check_catches_an_upward_import(tmp_path):
    bad = tmp_path / "train.py"
    bad.write_text("def f():\n    from peapod.evaluation.metrics import rank_in_list\n")
    assert [m for _, m in peapod_imports(bad, "peapod.generator.train")] == ["peapod.evaluation.metrics"]
    other_forms = tmp_path / "other.py"
    other_forms.write_text("from peapod import evaluation, metrics\nimport importlib\n"
                           "def g():\n    return importlib.import_module('peapod.aggregate.tables')\n")
    assert [m for _, m in peapod_imports(other_forms, "peapod.generator.other")] == ["peapod.evaluation", "peapod.metrics",
                                                          "peapod.aggregate.tables"]
    assert not allowed("generator", unit_of("peapod.evaluation.metrics"))
    assert allowed("evaluation", unit_of("peapod.generator.model"))


def test_relative_imports_are_resolved_against_the_files_package(tmp_path):
    """``from ..evaluation import x`` inside peapod/generator/ is an import of peapod.evaluation."""
    path = tmp_path / "probe.py"
    path.write_text("from ..evaluation.trie import ItemTrie\nfrom . import model\nfrom .. import splits\n")
    names = [m for _, m in peapod_imports(path, "peapod.generator.probe")]
    assert names == ["peapod.evaluation.trie", "peapod.generator.model", "peapod.splits"]
    assert not allowed("generator", unit_of(names[0]))
