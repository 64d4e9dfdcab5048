"""Shared fixtures: small datasets the tests make themselves (all through tests.helpers.make_demo)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import GROUPED_DEMO, SMALL_DEMO, make_demo


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    """A small demo dataset in P5 format (all four files plus the planted truth); tests may break it."""
    return make_demo(tmp_path / "demo", SMALL_DEMO).raw


@pytest.fixture(scope="session")
def demo_tables(tmp_path_factory) -> dict:
    """Paths of the grouped demo's tables (by name), plus ``truth`` (the planted structure)."""
    root = tmp_path_factory.mktemp("demo")
    demo = make_demo(root, GROUPED_DEMO, parquet=True)
    return demo.paths | {"truth": demo.truth, "root": root}
