"""Every baseline row of the tables is on the users the runs were evaluated on (issue 39, item 2).

A sampled evaluation (evaluation.sample_users) sees a fixed sample of the test users; the rows beside
it (most popular, the id-order probes, the CF models, the RecBole baselines) must be on exactly those
users, or say they are not. Each value here is computed by hand on the users the evaluation itself
picks (EvalData.sampled, what evaluate_run_files calls), and each differs from its value over every
user, so a row computed over all users fails.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from peapod.aggregate import tables
from peapod.aggregate.baselines import ALL_USERS, compute_baselines, read_baselines, user_set_name
from peapod.evaluation.evaluate import EvalData
from peapod.metrics import ranking_metrics
from peapod.splits import held_out_target, history_before
from tests.helpers import SMALL_DEMO, make_demo

# 30 of the demo's 120 users; with this seed every model-free row hits some sampled users and differs
# from its value over every user (HR@10 on the sample / over all: most popular top-n 0.100 / 0.058,
# sequential 0.067 / 0.033; id order top-n 0.267 / 0.292, sequential 0.267 / 0.375)
EVALUATION = {"sample_users": 30, "sample_seed": 11}
RUN_USERS = user_set_name(EVALUATION)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo(tmp_path_factory.mktemp("baseline_users"), SMALL_DEMO, parquet=True)


@pytest.fixture(scope="module")
def sampled(demo):
    """{split: the users an evaluation of that split with EVALUATION sees}, from the evaluation's own data path."""
    return {split: set(EvalData.from_directory(demo.data, split).sampled(EVALUATION["sample_users"],
                                                                         EVALUATION["sample_seed"], split).sample.users.tolist())
            for split in ("test", "valid")}


def hr_ndcg10(ranks) -> tuple[float, float]:
    """HR@10 and NDCG@10 by their definitions (0-based ranks)."""
    ranks = np.asarray(list(ranks))
    return float(np.mean(ranks < 10)), float(np.mean(np.where(ranks < 10, 1 / np.log2(ranks + 2), 0.0)))


def hand_ranks(demo) -> dict[tuple[str, str], dict[int, int]]:
    """{(model, task): {user: rank}} on the test split, one user at a time, from the raw definitions."""
    seqs = demo.tables["sequences"].to_pandas().sort_values(["user_id", "position"])
    by_user = {int(u): g["item_id"].tolist() for u, g in seqs.groupby("user_id")}
    count = seqs[seqs.role == "train"]["item_id"].value_counts().to_dict()
    catalogue = sorted(seqs["item_id"].unique())
    cands = demo.tables["candidates"].to_pandas()
    cands = cands[cands.split == "test"]
    out = {key: {} for key in (("most_popular", "topn"), ("most_popular", "sequential"), ("id_order", "topn"),
                               ("id_order", "sequential"))}
    for u, t, negatives in zip(cands.user_id, cands.target, cands.negatives):
        c = count.get(t, 0)
        out["most_popular", "topn"][int(u)] = sum(count.get(n, 0) >= c for n in negatives)  # ties against the target
        last = by_user[int(u)][-3]  # the last training item (the last two are valid and test)
        out["id_order", "topn"][int(u)] = sum(abs(n - last) <= abs(t - last) for n in negatives)
    for u, items in by_user.items():
        t, previous = held_out_target(items, "test"), history_before(items, "test")[-1]
        out["most_popular", "sequential"][u] = sum(count.get(i, 0) >= count.get(t, 0) for i in catalogue if i != t)
        out["id_order", "sequential"][u] = (sum(previous < i < t for i in catalogue) if t > previous
                                            else len(catalogue) - 1)
    return out


def write_cf(path, users, ranks, with_per_user: bool = True) -> None:
    """A CF model's metrics.json as the embedding stage writes it: the means over every user, and
    each user's rank."""
    hr, ndcg = hr_ndcg10(ranks)
    record = {"cf_model": "pmf", "test": {"hr@10": hr, "ndcg@10": ndcg, "users": len(users)}}
    if with_per_user:
        record["per_user"] = {"split": "test", "user_id": [int(u) for u in users], "rank": [int(r) for r in ranks]}
    path.write_text(json.dumps(record))


def write_recbole_per_user(path, per_split: dict[str, dict[int, int]]) -> None:
    """A trained top-n baseline's per_user.parquet in the contract of peapod.baselines.stage."""
    rows = [{"user_id": u, "task": "topn", "method": "candidates", "split": split, "rank": r, "history_length": 5,
             **ranking_metrics(r, (1, 5, 10), (5, 10))}
            for split, ranks in per_split.items() for u, r in ranks.items()]
    pd.DataFrame(rows).to_parquet(path, index=False)


def planted_ranks(users, sample) -> dict[int, int]:
    """Rank 0 (a hit) for every user outside the sample, 3 + user id % 20 inside: so the mean over
    every user and over the sample differ."""
    return {int(u): 0 if u not in sample else 3 + int(u) % 20 for u in users}


@pytest.fixture(scope="module")
def computed(demo, sampled, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rows")
    users = sorted(demo.tables["candidates"].to_pandas()["user_id"].unique().tolist())
    cf = planted_ranks(users, sampled["test"])
    write_cf(tmp / "pmf.json", list(cf), list(cf.values()))
    write_cf(tmp / "bivae.json", list(cf), list(cf.values()), with_per_user=False)
    json_old = json.loads((tmp / "bivae.json").read_text()) | {"cf_model": "bivae"}
    (tmp / "bivae.json").write_text(json.dumps(json_old))
    write_recbole_per_user(tmp / "mf.parquet", {s: planted_ranks(users, sampled[s]) for s in ("test", "valid")})
    out = compute_baselines("demo", demo.paths["sequences"], demo.paths["candidates"],
                            {"pmf": tmp / "pmf.json", "bivae": tmp / "bivae.json"}, {("MF", 0): tmp / "mf.parquet"},
                            EVALUATION)
    everyone = compute_baselines("demo", demo.paths["sequences"], demo.paths["candidates"],
                                 {"pmf": tmp / "pmf.json"}, {("MF", 0): tmp / "mf.parquet"}, None)
    return out, everyone, cf, tmp


def value(rows: pd.DataFrame, model: str, task: str, metric: str, split: str = "test") -> float:
    hit = rows[(rows.model == model) & (rows.task == task) & (rows.metric == metric) & (rows.split == split)]
    assert len(hit) == 1, (model, task, metric, split, hit)
    return float(hit["value"].iloc[0])


def test_the_sample_differs_from_the_whole_split(demo, sampled):
    assert len(sampled["test"]) == 30 and sampled["test"] != sampled["valid"]
    assert len(sampled["test"]) < demo.tables["users"].num_rows


@pytest.mark.parametrize("model,task", [("most_popular", "topn"), ("most_popular", "sequential"),
                                        ("id_order", "topn"), ("id_order", "sequential")])
def test_model_free_rows_are_the_hand_value_on_the_evaluated_users(demo, sampled, computed, model, task):
    out, everyone, _, _ = computed
    ranks = hand_ranks(demo)[model, task]
    on_sample = hr_ndcg10(r for u, r in ranks.items() if u in sampled["test"])
    assert (value(out, model, task, "hr@10"), value(out, model, task, "ndcg@10")) == pytest.approx(on_sample)
    # the same definitions over every user give another value, which the unsampled evaluation's row is
    over_all = hr_ndcg10(ranks.values())
    assert on_sample[0] > 0 and over_all[0] != pytest.approx(on_sample[0]) and over_all[1] != pytest.approx(on_sample[1])
    assert (value(everyone, model, task, "hr@10"), value(everyone, model, task, "ndcg@10")) == pytest.approx(over_all)
    assert set(out[out.model == model]["users"]) == {RUN_USERS} and set(everyone["users"]) == {ALL_USERS}


def test_cf_and_recbole_rows_are_restricted_by_their_per_user_ranks(sampled, computed):
    out, everyone, cf, _ = computed
    on_sample = hr_ndcg10(r for u, r in cf.items() if u in sampled["test"])
    assert value(out, "pmf", "topn", "hr@10") == pytest.approx(on_sample[0]) and on_sample[0] < 0.9
    assert value(everyone, "pmf", "topn", "hr@10") == pytest.approx(hr_ndcg10(cf.values())[0])
    # the trained baseline per seed: the test and the valid rows each on that split's sample
    assert value(out, "MF", "topn", "hr@10") == pytest.approx(on_sample[0])
    assert value(out, "MF", "topn", "ndcg@10") == pytest.approx(on_sample[1])
    valid = planted_ranks(cf, sampled["valid"])
    assert value(out, "MF", "topn", "hr@10", "valid") == pytest.approx(
        hr_ndcg10(r for u, r in valid.items() if u in sampled["valid"])[0])
    assert set(out[out.model.isin(["pmf", "MF"])]["users"]) == {RUN_USERS}


def test_a_cf_file_without_per_user_ranks_is_labelled_all_users_in_the_table(computed, tmp_path):
    out, _, cf, _ = computed
    old = out[out.model == "bivae"]
    assert set(old["users"]) == {ALL_USERS}
    assert value(out, "bivae", "topn", "hr@10") == pytest.approx(hr_ndcg10(cf.values())[0])  # its own means, unchanged
    path = tmp_path / "baselines.csv"
    out.to_csv(path, index=False)
    columns = [tables.Column("demo", "topn", m) for m in tables.TASK_METRICS["topn"]]
    rows = tables.baseline_rows(read_baselines([path]), columns, "topn", RUN_USERS)
    labels = [r.label for r in rows]
    assert labels == ["Most popular (ours, same candidates)", "Id order (+1, +2, ...) (ours, same candidates)",
                      "BiVAE (ours, same candidates, all users)", "PMF (ours, same candidates)",
                      "MF (ours, same candidates)"]
    table = tables.PaperTable("topn", "Top-n", columns, rows)
    notes = tables.baseline_user_notes(table, RUN_USERS)
    assert any(f"sampled users our runs were evaluated on ({RUN_USERS}" in n for n in notes)
    assert any(n.startswith("BiVAE (ours, same candidates, all users): not on the users") for n in notes)
    # an unsampled evaluation: every row is on its users, and no label says otherwise
    every = tables.baseline_rows(read_baselines([path]), columns, "topn", ALL_USERS)
    assert "BiVAE (ours, same candidates)" in [r.label for r in every]
    assert "PMF (ours, same candidates, users: sample 30, seed 11)" in [r.label for r in every]


def test_a_source_missing_one_of_the_evaluated_users_stops_naming_it(demo, sampled, computed):
    _, _, cf, tmp = computed
    dropped = min(sampled["test"])
    kept = {u: r for u, r in cf.items() if u != dropped}
    write_cf(tmp / "short.json", list(kept), list(kept.values()))
    with pytest.raises(ValueError, match=rf"short.json: no rank for 1 of the 30 users .*user {dropped}\)"):
        compute_baselines("demo", demo.paths["sequences"], demo.paths["candidates"], {"pmf": tmp / "short.json"},
                          None, EVALUATION)


def test_a_file_that_is_not_per_user_results_stops_naming_it(demo, computed):
    _, _, _, tmp = computed
    pd.DataFrame({"user_id": [1], "split": ["test"], "rank": [0]}).to_parquet(tmp / "bad.parquet", index=False)
    with pytest.raises(ValueError, match=r"bad.parquet: not a baseline run's per-user results \(no column method, task\)"):
        compute_baselines("demo", demo.paths["sequences"], demo.paths["candidates"], {}, {("MF", 0): tmp / "bad.parquet"},
                          EVALUATION)
