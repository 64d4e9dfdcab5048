"""Shared fixtures: small datasets the tests make themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from peapod.data.demo import DemoConfig, read_planted_structure, write_demo_dataset
from peapod.data.p5 import read_p5_directory
from peapod.data.tables import TABLE_NAMES, build_tables, write_dataset

REPO = Path(__file__).resolve().parents[1]
SHARED_BEAUTY = REPO.parent / "shared" / "data" / "p5-beauty"

SMALL_DEMO = DemoConfig(n_users=120, n_items=160, n_groups=4, min_length=5, max_length=10, seed=3)
# Larger, for the CF models that must recover the planted groups.
GROUPED_DEMO = DemoConfig(n_users=240, n_items=160, n_groups=4, min_length=6, max_length=12, seed=3)


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    """A small demo dataset in P5 format (all four files plus the planted truth)."""
    out = tmp_path / "demo"
    write_demo_dataset(SMALL_DEMO, out)
    return out


def write_lines(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))
    return path


@pytest.fixture(scope="session")
def demo_tables(tmp_path_factory) -> dict:
    """Paths of the grouped demo's tables (by name), plus ``truth`` (the planted structure)."""
    root = tmp_path_factory.mktemp("demo")
    paths = write_demo_dataset(GROUPED_DEMO, root / "raw")
    tables = build_tables(read_p5_directory(root / "raw"), "demo")
    outputs = {name: root / "data" / f"{name}.parquet" for name in TABLE_NAMES}
    write_dataset(tables, outputs, root / "data" / "stats.json")
    return {name: Path(p) for name, p in outputs.items()} | {"truth": read_planted_structure(paths["truth"]), "root": root}
