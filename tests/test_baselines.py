"""The baselines on exactly our split: the id-order probes (hand-computed cases), the RecBole
sequential and top-n models (RecBole's held-out items are our table's, training never sees them),
the workflow's settings and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from peapod.baselines import id_order


def sequences_frame(seqs: dict[int, list[int]]) -> pd.DataFrame:
    """A sequences table (user_id, position, item_id, role) with the leave-two-out roles."""
    from peapod.splits import role_of

    rows = [(u, pos, item, role_of(pos, len(items))) for u, items in seqs.items() for pos, item in enumerate(items)]
    return pd.DataFrame(rows, columns=["user_id", "position", "item_id", "role"])


# ---------------------------------------------------------------------------------------------
# The id-order probe


def test_sequential_id_order_ranks_hand_computed():
    # catalogue 1..9. Test: user 1 history ends 5, target 6 -> rank 0; user 2 ends 3, target 7 ->
    # items 4, 5, 6 ahead -> rank 3; user 3 ends 8, target 2 (below) -> last of 9 items, rank 8.
    seqs = {1: [1, 4, 5, 6], 2: [9, 8, 3, 7], 3: [1, 2, 8, 2]}
    frame = sequences_frame(seqs)
    ranks = id_order.sequential_ranks(frame, "test").set_index("user_id")["rank"].to_dict()
    assert ranks == {1: 0, 2: 3, 3: 8}
    # valid: user 1 history ends 4, target 5 -> 0; user 2 ends 8, target 3 -> 8; user 3 ends 2, target 8 ->
    # 3, 4, 5, 6, 7 ahead -> 5
    assert id_order.sequential_ranks(frame, "valid").set_index("user_id")["rank"].to_dict() == {1: 0, 2: 8, 3: 5}
    m = id_order.sequential_metrics(frame, "test")
    assert m["hr@5"] == pytest.approx(2 / 3) and m["hr@10"] == pytest.approx(1.0)
    assert m["ndcg@5"] == pytest.approx((1 + 1 / np.log2(5)) / 3)


def test_sequential_id_order_skips_ids_missing_from_the_catalogue():
    # catalogue {1, 2, 5, 10, 11}: after 2 the probe proposes 5 (3 and 4 do not exist), then 10
    frame = sequences_frame({1: [1, 2, 10], 2: [11, 5, 1]})
    assert id_order.sequential_ranks(frame, "test").set_index("user_id")["rank"].to_dict() == {1: 1, 2: 4}


def test_topn_id_order_ranks_by_distance_to_the_last_training_item():
    seqs = {1: [3, 10, 20, 30], 2: [7, 8, 1, 2]}  # last training items: 10 and 8
    frame = sequences_frame(seqs)
    users = np.array([1, 2])
    targets = np.array([11, 2])
    negatives = np.array([[9, 40, 100], [9, 7, 5]])
    # user 1: 11 and 9 both at distance 1 -> tie counts against the target: rank 1.
    # user 2: 2 at distance 6; 9 and 7 (1), 5 (3) ahead: rank 3
    assert id_order.topn_ranks(frame, users, targets, negatives).tolist() == [1, 3]


def test_stats_share_of_test_items_after_the_last_training_id():
    from peapod.data.tables import id_order_shares

    seqs = {1: [1, 2, 3, 4], 2: [5, 6, 9, 7], 3: [2, 1, 5, 6]}
    # last training item + 1 == test item: user 2 (6 -> 7); previous (valid) + 1 == test: users 1, 3
    assert id_order_shares(seqs) == {"test_is_last_train_plus_1": round(1 / 3, 4),
                                     "test_is_previous_plus_1": round(2 / 3, 4)}


# ---------------------------------------------------------------------------------------------
# Sequential baselines by RecBole: the split is ours


def planted_sequences(n_users: int = 60, seed: int = 0) -> pd.DataFrame:
    """Users walking up the id line (item k is followed by k + 1), lengths 5-12, some repeats."""
    rng = np.random.default_rng(seed)
    seqs = {}
    for user in range(1, n_users + 1):
        start, n = int(rng.integers(1, 40)), int(rng.integers(5, 13))
        seqs[user] = [start + k for k in range(n)]
    seqs[1] = [3, 4, 3, 5, 4, 3]  # repeats, test item also in the history
    return sequences_frame(seqs)


TINY = {"hidden_size": 16, "inner_size": 32, "n_layers": 1, "n_heads": 1, "train_batch_size": 128}


def tiny_settings(**changes):
    from peapod.baselines.training import TrainSettings

    return TrainSettings(**{"epochs": 2, "stopping_step": 2, "max_seq_length": 8, "recbole": dict(TINY), **changes})


def recbole_split(sequences: pd.DataFrame, model: str = "SASRec"):
    """(held-out valid, held-out test, training view) as RecBole built them, in our ids, with the
    project's own split check switched off (the tests check independently)."""
    from peapod.baselines.recbole_data import held_out, training_view
    from peapod.baselines.sequential import recbole_sequential_data

    with recbole_sequential_data(model, sequences, tiny_settings(), check=lambda *a: None) as (_, dataset, parts):
        return held_out(dataset, parts[1]), held_out(dataset, parts[2]), training_view(dataset, parts[0])


def assert_recbole_split_is_ours(sequences: pd.DataFrame, max_len: int = 8) -> None:
    valid, test, train = recbole_split(sequences)
    ours = {u: g.sort_values("position")["item_id"].tolist() for u, g in sequences.groupby("user_id")}
    for part, offset in ((valid, 2), (test, 1)):
        got = dict(zip(part.users.tolist(), part.targets.tolist()))
        assert got == {u: items[-offset] for u, items in ours.items()}
        lengths = dict(zip(part.users.tolist(), part.history_lengths.tolist()))
        assert lengths == {u: min(len(items) - offset, max_len) for u, items in ours.items()}
    # every training sample is (some prefix of the training items, the training item after it)
    expected = sorted((u, items[k], tuple(items[max(0, k - max_len):k])) for u, items in ours.items()
                      for k in range(1, len(items) - 2))
    assert sorted(zip(train["user_id"], train["target"], train["prefix"])) == expected


def test_recbole_holds_out_our_validation_and_test_items_for_every_user():
    assert_recbole_split_is_ours(planted_sequences())


def test_moving_a_test_item_changes_nothing_recbole_trains_on():
    sequences = planted_sequences()
    moved = sequences.copy()
    last = moved.index[(moved["user_id"] == 7) & (moved["role"] == "test")]
    moved.loc[last, "item_id"] = 77  # another catalogue item
    valid_a, test_a, train_a = recbole_split(sequences)
    valid_b, test_b, train_b = recbole_split(moved)
    pd.testing.assert_frame_equal(train_a, train_b)
    assert dict(zip(test_b.users, test_b.targets))[7] == 77 and dict(zip(test_a.users, test_a.targets))[7] != 77
    assert (valid_a.targets == valid_b.targets).all()


def test_split_check_stops_a_run_whose_held_out_items_are_not_ours():
    from peapod.baselines.recbole_data import SplitMismatch, check_split
    from peapod.baselines.sequential import recbole_sequential_data

    sequences = planted_sequences()
    shifted = sequences.copy()  # our roles one place earlier: RecBole's test item is then not "ours"
    shifted["role"] = shifted.groupby("user_id")["role"].shift(-1).fillna("gone")
    with pytest.raises(SplitMismatch, match="items differ from ours"):
        with recbole_sequential_data("SASRec", sequences, tiny_settings(),
                                     check=lambda d, p, s: check_split(d, p, shifted)):
            pass
    with recbole_sequential_data("SASRec", sequences, tiny_settings()):
        pass  # the real split passes its own check


@pytest.mark.skipif(not __import__("tests.helpers", fromlist=["SHARED_BEAUTY"]).SHARED_BEAUTY.exists(),
                    reason="real P5 Beauty data not beside the repo")
def test_recbole_split_is_ours_on_real_beauty():
    from peapod.data.p5 import read_p5_directory
    from peapod.data.tables import sequences_table
    from tests.helpers import SHARED_BEAUTY

    raw = read_p5_directory(SHARED_BEAUTY)
    sequences = sequences_table(raw, sorted(raw.sequences)).to_pandas()
    assert sequences["user_id"].nunique() == 22_363
    assert_recbole_split_is_ours(sequences)


def test_sasrec_trains_early_stops_and_ranks_with_history_removed():
    from peapod.baselines.recbole_data import our_ids
    from peapod.baselines.sequential import fit_sequential, history_lists, rank_split, recbole_sequential_data

    sequences = planted_sequences()
    result = fit_sequential("SASRec", sequences, tiny_settings(epochs=3, stopping_step=1))
    per_user = result.per_user
    assert set(per_user["split"]) == {"valid", "test"} and len(per_user) == 2 * 60
    assert 1 <= result.epochs_run <= 3 and 1 <= result.best_epoch <= result.epochs_run
    assert [h["epoch"] for h in result.history] == list(range(result.epochs_run))
    n_items = sequences["item_id"].nunique()
    assert per_user["rank"].between(0, n_items - 1).all()
    # the same model ranking with the history kept: each user's rank drops by exactly the number of
    # other history items that score at least the target
    with recbole_sequential_data("SASRec", sequences, tiny_settings()) as (_, dataset, parts):
        settings = tiny_settings()
        kept = rank_split(result.model, dataset, parts[2], "test", settings, None)
        removed = rank_split(result.model, dataset, parts[2], "test", settings, history_lists(dataset, sequences, "test"))
        assert (removed["rank"].to_numpy() <= kept["rank"].to_numpy()).all()
        assert (removed["rank"] < kept["rank"]).any()
        pd.testing.assert_frame_equal(removed.reset_index(drop=True),
                                      per_user[per_user.split == "test"].reset_index(drop=True), check_dtype=False)
        user_one = kept.index[kept["user_id"] == 1][0]  # history 3 4 3 5 4, test item 3 (never removed)
        assert kept.loc[user_one, "target"] == 3
        assert 0 <= kept.loc[user_one, "rank"] - removed.loc[user_one, "rank"] <= 2  # only items 4 and 5 can go


# ---------------------------------------------------------------------------------------------
# Top-n baselines by RecBole over our exact candidates


def grouped_topn_data(n_users: int = 80, n_items: int = 40, seed: int = 0):
    """Two user groups, each buying from its own half of the catalogue; every user's validation and
    test targets are in-group, its 9 negatives out-of-group. Returns (sequences, interactions, candidates)."""
    import pyarrow as pa

    from peapod.embeddings.interactions import TrainInteractions

    rng = np.random.default_rng(seed)
    half = n_items // 2
    seqs, cand = {}, []
    for user in range(1, n_users + 1):
        own = np.arange(1, half + 1) + (half if user % 2 else 0)
        seqs[user] = rng.choice(own, size=8, replace=False).tolist()
        other = np.setdiff1d(np.arange(1, n_items + 1), own)
        for split, target in (("test", seqs[user][-1]), ("valid", seqs[user][-2])):
            cand.append((user, split, target, rng.choice(other, size=9, replace=False).tolist()))
    sequences = sequences_frame(seqs)
    train = sequences[sequences["role"] == "train"]
    interactions = TrainInteractions(np.arange(1, n_users + 1), np.arange(1, n_items + 1),
                                     train["user_id"].to_numpy(np.int64), train["item_id"].to_numpy(np.int64))
    candidates = pa.table({"user_id": pa.array([c[0] for c in cand], pa.int32()), "split": [c[1] for c in cand],
                           "target": pa.array([c[2] for c in cand], pa.int32()),
                           "negatives": pa.array([c[3] for c in cand], pa.list_(pa.int32()))})
    return sequences, interactions, candidates


@pytest.mark.parametrize("name", ["MF", "MLP"])
def test_topn_baselines_learn_groups_and_rank_our_candidates(name):
    from peapod.baselines.topn import fit_topn
    from peapod.baselines.training import TrainSettings

    _, interactions, candidates = grouped_topn_data()
    recbole = {"embedding_size": 16, "mlp_embedding_size": 16, "mlp_hidden_size": [16], "learning_rate": 0.01,
               "train_batch_size": 64, "dropout_prob": 0.0}
    result = fit_topn(name, interactions, candidates, TrainSettings(epochs=15, stopping_step=15, recbole=recbole))
    test = result.per_user[result.per_user.split == "test"].set_index("user_id")
    assert len(test) == 80 and test["rank"].between(0, 9).all()
    assert (test["rank"] == 0).mean() > 0.5  # random: 0.1; in-group targets among out-of-group negatives
    if name == "MF":  # BPR scores are user . item: the ranks follow from the embeddings alone
        model = result.model
        user = model.user_embedding.weight.detach().numpy()
        item = model.item_embedding.weight.detach().numpy()
        # RecBole's ids here: tokens are our ids in file order, 1-based after the padding row
        import pyarrow.compute as pc

        rows = candidates.filter(pc.equal(candidates["split"], "test")).to_pandas().set_index("user_id")
        tokens_u = {int(t): i for i, t in enumerate(result.tokens["user"]) if t != "[PAD]"}
        tokens_i = {int(t): i for i, t in enumerate(result.tokens["item"]) if t != "[PAD]"}
        for u, row in rows.iterrows():
            items = [row["target"], *row["negatives"]]
            scores = item[[tokens_i[i] for i in items]] @ user[tokens_u[u]]
            assert test.loc[u, "rank"] == int((scores[1:] >= scores[0]).sum())


# ---------------------------------------------------------------------------------------------
# Settings, the run's outputs, bad input


def test_schema_names_exactly_the_registered_baselines_with_the_dataclass_defaults():
    from dataclasses import MISSING, fields

    import yaml

    from peapod.baselines.registry import NAMES
    from peapod.baselines.training import TrainSettings
    from tests.helpers import REPO

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    section = schema["properties"]["baselines"]["properties"]
    assert section["models"]["items"]["enum"] == list(NAMES) and section["models"]["default"] == []  # opt-in
    assert set(section) - {"models", "seeds", "exclude_history"} == set(NAMES)
    assert set(schema["$defs"]["baseline_overrides"]["properties"]) == set(NAMES)
    model = schema["$defs"]["baseline_model"]["properties"]
    for f in fields(TrainSettings):
        if f.name in ("seed", "exclude_history"):
            continue
        default = f.default if f.default is not MISSING else f.default_factory()
        assert model[f.name]["default"] == default, f.name
    assert section["exclude_history"]["default"] is TrainSettings().exclude_history


def test_unknown_baseline_name_stops_at_config_validation_naming_the_key():
    import yaml

    from peapod.config import ConfigError, validate_config
    from tests.helpers import REPO

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["baselines"]["models"] = ["SASRec", "Caser"]
    with pytest.raises(ConfigError, match=r"baselines\.models\.1: 'Caser' is not one of"):
        validate_config(cfg, REPO / "workflow" / "schemas" / "config.schema.yaml")
    cfg["baselines"]["models"] = ["SASRec"]
    cfg["datasets"]["demo"]["baselines"] = {"SASRec": {"epoch": 3}}
    with pytest.raises(ConfigError, match=r"datasets\.demo\.baselines\.SASRec: unknown key\(s\) 'epoch'"):
        validate_config(cfg, REPO / "workflow" / "schemas" / "config.schema.yaml")


def test_dataset_overrides_merge_key_by_key():
    from peapod.baselines.settings import run_settings
    from peapod.config import with_defaults

    cfg = with_defaults({"datasets": {"demo": {"source": "demo"}},
                         "baselines": {"SASRec": {"epochs": 7, "recbole": {"hidden_size": 16, "n_layers": 1}}}})
    spec = {"source": "demo", "baselines": {"SASRec": {"stopping_step": 3, "recbole": {"n_layers": 3}}}}
    merged = run_settings(cfg["baselines"], spec, "SASRec")
    assert merged == {"epochs": 7, "stopping_step": 3, "max_seq_length": 50, "eval_batch_size": 1024,
                      "exclude_history": True, "recbole": {"hidden_size": 16, "n_layers": 3}}
    assert run_settings(cfg["baselines"], {"source": "demo"}, "GRU4Rec")["epochs"] == 300


def write_tables(tmp_path, sequences: pd.DataFrame, candidates=None) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from peapod.data.tables import SCHEMAS

    paths = {"sequences": tmp_path / "sequences.parquet"}
    pq.write_table(pa.Table.from_pandas(sequences, preserve_index=False).cast(SCHEMAS["sequences"]), paths["sequences"])
    if candidates is not None:
        users = sorted(sequences["user_id"].unique())
        items = sorted(sequences["item_id"].unique())
        for name, ids, extra in (("users", users, "n_items"), ("items", items, "n_interactions")):
            paths[name] = tmp_path / f"{name}.parquet"
            table = pa.table({f"{name[:-1]}_id": ids, "raw_id": [str(i) for i in ids], extra: [1] * len(ids)})
            pq.write_table(table.cast(SCHEMAS[name]), paths[name])
        paths["candidates"] = tmp_path / "candidates.parquet"
        pq.write_table(candidates.cast(SCHEMAS["candidates"]), paths["candidates"])
    return paths


def test_a_run_writes_per_user_metrics_and_run_record(tmp_path):
    import json

    from peapod.aggregate.collect import read_run_metrics
    from peapod.baselines.stage import run_baseline

    sequences, _, candidates = grouped_topn_data(n_users=30)
    tables = write_tables(tmp_path, sequences, candidates)
    outputs = {k: tmp_path / "out" / f for k, f in
               (("metrics", "metrics.parquet"), ("per_user", "per_user.parquet"), ("run", "run.json"))}
    run_baseline("demo", "MF", 4, tables, {"epochs": 2, "stopping_step": 2, "recbole": {"embedding_size": 8}}, outputs)
    metrics = read_run_metrics(outputs["metrics"])  # the generator runs' contract
    per_user = pd.read_parquet(outputs["per_user"])
    assert set(metrics["task"]) == {"topn"} and set(metrics["method"]) == {"candidates"}
    test = per_user[per_user.split == "test"]
    assert len(test) == 30 and test["history_length"].eq(6).all()
    hr10 = metrics.set_index(["split", "metric"]).loc[("test", "hr@10"), "value"]
    assert hr10 == pytest.approx((test["rank"] < 10).mean())
    ndcg5 = metrics.set_index(["split", "metric"]).loc[("test", "ndcg@5"), "value"]
    assert ndcg5 == pytest.approx(np.where(test["rank"] < 5, 1 / np.log2(test["rank"] + 2), 0).mean())
    record = json.loads(outputs["run"].read_text())
    assert record["seed"] == 4 and record["epochs_run"] == 2 and len(record["history"]) == 2
    assert record["settings"]["recbole"] == {"embedding_size": 8} and "recbole" in record["versions"]
    assert record["recbole_model"] == "recbole.BPR"


def test_a_recbole_failure_names_model_dataset_and_seed_and_writes_nothing(tmp_path):
    from peapod.baselines.stage import BaselineFailed, run_baseline

    tables = write_tables(tmp_path, planted_sequences())
    outputs = {k: tmp_path / "out" / f for k, f in
               (("metrics", "metrics.parquet"), ("per_user", "per_user.parquet"), ("run", "run.json"))}
    bad = {"epochs": 1, "recbole": {"hidden_size": 15, "n_heads": 2}}  # RecBole: hidden size not a multiple of heads
    with pytest.raises(BaselineFailed, match=r"baseline SASRec on dataset toys, seed 3 failed: ValueError"):
        run_baseline("toys", "SASRec", 3, tables, bad, outputs)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# ---------------------------------------------------------------------------------------------
# Tables and verdicts: each trained baseline under its reported row, with a verdict per cell


def baseline_file(tmp_path, dataset: str = "beauty"):
    """A dataset's baselines file as compute_baselines writes it: fixed rows and three SASRec and MF seeds."""
    from peapod.aggregate.baselines import compute_baselines  # noqa: F401 (the writer of this layout)

    rows = [(dataset, "most_popular", "sequential", None, None, "test", "hr@10", 0.011),
            (dataset, "id_order", "sequential", None, None, "test", "hr@10", 0.021)]
    for seed, (sas, mf) in enumerate([(0.058, 0.25), (0.061, 0.26), (0.060, 0.27)]):
        rows += [(dataset, "SASRec", "sequential", "catalogue", seed, "test", m, sas + i / 100)
                 for i, m in enumerate(["hr@5", "hr@10", "ndcg@5", "ndcg@10"])]
        rows += [(dataset, "MF", "topn", "candidates", seed, "test", "hr@10", mf)]
    path = tmp_path / f"baselines_{dataset}.csv"
    pd.DataFrame(rows, columns=["dataset", "model", "task", "method", "seed", "split", "metric", "value"]).to_csv(path, index=False)
    return path


def test_baseline_verdicts_use_the_seeds_against_every_reported_cell(tmp_path):
    from peapod.aggregate import compare
    from peapod.aggregate.baselines import read_baselines
    from peapod.aggregate.reported import load_reported
    from peapod.aggregate.stats import confidence_interval
    from tests.helpers import REPO

    reported = load_reported(REPO / "resources" / "reported" / "paper_tables.csv")
    verdicts = compare.baseline_verdicts(read_baselines([baseline_file(tmp_path)]), reported, "peapod_cup")
    assert set(verdicts["model"]) == {"SASRec", "MF"} and set(verdicts["dataset"]) == {"beauty"}
    # every paper that reports SASRec on Beauty, each of the four cells we have
    sas = verdicts[verdicts.model == "SASRec"]
    expected = reported[(reported.model == "SASRec") & (reported.dataset == "beauty")]
    assert len(sas) == len(expected) and verdicts["paper"].iloc[0] == "peapod_cup"
    cell = sas[(sas.paper == "peapod_cup") & (sas.metric == "hr@10")].iloc[0]
    values = [0.068, 0.071, 0.070]
    assert cell["reported"] == 0.0605 and cell["n"] == 3 and cell["mean"] == pytest.approx(np.mean(values))
    assert (cell["ci_low"], cell["ci_high"]) == pytest.approx(confidence_interval(np.array(values)))
    assert cell["verdict"] == compare.VERDICTS["above"] and cell["method"] == "catalogue"
    mf = verdicts[(verdicts.model == "MF") & (verdicts.paper == "peapod_cup")]
    assert list(mf["metric"]) == ["hr@10"] and mf["reported"].iloc[0] == 0.2573
    assert mf["verdict"].iloc[0] == compare.VERDICTS["inside"]  # 0.25-0.27, interval wide enough


def test_tables_put_each_trained_baseline_under_its_reported_row(tmp_path):
    from peapod.aggregate import tables
    from peapod.aggregate.baselines import read_baselines
    from peapod.aggregate.reported import load_reported
    from tests.helpers import REPO

    reported = load_reported(REPO / "resources" / "reported" / "paper_tables.csv")
    rep = reported[(reported.paper == "peapod_cup") & (reported.table == 2)]
    columns = [tables.Column(d, "sequential", m) for d in ("beauty",) for m in tables.TASK_METRICS["sequential"]]
    rows = tables.place_under_reported(tables.reported_rows(rep, columns, set())
                                       + tables.baseline_rows(read_baselines([baseline_file(tmp_path)]), columns, "sequential"))
    labels = [r.label for r in rows]
    assert labels[labels.index("SASRec") + 1] == "SASRec (ours, same split)"
    assert labels[-2:] == ["Most popular (ours, same split)", "Id order (+1, +2, ...) (ours, same split)"]
    ours = rows[labels.index("SASRec (ours, same split)")]
    cell = ours.cells[tables.Column("beauty", "sequential", "hr@10")]
    assert cell.n == 3 and cell.value == pytest.approx(np.mean([0.068, 0.071, 0.070])) and cell.ci_low < cell.value < cell.ci_high
    table = tables.PaperTable("sequential", "Sequential", columns, rows)
    notes = tables.baseline_notes("sequential", table, {"baselines": {"exclude_history": True}})
    assert any("FDSA: not trained here: needs item attributes" in n for n in notes)
    assert any("S3-Rec: not trained here" in n for n in notes)
    assert any(n.startswith("SASRec (ours, same split)") and "earlier items removed" in n for n in notes)


# ---------------------------------------------------------------------------------------------
# The epoch loop: early stopping, the best epoch's weights, progress lines


def test_epoch_loop_stops_early_restores_the_best_epoch_and_logs_an_honest_eta(caplog):
    import logging

    import torch

    from peapod.baselines.training import TrainSettings, train_with_early_stopping

    model = torch.nn.Linear(1, 1, bias=False)
    scores = iter([0.1, 0.3, 0.2, 0.25, 0.29, 0.9])  # best at epoch 2, then 3 epochs without a better one

    class OneStepTrainer:  # RecBole's Trainer._train_epoch contract: train one epoch, return its loss
        def _train_epoch(self, train_data, epoch, show_progress=False):
            with torch.no_grad():
                model.weight.fill_(float(epoch + 1))  # the weights say which epoch wrote them
            return 1.0 / (epoch + 1)

    settings = TrainSettings(epochs=6, stopping_step=3)
    with caplog.at_level(logging.INFO, logger="peapod.baselines.training"):
        result = train_with_early_stopping("toy", model, OneStepTrainer(), None, settings,
                                           validate=lambda: next(scores), rank_all=lambda: pd.DataFrame())
    assert result.epochs_run == 5 and result.best_epoch == 2
    assert model.weight.item() == 2.0  # epoch 2's weights, not the last epoch's
    lines = [r.getMessage() for r in caplog.records if "epoch 1/6" in r.getMessage()]
    # after epoch 1: 5 epochs left under the cap, 3 if validation stops improving
    assert len(lines) == 1 and "ETA at most" in lines[0] and "if validation stops improving" in lines[0]
    assert any("stopped" in r.getMessage() for r in caplog.records)
