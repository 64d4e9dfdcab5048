"""User-supplied embeddings (the ``file`` source), validated against the dataset's users.

Accepted inputs:
  * Parquet with a ``user_id`` column and either an ``embedding`` list column (fixed or variable
    size lists of numbers) or numeric columns for the dimensions (every column except user_id);
  * ``.npy`` with an (N, d) matrix plus an ids file (``.npy`` with N integer ids, or text with one
    id per line) naming the user of each row.
Checks, each failing with an :class:`InputError` that names the file: 2-d shape, the configured
dimension, finite values (no NaN/inf), integer ids without duplicates, every dataset user present.
Rows for users the dataset does not have are dropped with a warning (a file may cover more users).
The file's provenance is the user's responsibility: this stage cannot check that its vectors were
fitted without validation and test interactions.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from peapod.data.textfiles import decode_utf8, is_id_token
from peapod.embeddings.base import CFEmbeddings
from peapod.errors import InputError

log = logging.getLogger(__name__)


def _read_parquet(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(path, f"cannot read as Parquet ({exc})") from None
    if "user_id" not in table.column_names:
        raise InputError(path, f"no user_id column (columns: {table.column_names})")
    ids_col = table["user_id"]
    if not pa.types.is_integer(ids_col.type):
        raise InputError(path, f"user_id must be integers, got {ids_col.type}")
    if ids_col.null_count:
        raise InputError(path, f"user_id has {ids_col.null_count} missing values")
    ids = ids_col.to_numpy().astype(np.int64)
    if "embedding" in table.column_names:
        column = table["embedding"].combine_chunks()
        if not (pa.types.is_list(column.type) or pa.types.is_fixed_size_list(column.type) or pa.types.is_large_list(column.type)):
            raise InputError(path, f"embedding must be a list column, got {column.type}")
        if column.null_count:
            row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
            raise InputError(path, "embedding is missing (null)", f"user_id {ids[row]}")
        lengths = pa.compute.list_value_length(column).to_numpy()
        if len(lengths) and (lengths != lengths[0]).any():
            row = int(np.flatnonzero(lengths != lengths[0])[0])
            raise InputError(
                path, f"embedding has {lengths[row]} dimensions, the first row has {lengths[0]}", f"user_id {ids[row]}"
            )
        if not pa.types.is_floating(column.type.value_type) and not pa.types.is_integer(column.type.value_type):
            raise InputError(path, f"embedding values must be numbers, got {column.type.value_type}")
        dim = int(lengths[0]) if len(lengths) else 0
        values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float64)
        return ids, values.reshape(len(ids), dim)
    dims = [name for name in table.column_names if name != "user_id"]
    if not dims:
        raise InputError(path, "no embedding column and no dimension columns")
    for name in dims:
        if not (pa.types.is_floating(table[name].type) or pa.types.is_integer(table[name].type)):
            raise InputError(path, f"column {name!r} is {table[name].type}, not a number")
    values = np.column_stack([table[name].to_numpy(zero_copy_only=False).astype(np.float64) for name in dims])
    return ids, values


def _load_npy(path: Path) -> np.ndarray:
    """``np.load`` without pickles (an object array is refused, its payload never runs)."""
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(path, f"cannot read as .npy ({exc})") from None


def _read_ids(path: Path) -> np.ndarray:
    if not path.exists():
        raise InputError(path, "ids file does not exist")
    if path.suffix == ".npy":
        ids = _load_npy(path)
    else:
        tokens = decode_utf8(path, path.read_bytes()).split()
        bad = next((t for t in tokens if not is_id_token(t.removeprefix("-"))), None)
        if bad is not None:
            raise InputError(path, f"{bad!r} is not an integer user id", tokens.index(bad) + 1)
        ids = np.asarray([int(t) for t in tokens], dtype=np.int64)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise InputError(path, f"ids must be a 1-d array of integers, got {ids.dtype} {ids.shape}")
    return ids.astype(np.int64)


def _read_npy(path: Path, ids_path: Path | None) -> tuple[np.ndarray, np.ndarray]:
    if ids_path is None:
        raise InputError(path, "a .npy embedding matrix needs an ids file (embeddings.file.ids_path)")
    values = _load_npy(path)
    if not (np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.integer)):
        raise InputError(path, f"values must be numbers, got {values.dtype}")
    ids = _read_ids(Path(ids_path))
    if values.ndim != 2:
        raise InputError(path, f"expected an (N, d) matrix, got shape {values.shape}")
    if len(ids) != len(values):
        raise InputError(ids_path, f"{len(ids)} ids for {len(values)} rows of {path}")
    return ids, values.astype(np.float64)


def load_user_file(
    path: str | Path, user_ids: np.ndarray, dim: int | None, ids_path: str | Path | None = None
) -> CFEmbeddings:
    """Read and validate user-supplied vectors; returns them for exactly ``user_ids`` (sorted)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "embedding file does not exist")
    if path.suffix == ".npy":
        ids, values = _read_npy(path, Path(ids_path) if ids_path else None)
    elif path.suffix in (".parquet", ".pq"):
        ids, values = _read_parquet(path)
    else:
        raise InputError(path, "unknown embedding file type: use .parquet, or .npy with an ids file")

    if values.ndim != 2 or values.shape[1] == 0:
        raise InputError(path, f"expected (N, d) vectors with d > 0, got shape {values.shape}")
    if dim is not None and values.shape[1] != dim:
        raise InputError(path, f"vectors have {values.shape[1]} dimensions, the configuration expects {dim}")
    bad_rows = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if len(bad_rows):
        first = int(bad_rows[0])
        kind = "NaN" if np.isnan(values[first]).any() else "infinite"
        raise InputError(
            path, f"{len(bad_rows)} users have NaN or infinite values (first: {kind})", f"user_id {ids[first]}"
        )
    unique, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        dup = unique[counts > 1]
        raise InputError(path, f"{len(dup)} user ids occur more than once (e.g. {int(dup[0])})")

    user_ids = np.asarray(user_ids, dtype=np.int64)
    missing = np.setdiff1d(user_ids, ids)
    if len(missing):
        shown = ", ".join(str(int(u)) for u in missing[:5])
        raise InputError(
            path, f"{len(missing)} of the dataset's {len(user_ids)} users have no vector (e.g. {shown})"
        )
    extra = np.setdiff1d(ids, user_ids)
    if len(extra):
        log.warning("%s: dropping %d rows for users the dataset does not have (e.g. %d)", path, len(extra), extra[0])
    order = np.argsort(ids)
    rows = order[np.searchsorted(ids[order], np.sort(user_ids))]
    vectors = values[rows].astype(np.float32)
    if not np.isfinite(vectors).all():
        raise InputError(path, "values overflow float32")
    return CFEmbeddings(np.sort(user_ids), vectors, info={"model": "file", "path": str(path), "dropped_rows": int(len(extra))})
