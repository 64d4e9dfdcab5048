"""The files a recommendation request names: a list of users, or (user, item) pairs, in the
dataset's original ids. Free of torch, so that the workflow checks them when it loads
(peapod.preflight) with the same code the jobs read them with (peapod.evaluation.recommend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from peapod.errors import InputError


class IdMap:
    """Original ids <-> the dataset's numeric ids of users or items (a users/items table)."""

    def __init__(self, table: pd.DataFrame, id_column: str, kind: str):
        self.kind = kind
        self.raw_of = dict(zip(table[id_column].astype(int), table["raw_id"].astype(str)))
        self.id_of = {raw: i for i, raw in self.raw_of.items()}

    def ids(self, raw_ids, path: Path, places: list[int | str]) -> list[int]:
        """The numeric id of each original id read from ``path`` (``places``: its line or record)."""
        out = []
        for raw, place in zip(raw_ids, places):
            if raw not in self.id_of:
                raise InputError(path, f"{self.kind} {raw!r} is not in the dataset", place)
            out.append(self.id_of[raw])
        return out


def _read_id_columns(path: Path, columns: tuple[str, ...]) -> tuple[pd.DataFrame, list[int | str]]:
    """The ``columns`` of a .csv/.tsv (header on line 1) or .parquet file, as strings, and each
    row's place (its file line, or record number for Parquet)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
        places: list[int | str] = [str(i) for i in range(len(frame))]
    elif suffix in (".csv", ".tsv"):
        frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False,
                            skip_blank_lines=False)
        places = list(range(2, len(frame) + 2))
    else:
        raise InputError(path, "must be a .csv, .tsv or .parquet file")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(path, f"lacks the column(s) {missing}; found {list(frame.columns)}")
    frame = frame[list(columns)].astype(str).apply(lambda col: col.str.strip())
    for column in columns:
        empty = frame[column] == ""
        if empty.any():
            raise InputError(path, f"empty {column}", places[int(np.flatnonzero(empty)[0])])
    return frame, places


def read_user_list(path: str | Path, users: IdMap) -> list[int]:
    """The users of a list file: a .txt with one original user id per line (blank lines and lines
    starting with # skipped), or a .csv/.tsv/.parquet with a ``user`` column. Each user once, in
    the file's order."""
    path = Path(path)
    if path.suffix.lower() == ".txt":
        raw, places = [], []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            text = line.strip()
            if text and not text.startswith("#"):
                raw.append(text)
                places.append(number)
    else:
        frame, places = _read_id_columns(path, ("user",))
        raw = frame["user"].tolist()
    if not raw:
        raise InputError(path, "lists no user")
    return list(dict.fromkeys(users.ids(raw, path, places)))


def read_pairs(path: str | Path, users: IdMap, items: IdMap) -> tuple[list[int], list[int]]:
    """(user ids, item ids) of a .csv/.tsv/.parquet with columns ``user`` and ``item`` (original ids)."""
    path = Path(path)
    frame, places = _read_id_columns(path, ("user", "item"))
    if frame.empty:
        raise InputError(path, "lists no (user, item) pair")
    return users.ids(frame["user"].tolist(), path, places), items.ids(frame["item"].tolist(), path, places)
