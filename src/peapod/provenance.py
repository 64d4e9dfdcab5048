"""What made an output: package versions and the git commit, recorded beside results."""

from __future__ import annotations

import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

PACKAGES = ("peapod-repro", "numpy", "pandas", "pyarrow", "torch", "transformers", "tokenizers", "cornac", "recbole",
            "snakemake")


def _git_commit(directory: Path) -> dict[str, Any] | None:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip() != ""  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "uncommitted_changes": dirty}


def provenance(directory: str | Path = ".") -> dict[str, Any]:
    """Python and package versions, and the git commit of the workflow directory or, where that is
    not a git checkout (a copied workflow), of the installed peapod source."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    git = _git_commit(Path(directory)) or _git_commit(Path(__file__).resolve().parent)
    return {"python": platform.python_version(), "packages": versions, "git": git}


PARQUET_KEY = b"peapod.provenance"


def stamp_table(table: pa.Table, record: dict[str, Any]) -> pa.Table:
    """``table`` with ``record`` (config, seed, ...) and :func:`provenance` in its Parquet metadata."""
    metadata = dict(table.schema.metadata or {})
    metadata[PARQUET_KEY] = json.dumps({**record, "provenance": provenance()}, default=str).encode()
    return table.replace_schema_metadata(metadata)


def read_stamp(path: str | Path) -> dict[str, Any] | None:
    """The record :func:`stamp_table` put in a Parquet file, or None."""
    metadata = pq.read_schema(path).metadata or {}
    return json.loads(metadata[PARQUET_KEY]) if PARQUET_KEY in metadata else None
