"""The embedding files later stages read.

``user_embeddings.parquet``: columns ``user_id`` (int32) and ``embedding`` (fixed-size list of
float32, dimension d), one row per dataset user, sorted by user id. File metadata records the
model that made the vectors.

``item_embeddings.parquet``: the same layout keyed by ``item_id``, one row per catalogue item, for
sources that have item factors (PMF, BiVAE, LightGCN); a source without them (a user's own file)
writes the file with no rows, and ``read_item_embeddings`` says so when a run asks for them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from peapod.errors import InputError
from peapod.io import write_parquet
from peapod.provenance import stamp_table


def embedding_schema(dim: int, id_column: str = "user_id") -> pa.Schema:
    return pa.schema([(id_column, pa.int32()), ("embedding", pa.list_(pa.float32(), dim))])


def write_user_embeddings(
    user_ids: np.ndarray,
    vectors: np.ndarray,
    path: str | Path,
    source: str = "",
    record: dict | None = None,
) -> None:
    """Write (N,) user ids and (N, d) vectors, sorted by id, atomically; ``record`` (config, seed)
    is stamped in the metadata with the provenance."""
    _write_vectors(user_ids, vectors, path, "user_id", source, record)


def write_item_embeddings(
    item_ids: np.ndarray | None,
    vectors: np.ndarray | None,
    path: str | Path,
    dim: int,
    source: str = "",
    record: dict | None = None,
) -> None:
    """Write a source's item factors (None: a source without them, written as a file with no rows)."""
    if vectors is None:
        item_ids, vectors = np.zeros(0, np.int64), np.zeros((0, dim), np.float32)
    _write_vectors(item_ids, vectors, path, "item_id", source, record)


def _write_vectors(ids, vectors, path, id_column: str, source: str, record: dict | None) -> None:
    user_ids = np.asarray(ids)
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(user_ids) != len(vectors):
        raise ValueError(f"need (N,) ids and (N, d) vectors, got {user_ids.shape} and {vectors.shape}")
    if not np.isfinite(vectors).all():
        raise ValueError("refusing to write non-finite embedding values")
    if len(np.unique(user_ids)) != len(user_ids):
        raise ValueError("duplicate user ids")
    order = np.argsort(user_ids, kind="stable")
    n, dim = vectors.shape
    flat = pa.array(np.ascontiguousarray(vectors[order]).reshape(-1), type=pa.float32())
    table = pa.table(
        {
            id_column: pa.array(user_ids[order].astype(np.int32), type=pa.int32()),
            "embedding": pa.FixedSizeListArray.from_arrays(flat, dim),
        },
        schema=embedding_schema(dim, id_column),
    )
    metadata = {b"peapod.source": source.encode()}
    write_parquet(stamp_table(table.replace_schema_metadata(metadata), record or {}), path)


def read_user_embeddings(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(user_ids int64 (N,), vectors float32 (N, d)) from a file written by write_user_embeddings."""
    return _read_vectors(path, "user_id")


def read_item_embeddings(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(item_ids int64 (I,), vectors float32 (I, d)) from a file written by write_item_embeddings;
    an InputError when the source had no item factors."""
    item_ids, vectors = _read_vectors(path, "item_id")
    if len(item_ids) == 0:
        source = (pq.read_schema(path).metadata or {}).get(b"peapod.source", b"").decode()
        raise InputError(path, f"the {source or 'embedding'} source has no item factors (a user-supplied "
                               "file holds user vectors only), so generator.item_init: cf cannot be used with it")
    return item_ids, vectors


def _read_vectors(path: str | Path, id_column: str) -> tuple[np.ndarray, np.ndarray]:
    table = pq.read_table(path)
    embedding = table.schema.field("embedding") if "embedding" in table.column_names else None
    if (
        id_column not in table.column_names
        or embedding is None
        or not pa.types.is_fixed_size_list(embedding.type)
        or embedding.type.value_type != pa.float32()
    ):
        raise InputError(path, f"expected columns {id_column} and embedding (fixed-size list of float32), got {table.schema}")
    dim = embedding.type.list_size
    user_ids = table[id_column].to_numpy().astype(np.int64)
    column = table["embedding"].combine_chunks()
    if column.null_count:
        raise InputError(path, f"{column.null_count} null embeddings")
    vectors = column.flatten().to_numpy(zero_copy_only=False).reshape(len(user_ids), dim)
    if len(user_ids) > 1 and np.any(np.diff(user_ids) <= 0):
        raise InputError(path, f"{id_column} values are not strictly increasing (unsorted or duplicated)")
    return user_ids, np.ascontiguousarray(vectors, dtype=np.float32)
