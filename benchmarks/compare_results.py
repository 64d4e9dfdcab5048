"""Compare two results/ trees of the same config: is every output the same, apart from what records
when and where it was made? Used to check that a refactor changes no result.

    python benchmarks/compare_results.py OLD/results NEW/results

Per kind of file: tables, CSV, Markdown, HTML, LaTeX and PNG byte for byte; Parquet by content
(the metadata carries provenance: the git commit); JSON without its provenance, timing and upstream-hash keys;
PDF by its drawing streams (a PDF made before figures dropped their creation date differs there
only); safetensors by tensors (the file's alias map may be written in any order); train_log.csv
without its timing columns. Logs and benchmark files are skipped. Prints one line per difference
and a count; exits 1 when anything differs or is missing.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pandas as pd

TIMING_KEYS = {"provenance", "fit_seconds", "timings_s", "train_seconds", "elapsed_s", "epoch_seconds",
               "samples_per_second", "seconds", "started", "finished"}
SKIPPED_PARTS = {"logs", "benchmarks"}


def recorded_elsewhere(key: str) -> bool:
    """Keys that hold when or where a file was made: timings, provenance, and the SHA-256 of an
    upstream file (its Parquet metadata holds the git commit; its content is compared itself)."""
    return key in TIMING_KEYS or key.endswith("_s") or key.endswith("_sha256")


def without_timing(value):
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if not recorded_elsewhere(k)}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


def pdf_streams(path: Path) -> list[bytes]:
    return re.findall(rb"stream\r?\n(.*?)endstream", path.read_bytes(), flags=re.S)


def same(old: Path, new: Path) -> bool:
    suffix = old.suffix
    if suffix == ".parquet":
        a, b = pd.read_parquet(old), pd.read_parquet(new)
        return a.shape == b.shape and a.columns.equals(b.columns) and a.astype(str).equals(b.astype(str))
    if suffix == ".json":
        return without_timing(json.loads(old.read_text())) == without_timing(json.loads(new.read_text()))
    if suffix == ".pdf":
        return pdf_streams(old) == pdf_streams(new)
    if suffix == ".safetensors":
        from safetensors.numpy import load_file

        a, b = load_file(str(old)), load_file(str(new))
        return a.keys() == b.keys() and all((a[k] == b[k]).all() and a[k].dtype == b[k].dtype for k in a)
    if old.name == "train_log.csv":
        a, b = pd.read_csv(old), pd.read_csv(new)
        keep = [c for c in a.columns if "seconds" not in c and c != "elapsed_s"]
        return list(a.columns) == list(b.columns) and a[keep].equals(b[keep])
    return old.read_bytes() == new.read_bytes()


def compare(old_root: Path, new_root: Path) -> int:
    def files(root):
        return {p.relative_to(root) for p in root.rglob("*")
                if p.is_file() and not SKIPPED_PARTS & set(p.relative_to(root).parts) and not p.name.startswith(".")}

    old, new = files(old_root), files(new_root)
    problems = [f"only in {old_root}: {p}" for p in sorted(old - new)]
    problems += [f"only in {new_root}: {p}" for p in sorted(new - old)]
    compared = sorted(old & new)
    problems += [f"differs: {p}" for p in compared if not same(old_root / p, new_root / p)]
    for line in problems:
        print(line)
    kinds = pd.Series([p.suffix for p in compared]).value_counts().to_dict()
    print(f"{len(compared)} files compared {kinds}: {len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(compare(Path(sys.argv[1]), Path(sys.argv[2])))
