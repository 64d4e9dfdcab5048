"""Typed Parquet tables and dataset statistics from a :class:`RawDataset`.

Tables (one directory per dataset):
  users.parquet         user_id, raw_id, n_items
  items.parquet         item_id, raw_id, n_interactions
  sequences.parquet     user_id, position, item_id, role (train | valid | test: leave-two-out)
  candidates.parquet    user_id, split (valid | test), target, negatives (list of K item ids)
  explanations.parquet  split, user_id, item_id, explanation, feature, rating, timestamp
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from peapod.data.raw import RawDataset
from peapod.errors import InputError
from peapod.io import write_json, write_parquet

TABLE_NAMES = ("users", "items", "sequences", "candidates", "explanations")

SCHEMAS = {
    "users": pa.schema([("user_id", pa.int32()), ("raw_id", pa.string()), ("n_items", pa.int32())]),
    "items": pa.schema([("item_id", pa.int32()), ("raw_id", pa.string()), ("n_interactions", pa.int32())]),
    "sequences": pa.schema(
        [("user_id", pa.int32()), ("position", pa.int32()), ("item_id", pa.int32()), ("role", pa.string())]
    ),
    "candidates": pa.schema(
        [("user_id", pa.int32()), ("split", pa.string()), ("target", pa.int32()), ("negatives", pa.list_(pa.int32()))]
    ),
    "explanations": pa.schema(
        [
            ("split", pa.string()),
            ("user_id", pa.int32()),
            ("item_id", pa.int32()),
            ("explanation", pa.string()),
            ("feature", pa.string()),
            ("rating", pa.float32()),
            ("timestamp", pa.int64()),
        ]
    ),
}


class TooFewNegatives(ValueError):
    """The catalogue is too small to draw a user's negatives (the reader maps it to its file)."""

    def __init__(self, user: int, available: int, n_negatives: int):
        self.user = user
        super().__init__(
            f"user {user} has only {available} catalogue item(s) outside their history, too few to draw "
            f"{n_negatives} negatives (lower preprocess.n_negatives or use a larger catalogue)"
        )


def sample_negatives(
    sequences: dict[int, list[int]], catalogue: list[int], n_negatives: int, rng: np.random.Generator
) -> dict[int, list[int]]:
    """For each user, ``n_negatives`` distinct items drawn uniformly from the catalogue items the
    user never interacted with (any role)."""
    catalogue_arr = np.asarray(sorted(catalogue), dtype=np.int64)
    catalogue_set = set(catalogue)
    result: dict[int, list[int]] = {}
    for user, seq in sequences.items():
        history = set(seq)
        available = len(catalogue_arr) - len(history & catalogue_set)
        if available < n_negatives:
            raise TooFewNegatives(user, available, n_negatives)
        chosen: dict[int, None] = {}  # insertion-ordered set
        while len(chosen) < n_negatives:
            draw = catalogue_arr[rng.integers(0, len(catalogue_arr), size=2 * n_negatives + len(history))]
            for item in draw.tolist():
                if item not in history:
                    chosen[item] = None
                    if len(chosen) == n_negatives:
                        break
        result[user] = list(chosen)
    return result


@dataclass
class DatasetTables:
    tables: dict[str, pa.Table]
    stats: dict[str, Any]


def build_tables(
    raw: RawDataset, name: str, n_negatives: int = 99, negative_seed: int = 2022
) -> DatasetTables:
    users_sorted = sorted(raw.sequences)
    catalogue = sorted(raw.items)
    notes = list(raw.notes)

    if raw.test_negatives is None:
        test_negatives = sample_negatives(
            raw.sequences, catalogue, n_negatives, np.random.default_rng([negative_seed, 0])
        )
        negatives_source = f"sampled uniformly from non-interacted items (seed {negative_seed})"
        notes.append(f"no negatives file: test negatives {negatives_source}")
    else:
        test_negatives = raw.test_negatives
        negatives_source = "file"
    # Fixed validation negatives, so validation loss and metrics do not move between epochs.
    valid_negatives = sample_negatives(
        raw.sequences, catalogue, n_negatives, np.random.default_rng([negative_seed, 1])
    )

    seq_user, seq_pos, seq_item, seq_role = [], [], [], []
    interactions: dict[int, int] = {i: 0 for i in catalogue}
    for user in users_sorted:
        seq = raw.sequences[user]
        n = len(seq)
        for position, item in enumerate(seq):
            seq_user.append(user)
            seq_pos.append(position)
            seq_item.append(item)
            seq_role.append("test" if position == n - 1 else "valid" if position == n - 2 else "train")
            interactions[item] += 1

    cand_user, cand_split, cand_target, cand_negs = [], [], [], []
    for split, negatives, offset in (("valid", valid_negatives, 2), ("test", test_negatives, 1)):
        for user in users_sorted:
            cand_user.append(user)
            cand_split.append(split)
            cand_target.append(raw.sequences[user][-offset])
            cand_negs.append(negatives[user])

    exp_records = raw.explanations or []
    tables = {
        "users": pa.table(
            {
                "user_id": users_sorted,
                "raw_id": [raw.users[u] for u in users_sorted],
                "n_items": [len(raw.sequences[u]) for u in users_sorted],
            },
            schema=SCHEMAS["users"],
        ),
        "items": pa.table(
            {
                "item_id": catalogue,
                "raw_id": [raw.items[i] for i in catalogue],
                "n_interactions": [interactions[i] for i in catalogue],
            },
            schema=SCHEMAS["items"],
        ),
        "sequences": pa.table(
            {"user_id": seq_user, "position": seq_pos, "item_id": seq_item, "role": seq_role},
            schema=SCHEMAS["sequences"],
        ),
        "candidates": pa.table(
            {"user_id": cand_user, "split": cand_split, "target": cand_target, "negatives": cand_negs},
            schema=SCHEMAS["candidates"],
        ),
        "explanations": pa.table(
            {
                "split": [r.split for r in exp_records],
                "user_id": [r.user_id for r in exp_records],
                "item_id": [r.item_id for r in exp_records],
                "explanation": [r.explanation for r in exp_records],
                "feature": [r.feature for r in exp_records],
                "rating": [r.rating for r in exp_records],
                "timestamp": [r.timestamp for r in exp_records],
            },
            schema=SCHEMAS["explanations"],
        ),
    }

    lengths = [len(raw.sequences[u]) for u in users_sorted]
    n_interactions = len(seq_item)
    density = n_interactions / (len(users_sorted) * len(catalogue))
    exp_counts = {s: sum(r.split == s for r in exp_records) for s in ("train", "valid", "test")}
    held_out = {(u, i) for u in users_sorted for i in raw.sequences[u][-2:]}
    leaked = sum(r.split == "train" and (r.user_id, r.item_id) in held_out for r in exp_records)
    stats = {
        "dataset": name,
        # The columns of the paper's dataset table.
        "users": len(users_sorted),
        "items": len(catalogue),
        "reviews": n_interactions,
        "density_pct": round(100 * density, 4),
        "sequence_length": {
            "mean": round(statistics.fmean(lengths), 3),
            "median": statistics.median(lengths),
            "min": min(lengths),
            "max": max(lengths),
        },
        "explanation_task": raw.explanations is not None,
        "explanations": exp_counts,
        # Defect 8 of the released code made visible: train explanations on a held-out item.
        "train_explanations_on_valid_or_test_item": leaked,
        "negatives_per_user": n_negatives,
        "test_negatives_source": negatives_source,
        "valid_negatives_source": f"sampled uniformly from non-interacted items (seed {negative_seed})",
        "notes": notes,
    }
    return DatasetTables(tables, stats)


def write_dataset(tables: DatasetTables, outputs: dict[str, str | Path], stats_path: str | Path) -> None:
    """Write every table to its path (keys of ``TABLE_NAMES``) and the statistics, each atomically."""
    for name in TABLE_NAMES:
        write_parquet(tables.tables[name], outputs[name])
    write_json(tables.stats, stats_path)


def read_table(path: str | Path, name: str) -> pa.Table:
    """Read one of our tables and check it has the expected schema."""
    table = pq.read_table(path)
    expected = SCHEMAS[name]
    if not table.schema.equals(expected, check_metadata=False):
        raise InputError(path, f"schema {table.schema} differs from the expected {name} schema {expected}")
    return table


def sequences_from_table(table: pa.Table) -> dict[int, list[int]]:
    """Rebuild {user id: items in time order} from a sequences table."""
    df = table.to_pandas().sort_values(["user_id", "position"], kind="stable")
    return {int(u): g["item_id"].astype(int).tolist() for u, g in df.groupby("user_id", sort=True)}


def statistics_table(all_stats: list[dict[str, Any]]) -> "pd.DataFrame":
    """The paper's dataset table (users, items, reviews, density) plus explanation counts."""
    import pandas as pd

    rows = [
        {
            "dataset": s["dataset"],
            "users": s["users"],
            "items": s["items"],
            "reviews": s["reviews"],
            "density_pct": s["density_pct"],
            "explanations_train": s["explanations"]["train"],
            "explanations_valid": s["explanations"]["valid"],
            "explanations_test": s["explanations"]["test"],
            "test_negatives": "file" if s["test_negatives_source"] == "file" else "sampled",
        }
        for s in all_stats
    ]
    return pd.DataFrame(rows)
