"""No code path may run code from its input: no unsafe loaders in the sources, and checkpoints
written without pickle.

The scan covers src/, workflow/ (scripts and .smk rules), benchmarks/ and the Snakefile. Python
files are checked on their syntax tree, so ``model.eval()``, ``ast.literal_eval`` and
``yaml.safe_load`` are not mistaken for the unsafe calls; Snakemake files are not pure Python and
are checked with regular expressions.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import REPO, assert_same_state_dict

SAFE_PICKLE = "src/peapod/data/safe_pickle.py"  # the one place allowed to unpickle (restricted)
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle"}
PICKLE_LOADERS = {"load", "loads", "Unpickler"}
EVAL_CALLS = {f"{prefix}{name}" for prefix in ("", "builtins.", "__builtins__.") for name in ("eval", "exec")}
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}
# Deliberate, reviewed exceptions: (file, finding) -> why it is safe.
ALLOWED = {
    (
        "src/peapod/embeddings/recbole_compat.py",
        "torch.load passed on with weights_only=False",
    ): "RecBole reloads only the checkpoint its own trainer just wrote into the sandbox directory",
}


def _dotted(node: ast.AST) -> str | None:
    """'a.b.c' for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def scan_python(source: str, relpath: str) -> list[tuple[int, str]]:
    """(line, finding) for every unsafe loader use in one Python source."""
    tree = ast.parse(source)
    findings: list[tuple[int, str]] = []
    call_funcs = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = {alias.name for alias in node.names}
            if node.module == "torch" and "load" in names:
                findings.append((node.lineno, "from torch import load"))
            loaders = names & PICKLE_LOADERS
            if node.module.split(".")[0] in PICKLE_MODULES and loaders and relpath != SAFE_PICKLE:
                findings.append((node.lineno, f"from {node.module} import {sorted(loaders)}"))
            if node.module == "builtins" and names & {"eval", "exec"}:
                findings.append((node.lineno, "from builtins import eval/exec"))
        dotted = _dotted(node) if isinstance(node, ast.Attribute) else None
        if dotted is not None:
            module, _, attr = dotted.rpartition(".")
            if module.split(".")[-1] in PICKLE_MODULES and attr in PICKLE_LOADERS and relpath != SAFE_PICKLE:
                findings.append((node.lineno, f"{dotted} outside {SAFE_PICKLE}"))
            if dotted == "torch.load" and id(node) not in call_funcs:
                findings.append((node.lineno, "torch.load referenced, not called with weights_only=True"))
        if isinstance(node, ast.Name) and node.id == "Unpickler" and relpath != SAFE_PICKLE:
            findings.append((node.lineno, "Unpickler outside safe_pickle.py"))
        if not isinstance(node, ast.Call):
            continue
        func = _dotted(node.func)
        if func in EVAL_CALLS:
            findings.append((node.lineno, f"{func}() call"))
        elif func == "torch.load" and not _is_true(_keyword(node, "weights_only")):
            findings.append((node.lineno, "torch.load without weights_only=True"))
        elif func in ("yaml.load", "yaml.load_all"):
            loader = _keyword(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
            name = _dotted(loader) if loader is not None else None
            if name is None or name.split(".")[-1] not in SAFE_YAML_LOADERS:
                findings.append((node.lineno, f"{func} without SafeLoader"))
        elif func in ("yaml.unsafe_load", "yaml.unsafe_load_all", "yaml.full_load", "yaml.full_load_all"):
            findings.append((node.lineno, func))
        elif func is not None and func.split(".")[-1] == "read_pickle":
            findings.append((node.lineno, f"{func} (unpickles)"))
        elif func == "joblib.load":
            findings.append((node.lineno, "joblib.load (unpickles)"))
        if _is_true(_keyword(node, "allow_pickle")):
            findings.append((node.lineno, f"{func}(allow_pickle=True)"))
        if func in ("functools.partial", "partial"):
            target = _dotted(node.args[0]) if node.args else None
            if target == "torch.load" and not _is_true(_keyword(node, "weights_only")):
                findings.append((node.lineno, "torch.load passed on with weights_only=False"))
    # A partial(torch.load, ...) is reported once, as such.
    partial_lines = {line for line, what in findings if what.startswith("torch.load passed on")}
    return [f for f in findings if not (f[0] in partial_lines and f[1].startswith("torch.load referenced"))]


_SMK_PATTERNS = [
    (re.compile(r"(?<![\w.])(eval|exec)\s*\("), "eval/exec call"),
    (re.compile(r"\b(c?pickle|_pickle|dill|cloudpickle)\s*\.\s*(loads?|Unpickler)\b"), "pickle load"),
    (re.compile(r"\bUnpickler\b"), "Unpickler"),
    (re.compile(r"\byaml\s*\.\s*(unsafe_load|full_load)\w*\s*\("), "unsafe yaml load"),
    (re.compile(r"\ballow_pickle\s*=\s*True\b"), "allow_pickle=True"),
    (re.compile(r"\bread_pickle\s*\("), "read_pickle"),
]


def _call_text(text: str, open_paren: int) -> str:
    depth = 0
    for i in range(open_paren, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[open_paren : i + 1]
    return text[open_paren:]


def scan_snakemake(source: str) -> list[tuple[int, str]]:
    """The same rules for Snakemake files, by regular expression (comments dropped first)."""
    text = "\n".join(re.sub(r"#.*", "", line) for line in source.splitlines())
    findings = []

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    for pattern, what in _SMK_PATTERNS:
        findings += [(line_of(m.start()), what) for m in pattern.finditer(text)]
    for m in re.finditer(r"\btorch\s*\.\s*load\s*(\()?", text):
        if m.group(1) is None or not re.search(r"weights_only\s*=\s*True", _call_text(text, m.end() - 1)):
            findings.append((line_of(m.start()), "torch.load without weights_only=True"))
    for m in re.finditer(r"\byaml\s*\.\s*load(_all)?\s*\(", text):
        if not re.search(r"\b(C?SafeLoader|C?BaseLoader)\b", _call_text(text, m.end() - 1)):
            findings.append((line_of(m.start()), "yaml.load without SafeLoader"))
    return findings


def scanned_files() -> list[Path]:
    files = [REPO / "Snakefile"]
    for folder in ("src", "workflow", "benchmarks"):
        files += sorted(p for p in (REPO / folder).rglob("*") if p.suffix in (".py", ".smk") and p.is_file())
    return files


def scan_file(path: Path) -> list[tuple[int, str]]:
    relpath = path.relative_to(REPO).as_posix()
    source = path.read_text(encoding="utf-8")
    return scan_python(source, relpath) if path.suffix == ".py" else scan_snakemake(source)


def test_the_scan_covers_every_kind_of_file():
    files = {p.relative_to(REPO).as_posix() for p in scanned_files()}
    assert "Snakefile" in files and SAFE_PICKLE in files
    assert any(f.startswith("workflow/rules/") and f.endswith(".smk") for f in files)
    assert any(f.startswith("workflow/scripts/") for f in files)
    assert any(f.startswith("benchmarks/") for f in files)


def test_no_unsafe_loaders_in_the_sources():
    found, allowed_seen = [], set()
    for path in scanned_files():
        relpath = path.relative_to(REPO).as_posix()
        for line, what in scan_file(path):
            if (relpath, what) in ALLOWED:
                allowed_seen.add((relpath, what))
            else:
                found.append(f"{relpath}:{line}: {what}")
    assert not found, "unsafe loading:\n" + "\n".join(found)
    stale = set(ALLOWED) - allowed_seen
    assert not stale, f"allow-list entries that no longer match anything (remove them): {stale}"


BAD_PYTHON = {
    "torch.load(path)": "torch.load without weights_only=True",
    "torch.load(path, weights_only=False)": "torch.load without weights_only=True",
    "functools.partial(torch.load, weights_only=False)": "torch.load passed on with weights_only=False",
    "f = torch.load": "torch.load referenced, not called with weights_only=True",
    "from torch import load": "from torch import load",
    "eval(text)": "eval() call",
    "exec(code)": "exec() call",
    "builtins.eval(text)": "builtins.eval() call",
    "pickle.load(handle)": "pickle.load outside src/peapod/data/safe_pickle.py",
    "pickle.loads(data)": "pickle.loads outside src/peapod/data/safe_pickle.py",
    "class U(pickle.Unpickler): pass": "pickle.Unpickler outside src/peapod/data/safe_pickle.py",
    "from pickle import loads": "from pickle import ['loads']",
    "yaml.load(text)": "yaml.load without SafeLoader",
    "yaml.load(text, Loader=yaml.Loader)": "yaml.load without SafeLoader",
    "yaml.unsafe_load(text)": "yaml.unsafe_load",
    "np.load(path, allow_pickle=True)": "np.load(allow_pickle=True)",
    "pd.read_pickle(path)": "pd.read_pickle (unpickles)",
}
GOOD_PYTHON = [
    "model.eval()",
    "PeaPOD(t5, cfg).to(device).eval()",
    "ast.literal_eval(text)",
    "yaml.safe_load(text)",
    "yaml.load(text, Loader=yaml.SafeLoader)",
    "torch.load(path, weights_only=True)",
    "pickle.dumps(obj, protocol=4)",
    "np.load(path, allow_pickle=False)",
    "evaluate(x); executor(y); self.exec_count = 1",
]


@pytest.mark.parametrize("code", sorted(BAD_PYTHON))
def test_the_python_scan_catches(code):
    assert BAD_PYTHON[code] in [what for _, what in scan_python(code, "src/x.py")]


@pytest.mark.parametrize("code", GOOD_PYTHON)
def test_the_python_scan_passes(code):
    assert scan_python(code, "src/x.py") == []


def test_the_restricted_unpickler_module_may_unpickle():
    assert scan_python("class R(pickle.Unpickler): pass", SAFE_PICKLE) == []


def test_the_snakemake_scan():
    bad = 'rule a:\n    run:\n        x = eval(params.expr)\n        m = torch.load(\n            input[0])\n'
    bad += "        d = pickle.loads(data)\n        c = yaml.load(open(f))\n"
    assert sorted(scan_snakemake(bad)) == [
        (3, "eval/exec call"), (4, "torch.load without weights_only=True"), (6, "pickle load"),
        (7, "yaml.load without SafeLoader"),
    ]
    good = "rule a:\n    run:\n        model.eval()  # never eval(x)\n        c = yaml.safe_load(open(f))\n"
    good += "        m = torch.load(input[0],\n                       weights_only=True)\n"
    good += "        v = ast.literal_eval(s)\n"
    assert scan_snakemake(good) == []


# ---- checkpoints without pickle ----------------------------------------------------------------
PICKLE_SUFFIXES = {".pt", ".pth", ".bin", ".pkl", ".pickle", ".ckpt", ".joblib"}


def test_checkpoints_are_saved_without_pickle(tmp_path):
    import torch
    from safetensors import safe_open

    from peapod.generator.backbone import load_backbone
    from peapod.generator.checkpoint import load_model_dir, save_model_dir, save_training_state
    from peapod.generator.config import GeneratorConfig
    from peapod.generator.model import PeaPOD

    tiny = {"d_model": 16, "d_ff": 32, "num_layers": 1, "num_heads": 2, "dropout_rate": 0.0, "vocab_size": 100}
    cfg = GeneratorConfig.from_dict({"tiny": tiny, "neighbors": 2, "heads": 2})
    torch.manual_seed(0)
    t5, tokenizer = load_backbone(cfg, ["user_1 item_2 item_3", "the scent is great"] * 5)
    rng = np.random.default_rng(0)
    model = PeaPOD(t5, cfg, rng.normal(size=(5, 8)).astype(np.float32), rng.integers(0, 5, (5, 2)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sum(p.sum() for p in model.parameters()).backward()
    optimizer.step()  # optimizer state now holds tensors too

    save_model_dir(tmp_path / "best", model, tokenizer)
    save_training_state(tmp_path / "last", model, tokenizer, optimizer, {"epoch": 1}, {"acc": torch.zeros(3)})
    for directory in (tmp_path / "best", tmp_path / "last"):
        files = sorted(directory.iterdir())
        names = [f.name for f in files]
        assert "model.safetensors" in names and "config.json" in names
        assert not [n for n in names if Path(n).suffix in PICKLE_SUFFIXES], names
        for f in files:
            head = f.read_bytes()[:4]
            assert not head.startswith(b"\x80"), f"{f.name} starts like a pickle"
            assert head != b"PK\x03\x04", f"{f.name} is a zip archive (torch.save's format)"
            if f.suffix == ".safetensors":
                with safe_open(str(f), framework="pt") as handle:
                    assert list(handle.keys())
            else:
                assert f.suffix == ".json", f"unexpected checkpoint file {f.name}"
                json.loads(f.read_text(encoding="utf-8"))
    loaded, _, _ = load_model_dir(tmp_path / "best")
    assert_same_state_dict(model.state_dict(), loaded.state_dict())
