"""The neighbour index: exactness against brute force (ties included), self exclusion, blocks, lookup."""

from __future__ import annotations

import subprocess

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from peapod.errors import InputError
from peapod.neighbors import NeighborIndex, build_neighbors, read_neighbors, top_k_cosine, write_neighbors


def brute_force(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Full N x N cosine matrix (the same float32 formula), then per row a full sort by
    (similarity desc, index asc) with the row itself removed."""
    x = x.astype(np.float32)
    norms = np.linalg.norm(x.astype(np.float64), axis=1)
    inv = np.where(norms == 0, 0.0, 1.0 / np.where(norms == 0, 1.0, norms)).astype(np.float32)
    sim = (x @ x.T) * inv[:, None] * inv[None, :]
    n = len(x)
    idx = np.empty((n, k), dtype=np.int64)
    for r in range(n):
        cols = np.delete(np.arange(n), r)
        order = np.lexsort((cols, -sim[r, cols]))
        idx[r] = cols[order[:k]]
    return idx, np.take_along_axis(sim, idx, axis=1)


def tied_vectors(n=150, d=4, seed=0):
    """Small integer vectors: many exact duplicates and exactly tied similarities (integer dot
    products are exact in float32, whatever the summation order or block)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-1, 2, size=(n, d)).astype(np.float32)
    x[rng.choice(n, 5, replace=False)] = 0  # zero vectors: similarity 0 to everyone
    return x


@pytest.mark.parametrize("block_rows", [1, 7, 64, None])
def test_exact_with_ties_against_brute_force(block_rows):
    x = tied_vectors()
    k = 12
    idx, sim = top_k_cosine(x, k, block_rows)
    ref_idx, ref_sim = brute_force(x, k)
    assert np.array_equal(idx, ref_idx)
    assert np.array_equal(sim, ref_sim)
    # There really are ties crossing the k-th position (the hard case).
    full = brute_force(x, len(x) - 1)[1]
    assert (full[:, k - 1] == full[:, k]).sum() > 10


def test_exact_on_random_vectors_and_block_size_independent():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 24)).astype(np.float32)
    ref_idx, ref_sim = brute_force(x, 9)
    results = [top_k_cosine(x, 9, b) for b in (1, 13, 300)]
    for idx, sim in results:
        assert np.array_equal(idx, ref_idx)
        np.testing.assert_allclose(sim, ref_sim, rtol=0, atol=1e-6)
    # Cosine against a float64 computation.
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(results[0][1], np.take_along_axis(xn.astype(np.float64) @ xn.T.astype(np.float64), ref_idx, axis=1), atol=1e-5)


def test_self_excluded_even_with_duplicates_and_sorted_rows():
    x = tied_vectors(n=80)
    x[10] = x[11] = x[12] = np.array([1, 1, 0, 0], dtype=np.float32)
    idx, sim = top_k_cosine(x, 5, block_rows=3)
    assert not (idx == np.arange(len(x))[:, None]).any()
    assert idx[10, :2].tolist() == [11, 12] and idx[11, :2].tolist() == [10, 12] and idx[12, :2].tolist() == [10, 11]
    for r in range(len(x)):  # similarity descending, ties by smaller index
        key = list(zip((-sim[r]).tolist(), idx[r].tolist()))
        assert key == sorted(key)


def test_k_and_input_checks():
    x = np.ones((5, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="1 <= k <= N - 1 = 4"):
        top_k_cosine(x, 5)
    x[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        top_k_cosine(x, 2)


def test_ids_file_round_trip_and_index_lookup(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 6)).astype(np.float32)
    user_ids = np.arange(1, 41)
    ids, nbr, sim = build_neighbors(user_ids[::-1].copy(), x[::-1].copy(), 5)  # unsorted input
    write_neighbors(ids, nbr, sim, tmp_path / "n.parquet")
    schema = pq.read_schema(tmp_path / "n.parquet")
    assert schema.field("user_id").type == pa.int32()
    assert schema.field("neighbor_ids").type == pa.list_(pa.int32(), 5)
    assert schema.field("similarity").type == pa.list_(pa.float32(), 5)
    got_ids, got_nbr, got_sim = read_neighbors(tmp_path / "n.parquet")
    assert got_ids.tolist() == list(range(1, 41))
    assert got_nbr.dtype == np.int64 and got_sim.dtype == np.float32
    ref_idx, ref_sim = top_k_cosine(x, 5)
    assert np.array_equal(got_nbr, user_ids[ref_idx])
    np.testing.assert_allclose(got_sim, ref_sim, atol=1e-6)

    index = NeighborIndex.from_file(tmp_path / "n.parquet")
    assert index.contiguous and index.k == 5 and len(index) == 40
    n17, s17 = index[17]
    assert np.array_equal(n17, got_nbr[16]) and np.array_equal(s17, got_sim[16])
    b_ids, b_sim = index.neighbors(np.array([3, 40, 1]), k=2)
    assert np.array_equal(b_ids, got_nbr[[2, 39, 0], :2])
    for missing in (0, 41):
        with pytest.raises(KeyError):
            index[missing]


def test_index_with_non_contiguous_ids():
    ids = np.array([2, 5, 9, 100])
    nbr = np.array([[5], [2], [100], [9]])
    sim = np.array([[0.5], [0.5], [0.1], [0.1]], dtype=np.float32)
    index = NeighborIndex(ids, nbr, sim)
    assert not index.contiguous
    assert index[100][0].tolist() == [9]
    assert index.rows(np.array([9, 2])).tolist() == [2, 0]
    with pytest.raises(KeyError):
        index[3]


def test_read_neighbors_rejects_unsorted(tmp_path):
    table = pa.table(
        {
            "user_id": pa.array([2, 1], pa.int32()),
            "neighbor_ids": pa.FixedSizeListArray.from_arrays(pa.array([1, 2], pa.int32()), 1),
            "similarity": pa.FixedSizeListArray.from_arrays(pa.array([0.1, 0.1], pa.float32()), 1),
        }
    )
    pq.write_table(table, tmp_path / "bad.parquet")
    with pytest.raises(InputError, match="not strictly increasing"):
        read_neighbors(tmp_path / "bad.parquet")


def test_stage_output_records_its_settings_and_provenance(tmp_path, monkeypatch):
    from peapod.embeddings.io import write_user_embeddings
    from peapod.neighbors import build_neighbors_stage
    from peapod.provenance import read_stamp
    from tests.helpers import REPO

    monkeypatch.chdir(tmp_path)  # not a git checkout: the commit comes from the installed source
    rng = np.random.default_rng(3)
    write_user_embeddings(np.arange(1, 31), rng.normal(size=(30, 4)), tmp_path / "e.parquet", source="pmf",
                          record={"cf_model": "pmf", "config": {"dim": 4, "seed": 7}})
    build_neighbors_stage(tmp_path / "e.parquet", tmp_path / "n.parquet", k=3, block_mib=1)
    embedded, indexed = read_stamp(tmp_path / "e.parquet"), read_stamp(tmp_path / "n.parquet")
    assert embedded["config"] == {"dim": 4, "seed": 7}
    assert indexed["config"] == {"k": 3, "block_mib": 1} and indexed["embeddings"] == str(tmp_path / "e.parquet")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    for stamp in (embedded, indexed):
        assert stamp["provenance"]["git"]["commit"] == head
        assert stamp["provenance"]["packages"]["pyarrow"] == pa.__version__
    assert read_neighbors(tmp_path / "n.parquet")[1].shape == (30, 3)
