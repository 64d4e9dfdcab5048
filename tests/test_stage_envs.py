"""The per-stage conda environments (envs/*.yaml) carry what their rules import, and no more is needed.

Each env installs the package with one extra (pyproject.toml). Here every rule's script is imported
in a fresh interpreter in which the packages of the *other* extras cannot be imported, and the data
stage is run there for real: a missing dependency in a stage env shows up as an ImportError.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.helpers import REPO

# Import names of each extra's packages (the distribution names are in pyproject.toml).
EXTRA_MODULES = {
    "": set(),
    "embeddings": {"torch", "cornac", "recbole", "ray", "tensorboard"},
    "generator": {"torch", "transformers", "tokenizers", "safetensors", "rouge_score", "nltk", "tensorboard"},
    "report": {"matplotlib"},
}
HEAVY = set().union(*EXTRA_MODULES.values())
BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"{{name}} is not in this stage's environment")
sys.meta_path.insert(0, Block())
"""


def rules_with_envs() -> list[tuple[str, str, str]]:
    """(rule, env file, script) of every rule with a conda directive and a script."""
    out = []
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=rule \w+:)", smk.read_text()):
            name = re.match(r"rule (\w+):", block)
            env = re.search(r'conda:\s*\n\s*"\.\./\.\./envs/([\w.]+)"', block)
            script = re.search(r'script:\s*\n\s*"\.\./scripts/([\w.]+)"', block)
            if name and script:
                assert env, f"rule {name.group(1)} in {smk.name} has a script but no conda: directive"
                out.append((name.group(1), env.group(1), script.group(1)))
    return out


def env_extra(env_file: str) -> str:
    text = (REPO / "envs" / env_file).read_text()
    match = re.search(r"-e \.\.(?:\[(\w+)\])?\s*$", text, re.M)
    assert match, f"envs/{env_file} does not install the package (-e ..[extra])"
    assert "-c constraints.txt" in text, f"envs/{env_file} does not use the pinned constraints"
    return match.group(1) or ""


def run_blocked(extra: str, code: str) -> subprocess.CompletedProcess:
    blocked = sorted(HEAVY - EXTRA_MODULES[extra])
    return subprocess.run([sys.executable, "-c", BLOCKER.format(blocked=blocked) + code],
                          capture_output=True, text=True, cwd=REPO, timeout=300)


def test_every_rule_declares_a_stage_env_that_exists():
    rules = rules_with_envs()
    assert len(rules) >= 12
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for rule, env, _ in rules:
        extra = env_extra(env)
        assert extra == "" or extra in extras, (rule, env, extra)
    # The stages do not all share one env: the data stage needs none of the heavy packages.
    assert env_extra(dict((r, e) for r, e, _ in rules)["preprocess"]) == ""


@pytest.mark.parametrize("rule,env,script", rules_with_envs())
def test_rule_script_imports_within_its_stage_env(rule, env, script):
    source = (REPO / "workflow" / "scripts" / script).read_text()
    imports = "\n".join(line for line in source.splitlines() if line.startswith(("from peapod", "import peapod")))
    proc = run_blocked(env_extra(env), imports + "\nprint('ok')\n")
    assert proc.returncode == 0 and "ok" in proc.stdout, f"{rule} ({env}):\n{proc.stderr[-2000:]}"


def test_data_stage_runs_without_the_heavy_packages(tmp_path):
    code = f"""
from peapod.data.demo import DemoConfig, write_demo_dataset
from peapod.data.preprocess import preprocess_dataset
from peapod.data.tables import TABLE_NAMES
raw = write_demo_dataset(DemoConfig(n_users=30, n_items=40, n_groups=2, n_negatives=9), {str(tmp_path / 'raw')!r})
inputs = {{role: str(raw[role]) for role in ("sequences", "negatives", "datamaps", "explanations")}}
outputs = {{n: {str(tmp_path)!r} + f"/{{n}}.parquet" for n in TABLE_NAMES}} | {{"stats": {str(tmp_path / 'stats.json')!r}}}
preprocess_dataset("demo", {{"source": "demo"}}, inputs, outputs, n_negatives=9)
print("ok")
"""
    proc = run_blocked("", code)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-3000:]
    assert (tmp_path / "stats.json").exists()


def test_the_blocker_catches_a_stage_that_needs_another_stages_package():
    proc = run_blocked("report", "import peapod.generator.train\n")
    assert proc.returncode != 0 and "not in this stage's environment" in proc.stderr



def imports_anywhere(path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, at module level or inside functions (call time)."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
            if node.module == "peapod":
                found += [(node.lineno, f"peapod.{a.name}") for a in node.names]
    return found


def module_file(name: str):
    base = REPO / "src" / Path(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def reached_from(script, modules: set[str] | None = None) -> dict[str, list[tuple[str, int, str]]]:
    """Third-party top-level package -> where it is imported (file, line, module), over the script
    and every peapod module it reaches through any import, at import time or inside a function
    (those module names are added to ``modules`` when given)."""
    todo, seen, where = [script], set(), {}
    while todo:
        path = todo.pop()
        if path in seen or not path.exists():
            continue
        seen.add(path)
        for line, name in imports_anywhere(path):
            if name.startswith("peapod"):
                parts = name.split(".")
                todo += [module_file(".".join(parts[:n])) for n in range(1, len(parts) + 1)]
                if modules is not None and module_file(name).exists():
                    modules.add(name)
            else:
                where.setdefault(name.split(".")[0], []).append((str(path.relative_to(REPO)), line, name))
    return where


# Imports inside a function that a rule never calls, so its env may lack them: (rule, file,
# package) -> why. Keep this short; each entry is a claim a reviewer can check.
NEVER_CALLED_IN_STAGE: dict[tuple[str, str, str], str] = {
    ("fetch_amazon_reviews", "src/peapod/fetch.py", "transformers"):
        "fetch_file and amazon_url only; _save_pretrained is fetch_backbone's (generator env)",
}


@pytest.mark.parametrize("rule,env,script", rules_with_envs())
def test_every_import_a_rule_can_reach_is_in_its_stage_env(rule, env, script):
    """Static: the rule's script and every peapod module it can reach, imports inside functions
    included (torch in peapod.neighbors, nltk in the text metrics), import only packages of the
    rule's extra; then every reached module is imported for real inside the blocked interpreter."""
    blocked = HEAVY - EXTRA_MODULES[env_extra(env)]
    modules: set[str] = set()
    where = reached_from(REPO / "workflow" / "scripts" / script, modules)
    offending = [f"{f}:{line} imports {name}" for package in sorted(blocked & set(where))
                 for f, line, name in where[package] if (rule, f, package) not in NEVER_CALLED_IN_STAGE]
    assert not offending, f"{rule} ({env}) can reach packages its environment lacks:\n" + "\n".join(offending)
    proc = run_blocked(env_extra(env), "".join(f"import {m}\n" for m in sorted(modules)) + "print('ok')\n")
    assert proc.returncode == 0 and "ok" in proc.stdout, f"{rule} ({env}):\n{proc.stderr[-2000:]}"


def test_the_static_check_sees_imports_inside_functions(tmp_path):
    script = tmp_path / "script.py"
    script.write_text("def main():\n    import torch\n    from peapod.neighbors import build_neighbors\n")
    where = reached_from(script) if script.is_relative_to(REPO) else None
    assert where is None  # outside the repository: nothing to report relative to it
    found = dict(imports_anywhere(script))
    assert found == {2: "torch", 3: "peapod.neighbors"}
    # peapod.neighbors imports torch only inside a function: reached all the same.
    assert "torch" in reached_from(REPO / "src" / "peapod" / "neighbors.py")
