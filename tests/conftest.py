"""Shared fixtures: small datasets the tests make themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from peapod.data.demo import DemoConfig, write_demo_dataset

REPO = Path(__file__).resolve().parents[1]
SHARED_BEAUTY = REPO.parent / "shared" / "data" / "p5-beauty"

SMALL_DEMO = DemoConfig(n_users=120, n_items=160, n_groups=4, min_length=5, max_length=10, seed=3)


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
