"""The embedding file every later stage reads.

``user_embeddings.parquet``: columns ``user_id`` (int32) and ``embedding`` (fixed-size list of
float32, dimension d), one row per dataset user, sorted by user id. File metadata records the
model that made the vectors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from peapod.errors import InputError
from peapod.io import write_parquet
from peapod.provenance import stamp_table


def embedding_schema(dim: int) -> pa.Schema:
    return pa.schema([("user_id", pa.int32()), ("embedding", pa.list_(pa.float32(), dim))])


def write_user_embeddings(
    user_ids: np.ndarray,
    vectors: np.ndarray,
    path: str | Path,
    source: str = "",
    record: dict | None = None,
) -> None:
    """Write (N,) ids and (N, d) vectors, sorted by id, atomically; ``record`` (config, seed) is
    stamped in the metadata with the provenance."""
    user_ids = np.asarray(user_ids)
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
            "user_id": pa.array(user_ids[order].astype(np.int32), type=pa.int32()),
            "embedding": pa.FixedSizeListArray.from_arrays(flat, dim),
        },
        schema=embedding_schema(dim),
    )
    metadata = {b"peapod.source": source.encode()}
    write_parquet(stamp_table(table.replace_schema_metadata(metadata), record or {}), path)


def read_user_embeddings(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(user_ids int64 (N,), vectors float32 (N, d)) from a file written by write_user_embeddings."""
    table = pq.read_table(path)
    embedding = table.schema.field("embedding") if "embedding" in table.column_names else None
    if (
        "user_id" not in table.column_names
        or embedding is None
        or not pa.types.is_fixed_size_list(embedding.type)
        or embedding.type.value_type != pa.float32()
    ):
        raise InputError(path, f"expected columns user_id and embedding (fixed-size list of float32), got {table.schema}")
    dim = embedding.type.list_size
    user_ids = table["user_id"].to_numpy().astype(np.int64)
    column = table["embedding"].combine_chunks()
    if column.null_count:
        raise InputError(path, f"{column.null_count} null embeddings")
    vectors = column.flatten().to_numpy(zero_copy_only=False).reshape(len(user_ids), dim)
    if len(user_ids) > 1 and np.any(np.diff(user_ids) <= 0):
        raise InputError(path, "user ids are not strictly increasing (unsorted or duplicated)")
    return user_ids, np.ascontiguousarray(vectors, dtype=np.float32)
