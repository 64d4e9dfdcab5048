"""Exact cosine top-k neighbours per user, computed in blocks, cached as a table.

Similarity is cosine: dot(a, b) / (|a| |b|), computed as ``(X_block @ X.T) * inv_norm_block *
inv_norm`` in float32 (a zero vector has similarity 0 to everyone). For each user the k most
similar *other* users are kept (the user itself is excluded), ordered by similarity descending,
ties by smaller neighbour id; which users enter the top k at a tie on the k-th value follows the
same rule, so the result is a pure function of the computed similarities.

Memory stays O(block_rows x N): one block of similarity rows at a time, never the N x N matrix.

``neighbors.parquet``: ``user_id`` (int32), ``neighbor_ids`` (fixed-size list of int32, k),
``similarity`` (fixed-size list of float32, k), sorted by user id.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from peapod.errors import InputError
from peapod.io import write_parquet
from peapod.provenance import stamp_table

log = logging.getLogger(__name__)

DEFAULT_BLOCK_MIB = 256  # similarity block budget: rows per block = budget / (N * BYTES_PER_CELL)
BYTES_PER_CELL = 8  # float32 similarity block + a boolean comparison mask + slack


def block_rows_for(n_users: int, block_mib: float = DEFAULT_BLOCK_MIB) -> int:
    return max(1, int(block_mib * 2**20 // (max(n_users, 1) * BYTES_PER_CELL)))


def _select_block(sim: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k columns of each row of ``sim`` (b, N): similarity descending, ties by smaller column.

    ``torch.topk`` finds k candidates per row (multi-threaded, O(N) per row; about 10x faster than
    numpy's argpartition), in no guaranteed order among equal values. Where the k-th value is tied
    with columns outside the candidates, the row is redone exactly (all columns above the k-th
    value, then the smallest columns equal to it); the final order is a lexsort."""
    import torch

    _, top = torch.topk(torch.from_numpy(sim), k, dim=1, largest=True, sorted=False)
    cand = top.numpy()  # (b, k) int64, unordered
    cand_sim = np.take_along_axis(sim, cand, axis=1)
    kth = cand_sim.min(axis=1)  # (b,) the k-th largest value
    equal_total = (sim == kth[:, None]).sum(axis=1)
    equal_taken = (cand_sim == kth[:, None]).sum(axis=1)
    for r in np.flatnonzero(equal_total > equal_taken):  # ties across the cut: fix exactly
        above = np.flatnonzero(sim[r] > kth[r])
        tied = np.flatnonzero(sim[r] == kth[r])[: k - len(above)]
        cand[r] = np.concatenate([above, tied])
    cand_sim = np.take_along_axis(sim, cand, axis=1)
    order = np.lexsort((cand, -cand_sim), axis=1)  # primary: similarity desc; secondary: column asc
    return np.take_along_axis(cand, order, axis=1), np.take_along_axis(cand_sim, order, axis=1)


def top_k_cosine(
    vectors: np.ndarray, k: int, block_rows: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (N, k) int64 and similarities (N, k) float32 of each row's k nearest other rows."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(x)
    if x.ndim != 2:
        raise ValueError(f"vectors must be (N, d), got {x.shape}")
    if not 1 <= k <= n - 1:
        raise ValueError(f"k = {k} neighbours needs 1 <= k <= N - 1 = {n - 1}")
    if not np.isfinite(x).all():
        raise ValueError("vectors contain NaN or infinite values")
    # Norms in float64 a block of rows at a time: a whole float64 copy would double peak memory.
    norms = np.concatenate(
        [np.linalg.norm(x[s : s + 65536].astype(np.float64), axis=1) for s in range(0, n, 65536)]
    )
    zero = norms == 0
    if zero.any():
        log.warning("%d zero vectors: their cosine similarity to every user is 0", int(zero.sum()))
    inv = np.where(zero, 0.0, 1.0 / np.where(zero, 1.0, norms)).astype(np.float32)  # (N,)
    block_rows = block_rows or block_rows_for(n)
    indices = np.empty((n, k), dtype=np.int64)
    sims = np.empty((n, k), dtype=np.float32)
    xt = np.ascontiguousarray(x.T)  # (d, N)
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        sim = x[start:stop] @ xt  # (b, N) dot products
        sim *= inv[start:stop, None]
        sim *= inv[None, :]
        sim[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # the user itself
        indices[start:stop], sims[start:stop] = _select_block(sim, k)
    return indices, sims


def build_neighbors(user_ids: np.ndarray, vectors: np.ndarray, k: int, block_rows: int | None = None):
    """(user_ids (N,), neighbour ids (N, k), similarities (N, k)) in dataset ids."""
    user_ids = np.asarray(user_ids, dtype=np.int64)
    indices, sims = top_k_cosine(vectors, k, block_rows)
    return user_ids, user_ids[indices], sims


def neighbors_schema(k: int) -> pa.Schema:
    return pa.schema(
        [
            ("user_id", pa.int32()),
            ("neighbor_ids", pa.list_(pa.int32(), k)),
            ("similarity", pa.list_(pa.float32(), k)),
        ]
    )


def write_neighbors(
    user_ids: np.ndarray,
    neighbor_ids: np.ndarray,
    similarity: np.ndarray,
    path: str | Path,
    record: dict | None = None,
) -> None:
    """Write the index sorted by user id; ``record`` (settings, source) is stamped in its metadata."""
    order = np.argsort(user_ids, kind="stable")
    n, k = neighbor_ids.shape
    table = pa.table(
        {
            "user_id": pa.array(user_ids[order].astype(np.int32)),
            "neighbor_ids": pa.FixedSizeListArray.from_arrays(
                pa.array(neighbor_ids[order].astype(np.int32).reshape(-1)), k
            ),
            "similarity": pa.FixedSizeListArray.from_arrays(
                pa.array(similarity[order].astype(np.float32).reshape(-1)), k
            ),
        },
        schema=neighbors_schema(k),
    )
    write_parquet(stamp_table(table, record or {}), path)


def read_neighbors(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user_ids int64 (N,), neighbor_ids int64 (N, k), similarity float32 (N, k))."""
    table = pq.read_table(path)
    fields = {f.name: f.type for f in table.schema}
    if not all(name in fields for name in ("user_id", "neighbor_ids", "similarity")) or not (
        pa.types.is_fixed_size_list(fields["neighbor_ids"]) and pa.types.is_fixed_size_list(fields["similarity"])
    ):
        raise InputError(path, f"not a neighbours table: {table.schema}")
    k = fields["neighbor_ids"].list_size
    n = table.num_rows
    user_ids = table["user_id"].to_numpy().astype(np.int64)
    neighbor_ids = table["neighbor_ids"].combine_chunks().flatten().to_numpy().astype(np.int64).reshape(n, k)
    similarity = table["similarity"].combine_chunks().flatten().to_numpy().astype(np.float32).reshape(n, k)
    if n > 1 and np.any(np.diff(user_ids) <= 0):
        raise InputError(path, "user ids are not strictly increasing (unsorted or duplicated)")
    return user_ids, neighbor_ids, similarity


class NeighborIndex:
    """O(1) row access by user id: ``index[user_id] -> (neighbor_ids (k,), similarity (k,))``.

    When the ids are exactly first..first+N-1 (P5's 1..N), a row is ``user_id - first``; otherwise
    a dictionary maps ids to rows. Unknown ids raise KeyError."""

    def __init__(self, user_ids: np.ndarray, neighbor_ids: np.ndarray, similarity: np.ndarray):
        self.user_ids = np.asarray(user_ids, dtype=np.int64)
        self.neighbor_ids = neighbor_ids
        self.similarity = similarity
        n = len(self.user_ids)
        self.contiguous = bool(n and self.user_ids[0] + n - 1 == self.user_ids[-1] and np.all(np.diff(self.user_ids) == 1))
        self._offset = int(self.user_ids[0]) if n else 0
        self._rows = None if self.contiguous else {int(u): r for r, u in enumerate(self.user_ids.tolist())}

    @classmethod
    def from_file(cls, path: str | Path) -> "NeighborIndex":
        return cls(*read_neighbors(path))

    @property
    def k(self) -> int:
        return self.neighbor_ids.shape[1]

    def __len__(self) -> int:
        return len(self.user_ids)

    def row(self, user_id: int) -> int:
        if self.contiguous:
            r = int(user_id) - self._offset
            if 0 <= r < len(self.user_ids):
                return r
            raise KeyError(user_id)
        return self._rows[int(user_id)]

    def __getitem__(self, user_id: int) -> tuple[np.ndarray, np.ndarray]:
        r = self.row(user_id)
        return self.neighbor_ids[r], self.similarity[r]

    def rows(self, user_ids: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`row` for a batch of ids."""
        user_ids = np.asarray(user_ids, dtype=np.int64)
        if self.contiguous:
            r = user_ids - self._offset
            if len(r) and (r.min() < 0 or r.max() >= len(self.user_ids)):
                raise KeyError("unknown user id in batch")
            return r
        return np.fromiter((self._rows[int(u)] for u in user_ids), dtype=np.int64, count=len(user_ids))

    def neighbors(self, user_ids: np.ndarray, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The first ``k`` (default all) neighbours of each id: ((B, k) ids, (B, k) similarities)."""
        k = self.k if k is None else k
        if not 1 <= k <= self.k:
            raise ValueError(f"asked for {k} neighbours; the index holds {self.k}")
        r = self.rows(user_ids)
        return self.neighbor_ids[r, :k], self.similarity[r, :k]


def build_neighbors_stage(embeddings_path: str | Path, output_path: str | Path, k: int, block_mib: float) -> None:
    from peapod.embeddings.io import read_user_embeddings

    user_ids, vectors = read_user_embeddings(embeddings_path)
    if k > len(user_ids) - 1:
        raise InputError(embeddings_path, f"{len(user_ids)} users cannot give k = {k} neighbours each")
    block_rows = block_rows_for(len(user_ids), block_mib)
    log.info("%d users x %d dims, k = %d, %d rows per block", len(user_ids), vectors.shape[1], k, block_rows)
    ids, neighbor_ids, sims = build_neighbors(user_ids, vectors, k, block_rows)
    record = {"config": {"k": k, "block_mib": block_mib}, "embeddings": str(embeddings_path)}
    write_neighbors(ids, neighbor_ids, sims, output_path, record)
