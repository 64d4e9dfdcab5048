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
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from peapod.data.raw import RawDataset
from peapod.errors import InputError
from peapod.io import write_json, write_parquet
from peapod.splits import EXPLANATION_SPLITS, N_HELD_OUT, held_out_items, held_out_target, role_of, training_items

if TYPE_CHECKING:  # pandas is imported only where the statistics table is built
    import pandas as pd

TABLE_NAMES = ("users", "items", "sequences", "candidates", "explanations")
GENERATOR_TABLES = ("sequences", "items", "explanations", "candidates")  # what training and evaluation read

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
    """The five typed tables of a dataset (users, items, sequences with their leave-two-out roles,
    the fixed 99-negative candidates of validation and test, explanations) and its statistics.
    Test negatives come from the raw data when it has them, else are sampled with ``negative_seed``;
    validation negatives are always sampled (fixed, so validation does not move between epochs)."""
    users = sorted(raw.sequences)
    notes = list(raw.notes)
    test_negatives, negatives_source = raw.test_negatives, "file"
    if test_negatives is None:
        test_negatives = sample_negatives(raw.sequences, sorted(raw.items), n_negatives,
                                          np.random.default_rng([negative_seed, 0]))
        negatives_source = f"sampled uniformly from non-interacted items (seed {negative_seed})"
        notes.append(f"no negatives file: test negatives {negatives_source}")
    valid_negatives = sample_negatives(raw.sequences, sorted(raw.items), n_negatives,
                                       np.random.default_rng([negative_seed, 1]))
    tables = {
        "users": users_table(raw, users),
        "items": items_table(raw),
        "sequences": sequences_table(raw, users),
        "candidates": candidates_table(raw, users, {"valid": valid_negatives, "test": test_negatives}),
        "explanations": explanations_table(raw.explanations or []),
    }
    stats = dataset_statistics(raw, name, tables["sequences"].num_rows, notes)
    stats.update({
        "negatives_per_user": n_negatives,
        "test_negatives_source": negatives_source,
        "valid_negatives_source": f"sampled uniformly from non-interacted items (seed {negative_seed})",
        "notes": notes,
    })  # fmt: skip
    return DatasetTables(tables, stats)


def users_table(raw: RawDataset, users: list[int]) -> pa.Table:
    columns = {"user_id": users, "raw_id": [raw.users[u] for u in users],
               "n_items": [len(raw.sequences[u]) for u in users]}
    return pa.table(columns, schema=SCHEMAS["users"])


def items_table(raw: RawDataset) -> pa.Table:
    catalogue = sorted(raw.items)
    interactions: dict[int, int] = {i: 0 for i in catalogue}
    for seq in raw.sequences.values():
        for item in seq:
            interactions[item] += 1
    columns = {"item_id": catalogue, "raw_id": [raw.items[i] for i in catalogue],
               "n_interactions": [interactions[i] for i in catalogue]}
    return pa.table(columns, schema=SCHEMAS["items"])


def sequences_table(raw: RawDataset, users: list[int]) -> pa.Table:
    """One row per interaction in time order, with its split role (peapod.splits)."""
    columns: dict[str, list] = {"user_id": [], "position": [], "item_id": [], "role": []}
    for user in users:
        seq = raw.sequences[user]
        for position, item in enumerate(seq):
            columns["user_id"].append(user)
            columns["position"].append(position)
            columns["item_id"].append(item)
            columns["role"].append(role_of(position, len(seq)))
    return pa.table(columns, schema=SCHEMAS["sequences"])


def candidates_table(raw: RawDataset, users: list[int], negatives: dict[str, dict[int, list[int]]]) -> pa.Table:
    """Per split (valid, then test) and user: the held-out target and its fixed negatives."""
    columns: dict[str, list] = {"user_id": [], "split": [], "target": [], "negatives": []}
    for split in ("valid", "test"):
        for user in users:
            columns["user_id"].append(user)
            columns["split"].append(split)
            columns["target"].append(held_out_target(raw.sequences[user], split))
            columns["negatives"].append(negatives[split][user])
    return pa.table(columns, schema=SCHEMAS["candidates"])


def explanations_table(records: list) -> pa.Table:
    fields = ("split", "user_id", "item_id", "explanation", "feature", "rating", "timestamp")
    columns = {f: [getattr(r, f) for r in records] for f in fields}
    return pa.table(columns, schema=SCHEMAS["explanations"])


def dataset_statistics(raw: RawDataset, name: str, n_interactions: int, notes: list[str]) -> dict[str, Any]:
    """The paper's dataset table (users, items, reviews, density), sequence lengths and explanation
    counts, and how many training explanations fall on a held-out item."""
    users = sorted(raw.sequences)
    lengths = [len(raw.sequences[u]) for u in users]
    records = raw.explanations or []
    held_out = {(u, i) for u in users for i in held_out_items(raw.sequences[u])}
    return {
        "dataset": name,
        # The columns of the paper's dataset table.
        "users": len(users),
        "items": len(raw.items),
        "reviews": n_interactions,
        "density_pct": round(100 * (n_interactions / (len(users) * len(raw.items))), 4),
        "sequence_length": {
            "mean": round(statistics.fmean(lengths), 3),
            "median": statistics.median(lengths),
            "min": min(lengths),
            "max": max(lengths),
        },
        "explanation_task": raw.explanations is not None,
        "explanations": {s: sum(r.split == s for r in records) for s in EXPLANATION_SPLITS},
        # P5's id-order leak (items numbered by first appearance): how often the test item's id is
        # the next id after the last training item's (role train) and after the item just before it.
        **id_order_shares(raw.sequences),
        # Defect 8 of the released code made visible: train explanations on a held-out item.
        "train_explanations_on_valid_or_test_item": sum(
            r.split == "train" and (r.user_id, r.item_id) in held_out for r in records
        ),
    }


def id_order_shares(sequences: Mapping[int, Sequence[int]]) -> dict[str, float]:
    """Share of users whose test item id is the last training item's id + 1, and the share whose
    test item id is the previous item's (the validation item's) id + 1 (rounded to 4 decimals)."""
    users = [u for u, items in sequences.items() if len(items) > N_HELD_OUT]
    if not users:
        return {"test_is_last_train_plus_1": 0.0, "test_is_previous_plus_1": 0.0}
    after_train = sum(held_out_target(sequences[u], "test") == training_items(sequences[u])[-1] + 1 for u in users)
    after_previous = sum(sequences[u][-1] == sequences[u][-2] + 1 for u in users)
    return {"test_is_last_train_plus_1": round(after_train / len(users), 4),
            "test_is_previous_plus_1": round(after_previous / len(users), 4)}


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


def read_tables(paths: Mapping[str, str | Path]) -> dict[str, pa.Table]:
    """Each table of ``paths`` ({table name: file}), read and checked against its schema."""
    return {name: read_table(path, name) for name, path in paths.items()}


def declared_tables(inputs) -> dict[str, str]:
    """{table name: file} of the ``<table>_table`` entries of a rule's inputs (Snakemake reserves
    the name ``items``, so the workflow names its table inputs with this suffix)."""
    return {name[: -len("_table")]: path for name, path in inputs.items() if name.endswith("_table")}


def table_paths(data_dir: str | Path, names: Iterable[str] = TABLE_NAMES) -> dict[str, Path]:
    """{table name: file} in one dataset's data directory, for interactive use, tests and
    benchmarks (the workflow's scripts pass the files their rule declared)."""
    return {name: Path(data_dir) / f"{name}.parquet" for name in names}


def user_sequences(table: pa.Table) -> dict[int, np.ndarray]:
    """{user id: item ids in time order (int64)} from a sequences table."""
    df = table.to_pandas().sort_values(["user_id", "position"], kind="stable")
    return {int(u): g["item_id"].to_numpy(np.int64) for u, g in df.groupby("user_id", sort=True)}


def sequences_from_table(table: pa.Table) -> dict[int, list[int]]:
    """Rebuild {user id: items in time order} from a sequences table, as plain lists."""
    return {user: items.tolist() for user, items in user_sequences(table).items()}


def item_catalogue(table: pa.Table) -> np.ndarray:
    """Every item id of an items table, sorted (int64)."""
    return np.sort(table.column("item_id").to_numpy().astype(np.int64))


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
