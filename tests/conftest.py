"""Shared fixtures: a small demo dataset with planted user groups, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from peapod.data.demo import DemoConfig, read_planted_structure, write_demo_dataset
from peapod.data.p5 import read_p5_directory
from peapod.data.tables import TABLE_NAMES, build_tables, write_dataset

SMALL_DEMO = DemoConfig(n_users=240, n_items=160, n_groups=4, min_length=6, max_length=12, seed=3)


@pytest.fixture(scope="session")
def demo_tables(tmp_path_factory) -> dict:
    """Paths of the small demo's tables (by name), plus ``truth`` (the planted structure)."""
    root = tmp_path_factory.mktemp("demo")
    paths = write_demo_dataset(SMALL_DEMO, root / "raw")
    tables = build_tables(read_p5_directory(root / "raw"), "demo")
    outputs = {name: root / "data" / f"{name}.parquet" for name in TABLE_NAMES}
    write_dataset(tables, outputs, root / "data" / "stats.json")
    return {name: Path(p) for name, p in outputs.items()} | {"truth": read_planted_structure(paths["truth"]), "root": root}
