"""CF user embeddings: planted-structure recovery, no leakage of held-out items, the file source."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import peapod.embeddings.cornac_models as cornac_models
import peapod.embeddings.lightgcn as lightgcn_module
from peapod.data.tables import read_table
from peapod.embeddings import fit_embeddings, settings_for
from peapod.embeddings.evaluate import candidate_ranks, target_ranks, topn_metrics
from peapod.embeddings.interactions import read_train_interactions
from peapod.embeddings.io import read_item_embeddings, read_user_embeddings, write_user_embeddings
from peapod.errors import InputError
from peapod.embeddings.stage import train_embeddings
from peapod.embeddings.user_file import load_user_file
from peapod.metrics import mean_ranking_metrics
from peapod.neighbors import build_neighbors

# Small, fast settings (the demo has 240 users, 160 items, 4 planted groups).
FAST = {
    "pmf": {"max_iter": 30, "learning_rate": 0.01, "negatives_per_positive": 3},
    "bivae": {"n_epochs": 25, "learning_rate": 0.01, "batch_size": 64},
    "lightgcn": {"epochs": 15, "learning_rate": 0.01, "train_batch_size": 256},
}
DIM = 16
K = 10
# Chance that a random other user shares a user's group is about 1/4; we ask for well over twice that.
PURITY_THRESHOLD = 0.6
# HR@10 of a random scorer under the 99-negative protocol is 0.10.
HR10_THRESHOLD = 0.2


def tables_of(demo_tables):
    return {name: demo_tables[name] for name in ("sequences", "users", "items", "candidates")}


def config_for(model: str) -> dict:
    return {"dim": DIM, "seed": 0} | {m: dict(v) for m, v in FAST.items()}


def neighbour_purity(user_ids, vectors, truth) -> float:
    ids, neighbor_ids, _ = build_neighbors(user_ids, vectors, K)
    group = truth["user_group"]
    own = np.array([group[int(u)] for u in ids])
    theirs = np.vectorize(lambda u: group[int(u)])(neighbor_ids)
    return float((theirs == own[:, None]).mean())


def svd_user_file(demo_tables, path):
    """A genuine user-supplied embedding: truncated SVD of the training interaction matrix."""
    inter = read_train_interactions(demo_tables["sequences"], demo_tables["users"], demo_tables["items"])
    u, s, _ = np.linalg.svd(inter.matrix().toarray(), full_matrices=False)
    vectors = (u[:, :DIM] * s[:DIM]).astype(np.float32)
    table = pa.table(
        {"user_id": pa.array(inter.user_ids, pa.int64()), "embedding": pa.array(vectors.tolist(), pa.list_(pa.float32()))}
    )
    pq.write_table(table, path)
    return inter.user_ids, vectors


@pytest.mark.parametrize("source", ["pmf", "bivae", "lightgcn", "file"])
def test_each_source_recovers_planted_groups(source, demo_tables, tmp_path, monkeypatch):
    config = config_for(source)
    if source == "file":
        svd_user_file(demo_tables, tmp_path / "svd.parquet")
        config["file"] = {"path": str(tmp_path / "svd.parquet")}
    out = tmp_path / "out"
    out.mkdir()
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)  # RecBole must not leave log/, saved/ or log_tensorboard/ behind
    record = train_embeddings(
        "demo", source, tables_of(demo_tables),
        {"embeddings": out / "user_embeddings.parquet", "item_embeddings": out / "item_embeddings.parquet",
         "metrics": out / "metrics.json"}, config,
    )  # fmt: skip
    assert os.listdir(workdir) == []

    user_ids, vectors = read_user_embeddings(out / "user_embeddings.parquet")
    expected_ids = np.sort(read_table(demo_tables["users"], "users")["user_id"].to_numpy())
    assert np.array_equal(user_ids, expected_ids)
    assert vectors.shape == (len(expected_ids), DIM) and vectors.dtype == np.float32

    purity = neighbour_purity(user_ids, vectors, demo_tables["truth"])
    assert purity >= PURITY_THRESHOLD, f"{source}: neighbour group purity {purity:.3f}"

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(record))
    if source == "file":
        assert metrics["test"] is None and "per_user" not in metrics
        with pytest.raises(InputError, match="no item factors"):  # item_init: cf cannot use it
            read_item_embeddings(out / "item_embeddings.parquet")
    else:
        # the item factors file is the one the metrics were computed with (generator.item_init reads it)
        item_ids, item_vectors = read_item_embeddings(out / "item_embeddings.parquet")
        expected_items = np.sort(read_table(demo_tables["items"], "items")["item_id"].to_numpy())
        assert np.array_equal(item_ids, expected_items) and item_vectors.shape == (len(item_ids), DIM)
        candidates = read_table(demo_tables["candidates"], "candidates")
        assert topn_metrics(vectors, user_ids, item_vectors, item_ids, candidates, "test") == pytest.approx(
            {k: v for k, v in metrics["test"].items()})
        assert set(metrics["test"]) >= {"hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10"}
        assert metrics["test"]["candidates"] == 100
        assert metrics["test"]["hr@10"] >= HR10_THRESHOLD, f"{source}: {metrics['test']}"
        # each test user's rank, so the tables can restrict the row to the runs' users; the means follow from them
        per_user = metrics["per_user"]
        candidates = read_table(demo_tables["candidates"], "candidates").to_pandas()
        assert per_user["split"] == "test"
        assert sorted(per_user["user_id"]) == sorted(candidates.loc[candidates.split == "test", "user_id"].tolist())
        means = mean_ranking_metrics(np.asarray(per_user["rank"]), (1, 5, 10), (5, 10))
        assert means == pytest.approx({k: v for k, v in metrics["test"].items() if k.startswith(("hr@", "ndcg@"))})


def held_out_pairs(demo_tables) -> set[tuple[int, int]]:
    seq = read_table(demo_tables["sequences"], "sequences")
    held = seq.filter(pc.not_equal(seq["role"], "train"))
    return set(zip(held["user_id"].to_pylist(), held["item_id"].to_pylist()))


def train_pairs(demo_tables) -> set[tuple[int, int]]:
    seq = read_table(demo_tables["sequences"], "sequences")
    train = seq.filter(pc.equal(seq["role"], "train"))
    return set(zip(train["user_id"].to_pylist(), train["item_id"].to_pylist()))


@pytest.mark.parametrize("model", ["pmf", "bivae", "lightgcn"])
def test_fit_sees_exactly_the_training_pairs(model, demo_tables, monkeypatch):
    """Capture the interaction data each library receives and compare it with role == train."""
    captured: dict[str, set] = {}
    inter = read_train_interactions(demo_tables["sequences"], demo_tables["users"], demo_tables["items"])

    if model in ("pmf", "bivae"):
        real = cornac_models.cornac_dataset

        def spy(interactions, ratings=None, pairs=None, seed=0):
            ds = real(interactions, ratings, pairs, seed)
            u, i, r = ds.uir_tuple
            users, items = interactions.user_ids[u], interactions.item_ids[i]
            captured["positive"] = {(int(a), int(b)) for a, b, x in zip(users, items, r) if x > 0}
            captured["negative"] = {(int(a), int(b)) for a, b, x in zip(users, items, r) if x <= 0}
            return ds

        monkeypatch.setattr(cornac_models, "cornac_dataset", spy)
    else:
        real = lightgcn_module.write_atomic_files

        def spy(interactions, directory):
            data_path = real(interactions, directory)
            name = lightgcn_module.DATASET_NAME
            lines = (data_path / name / f"{name}.{lightgcn_module.TRAIN_SUFFIX}.inter").read_text().splitlines()[1:]
            captured["positive"] = {tuple(int(x) for x in line.split("\t")) for line in lines}
            return data_path

        monkeypatch.setattr(lightgcn_module, "write_atomic_files", spy)

    options = {"max_iter": 1} if model == "pmf" else {"n_epochs": 1} if model == "bivae" else {"epochs": 1}
    fit_embeddings(model, inter, settings_for(model, 4, 0, options))
    assert captured["positive"] == train_pairs(demo_tables)
    assert not captured["positive"] & held_out_pairs(demo_tables)
    # PMF's sampled zeros are drawn only from items outside the user's *training* items.
    assert not captured.get("negative", set()) & train_pairs(demo_tables)


def test_changing_held_out_items_changes_nothing(demo_tables, tmp_path):
    """Replace every validation and test item by another item: the PMF output is bit-identical."""
    items = read_table(demo_tables["items"], "items")["item_id"].to_numpy()
    seq = read_table(demo_tables["sequences"], "sequences")
    held = pc.not_equal(seq["role"], "train").to_numpy(zero_copy_only=False)
    new_items = seq["item_id"].to_numpy().copy()
    rng = np.random.default_rng(5)
    new_items[held] = rng.choice(items, size=int(held.sum()))
    altered = seq.set_column(seq.schema.get_field_index("item_id"), "item_id", pa.array(new_items, pa.int32()))
    pq.write_table(altered, tmp_path / "sequences.parquet")

    results = []
    for name, sequences in (("orig", demo_tables["sequences"]), ("altered", tmp_path / "sequences.parquet")):
        tables = tables_of(demo_tables) | {"sequences": sequences}
        out = {"embeddings": tmp_path / name / "e.parquet", "metrics": tmp_path / name / "m.json"}
        train_embeddings("demo", "pmf", tables, out, config_for("pmf"))
        results.append(read_user_embeddings(out["embeddings"]))
    assert not np.array_equal(new_items[held], seq["item_id"].to_numpy()[held])
    assert np.array_equal(results[0][0], results[1][0])
    assert np.array_equal(results[0][1], results[1][1])


def test_read_train_interactions_keeps_only_train_rows(demo_tables):
    inter = read_train_interactions(demo_tables["sequences"], demo_tables["users"], demo_tables["items"])
    assert set(zip(inter.users.tolist(), inter.items.tolist())) == train_pairs(demo_tables)
    seq = read_table(demo_tables["sequences"], "sequences")
    assert len(inter.users) == len(seq) - 2 * len(inter.user_ids)  # leave-two-out


# --- the file source -------------------------------------------------------------------------


@pytest.fixture()
def user_ids(demo_tables):
    return np.sort(read_table(demo_tables["users"], "users")["user_id"].to_numpy().astype(np.int64))


def write_parquet_vectors(path, ids, vectors):
    pq.write_table(pa.table({"user_id": pa.array(ids, pa.int64()), "embedding": pa.array(vectors.tolist(), pa.list_(pa.float64()))}), path)


def test_file_source_accepts_parquet_npy_and_columns(user_ids, tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(user_ids), 8))
    shuffled = rng.permutation(len(user_ids))
    write_parquet_vectors(tmp_path / "a.parquet", user_ids[shuffled], vectors[shuffled])
    np.save(tmp_path / "b.npy", vectors[shuffled])
    np.save(tmp_path / "b_ids.npy", user_ids[shuffled])
    (tmp_path / "b_ids.txt").write_text("\n".join(map(str, user_ids[shuffled])) + "\n")
    columns = {"user_id": pa.array(user_ids[shuffled])} | {f"d{j}": pa.array(vectors[shuffled, j]) for j in range(8)}
    pq.write_table(pa.table(columns), tmp_path / "c.parquet")
    for path, ids_path in (("a.parquet", None), ("b.npy", "b_ids.npy"), ("b.npy", "b_ids.txt"), ("c.parquet", None)):
        loaded = load_user_file(tmp_path / path, user_ids, 8, tmp_path / ids_path if ids_path else None)
        assert np.array_equal(loaded.user_ids, user_ids)
        np.testing.assert_allclose(loaded.user_vectors, vectors.astype(np.float32))


def test_file_source_drops_extra_users(user_ids, tmp_path):
    ids = np.concatenate([user_ids, [10_000, 10_001]])
    vectors = np.arange(len(ids) * 2, dtype=np.float64).reshape(-1, 2)
    write_parquet_vectors(tmp_path / "x.parquet", ids, vectors)
    loaded = load_user_file(tmp_path / "x.parquet", user_ids, 2)
    assert np.array_equal(loaded.user_ids, user_ids) and loaded.info["dropped_rows"] == 2


# --- file format and metrics -----------------------------------------------------------------


def test_embedding_file_round_trip_and_schema(tmp_path):
    ids = np.array([5, 1, 3])
    vectors = np.arange(6, dtype=np.float32).reshape(3, 2)
    write_user_embeddings(ids, vectors, tmp_path / "u.parquet", source="test")
    schema = pq.read_schema(tmp_path / "u.parquet")
    assert schema.field("user_id").type == pa.int32()
    assert schema.field("embedding").type == pa.list_(pa.float32(), 2)
    got_ids, got = read_user_embeddings(tmp_path / "u.parquet")
    assert got_ids.dtype == np.int64 and got.dtype == np.float32
    assert got_ids.tolist() == [1, 3, 5]
    assert got.tolist() == [[2, 3], [4, 5], [0, 1]]
    with pytest.raises(ValueError, match="non-finite"):
        write_user_embeddings(ids, np.full((3, 2), np.nan), tmp_path / "bad.parquet")


def test_ranks_are_pessimistic_on_ties_and_metrics_follow():
    user_vectors = np.array([[1.0, 0.0], [0.0, 0.0]], dtype=np.float32)
    item_ids = np.arange(1, 6)
    item_vectors = np.array([[5, 0], [4, 0], [3, 0], [3, 0], [1, 0]], dtype=np.float32)
    negatives = np.array([[1, 2, 4, 5], [1, 2, 4, 5]])
    ranks = target_ranks(user_vectors, np.array([1, 2]), item_vectors, item_ids, np.array([1, 2]), np.array([3, 3]), negatives)
    # user 1: items 1, 2 score higher, item 4 ties (counted against us) -> rank 3;
    # user 2 scores everything 0 -> rank 4 (last).
    assert ranks.tolist() == [3, 4]
    candidates = pa.table({"user_id": [1, 2, 1], "split": ["test", "test", "valid"], "target": [3, 3, 1],
                           "negatives": [[1, 2, 4, 5], [1, 2, 4, 5], [2, 3, 4, 5]]})
    # each user with its own rank, in the candidates' order (the stage keeps them per user)
    reordered = candidates.take([1, 0, 2])
    users, per_user, n = candidate_ranks(user_vectors, np.array([1, 2]), item_vectors, item_ids, reordered, "test")
    assert users.tolist() == [2, 1] and per_user.tolist() == [4, 3] and n == 5
    m = topn_metrics(user_vectors, np.array([1, 2]), item_vectors, item_ids, candidates, "test")
    # The paper's top-n columns, lower-case keys; ranks 3 and 4 (the valid row is not counted).
    assert m == {"hr@1": 0.0, "hr@5": 1.0, "hr@10": 1.0, "ndcg@5": pytest.approx((1 / np.log2(5) + 1 / np.log2(6)) / 2),
                 "ndcg@10": pytest.approx((1 / np.log2(5) + 1 / np.log2(6)) / 2), "users": 2, "candidates": 5}


def test_recbole_shims_apply_and_are_undone(tmp_path):
    import sys

    import scipy.sparse as sp
    import recbole.config.configurator as configurator
    import recbole.trainer.trainer as trainer_module

    from peapod.embeddings.recbole_compat import recbole_sandbox

    original = (configurator.Config.compatibility_settings, trainer_module.get_tensorboard, trainer_module.torch)
    argv = list(sys.argv)
    with recbole_sandbox(tmp_path / "sandbox") as workdir:
        assert np.float is np.float64 and np.long is np.int_  # numpy 2 aliases RecBole uses
        configurator.Config.compatibility_settings(None)  # the original raises AttributeError on numpy 2
        m = sp.dok_matrix((3, 3), dtype=np.float32)
        m._update({(0, 1): 1.0, (2, 0): 2.0})  # removed in scipy >= 1.12
        assert m.nnz == 2 and m[2, 0] == 2.0
        import torch

        torch.save({"config": {"model": "LightGCN"}, "note": np.float64(1.5)}, workdir / "ckpt.pth")
        with pytest.raises(Exception, match="[Ww]eights only load failed|weights_only"):
            torch.load(workdir / "ckpt.pth")  # torch 2.13's default refuses such checkpoints
        assert trainer_module.torch.load(workdir / "ckpt.pth")["note"] == 1.5  # weights_only=False
        trainer_module.get_tensorboard(None).close()
        assert (workdir / "tensorboard").is_dir()
        assert sys.argv == argv[:1]
    assert (configurator.Config.compatibility_settings, trainer_module.get_tensorboard, trainer_module.torch) == original
    assert sys.argv == argv
