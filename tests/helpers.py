"""Shared test helpers: repository paths, small files, and the one factory of demo datasets.

Every test that needs the synthetic demo (raw P5 files, the data stage's tables, their Parquet
files, TaskData or the planted truth) gets it from :func:`make_demo`; test modules import from
here (or from ``generator_helpers`` / ``workflow_helpers`` / ``aggregate_fixtures``), never from
one another.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from peapod.data.demo import DemoConfig, read_planted_structure, write_demo_dataset
from peapod.data.p5 import read_p5_directory
from peapod.data.tables import DatasetTables, build_tables, table_paths, write_dataset

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = REPO / "config" / "templates.yaml"
SHARED_BEAUTY = REPO.parent / "shared" / "data" / "p5-beauty"

SMALL_DEMO = DemoConfig(n_users=120, n_items=160, n_groups=4, min_length=5, max_length=10, seed=3)
# Larger, for the CF models that must recover the planted groups.
GROUPED_DEMO = DemoConfig(n_users=240, n_items=160, n_groups=4, min_length=6, max_length=12, seed=3)


def write_lines(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))
    return path


# ---- the demo factory ----------------------------------------------------------------------------
@dataclass
class Demo:
    """A demo dataset under ``root``: the raw P5 files in ``raw``; the data stage's tables (built on
    first use), their Parquet files in ``data`` (``write_parquet``) and the generator's TaskData."""

    cfg: DemoConfig
    root: Path
    raw: Path
    files: dict[str, Path] = field(repr=False)  # write_demo_dataset's paths (P5 files + truth)

    @cached_property
    def truth(self) -> dict:
        """The planted structure (groups, chains, features)."""
        return read_planted_structure(self.files["truth"])

    @cached_property
    def built(self) -> DatasetTables:
        """The data stage's tables and statistics, built from the raw files."""
        n = self.cfg.n_negatives
        return build_tables(read_p5_directory(self.raw, n_negatives=n), "demo", n_negatives=n)

    @property
    def tables(self) -> dict:
        """Table name -> pyarrow Table."""
        return self.built.tables

    @property
    def data(self) -> Path:
        """The data stage's output directory (written by ``write_parquet``)."""
        return self.root / "data"

    @property
    def paths(self) -> dict[str, Path]:
        """Table name -> its Parquet path (written by ``write_parquet``)."""
        return table_paths(self.data)

    def write_parquet(self) -> Path:
        """Write every table as Parquet and stats.json into ``data``, as the data stage does (once);
        returns ``data``."""
        if not (self.data / "stats.json").exists():
            write_dataset(self.built, self.paths, self.data / "stats.json")
        return self.data

    def task_data(self):
        """The generator's view of the tables."""
        from peapod.generator.data import TaskData

        return TaskData.from_tables(self.tables)


def make_demo(root: Path, cfg: DemoConfig = SMALL_DEMO, parquet: bool = False, raw: Path | None = None) -> Demo:
    """Write the demo ``cfg`` in P5 format into ``raw`` (default ``root / "raw"``); with
    ``parquet``, also run the data stage into ``root / "data"`` at once."""
    root = Path(root)
    raw = root / "raw" if raw is None else Path(raw)
    demo = Demo(cfg, root, raw, write_demo_dataset(cfg, raw))
    if parquet:
        demo.write_parquet()
    return demo


# ---- raw Amazon reviews ---------------------------------------------------------------------------
def review(user, item, time, **extra) -> dict:
    return {"reviewerID": user, "asin": item, "unixReviewTime": time, "overall": 5.0, **extra}


def dense_reviews() -> list[dict]:
    """Six users x six items, everyone reviews everything at shuffled times: a full 5-core."""
    rng = random.Random(1)
    records = []
    for u in range(6):
        for i in range(6):
            records.append(review(f"U{u}", f"I{i}", 1000 + rng.randrange(100)))
    rng.shuffle(records)
    return records


def assert_same_state_dict(a: dict, b: dict) -> None:
    """Two state dicts hold the same keys, none missing on either side, and equal tensors under each
    (zipping their values would pass an empty or a shorter dict)."""
    import torch

    assert a, "the first state dict is empty"
    assert list(a) == list(b), f"keys differ: only in the first {sorted(set(a) - set(b))[:5]}, " \
                               f"only in the second {sorted(set(b) - set(a))[:5]}"
    unequal = [k for k in a if not (a[k].shape == b[k].shape and torch.equal(a[k], b[k]))]
    assert not unequal, f"tensors differ under {unequal[:5]}"
