"""Paired tests over users (peapod.aggregate.user_tests): hand-computed cases, the prompt-blind
control, seed averaging before pairing, and the workflow step on files."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from peapod.aggregate import pipeline
from peapod.aggregate.settings import make_plan
from peapod.aggregate.user_tests import PROMPT_FAMILY, read_user_results, user_paired_tests
from peapod.errors import InputError
from peapod.paths import run_file
from tests.aggregate_fixtures import make_config

CONFIG = make_config(datasets=("sports",), ablations={})
USERS = [10, 11, 12, 13, 14]


def per_user(rows: dict[tuple[str, str], list[float]], users=USERS, split="test", extra=None) -> pd.DataFrame:
    """A run's per_user table: one ndcg@10 value per user for each (task, method)."""
    frames = []
    for (task, method), values in rows.items():
        frames.append(pd.DataFrame({"task": task, "method": method, "split": split, "user_id": users[:len(values)],
                                    "rank": 1, "history_length": 5, "ndcg@10": values, **(extra or {})}))
    return pd.concat(frames, ignore_index=True)


def write(tmp_path, tables: dict[tuple[str, str, int], pd.DataFrame]) -> dict[tuple[str, str, int], str]:
    paths = {}
    for (dataset, variant, seed), frame in tables.items():
        path = tmp_path / f"{dataset}_{variant}_{seed}.parquet"
        frame.to_parquet(path, index=False)
        paths[dataset, variant, seed] = str(path)
    return paths


def test_prompt_blind_control_and_variant_test_hand_computed(tmp_path):
    # PeaPOD's scoring and its blind control on two seeds; the test is on each user's seed mean.
    s1 = [0.9, 0.5, 0.7, 0.2, 0.6]
    s2 = [0.7, 0.5, 0.9, 0.4, 0.6]
    blind1 = [0.3, 0.5, 0.1, 0.2, 0.4]
    blind2 = [0.5, 0.3, 0.1, 0.0, 0.4]
    pod = [0.5, 0.4, 0.3, 0.2, 0.5]
    tables = {
        ("sports", "peapod", 1): per_user({("topn", "scoring"): s1, ("topn", "scoring_blind"): blind1}),
        ("sports", "peapod", 2): per_user({("topn", "scoring"): s2, ("topn", "scoring_blind"): blind2}),
        ("sports", "pod", 1): per_user({("topn", "scoring"): pod, ("topn", "scoring_blind"): pod}),
        ("sports", "pod", 2): per_user({("topn", "scoring"): pod, ("topn", "scoring_blind"): pod}),
    }
    tests = user_paired_tests(read_user_results(write(tmp_path, tables)), make_plan(CONFIG))

    blind = tests[(tests.family == PROMPT_FAMILY) & (tests.variant_a == "peapod")].iloc[0]
    mean_a = (np.array(s1) + np.array(s2)) / 2  # 0.8 0.5 0.8 0.3 0.6
    mean_b = (np.array(blind1) + np.array(blind2)) / 2  # 0.4 0.4 0.1 0.1 0.4
    diff = mean_a - mean_b  # 0.4 0.1 0.7 0.2 0.2
    t = diff.mean() / (diff.std(ddof=1) / math.sqrt(5))  # 0.32 / (0.2387 / 2.236) = 2.998
    assert (blind.method_a, blind.method_b, blind.users, blind.seeds) == ("scoring", "scoring_blind", 5, "1 2")
    assert blind.mean_diff == pytest.approx(0.32) and blind.t == pytest.approx(t) and blind.df == 4
    assert blind.p == pytest.approx(2 * stats.t.sf(t, 4))
    assert blind.p_a_above_b == pytest.approx(stats.t.sf(t, 4))  # one-sided, the side of the difference
    assert (blind.mean_a, blind.mean_b) == pytest.approx((0.6, 0.28))

    # POD has no user prompt: scoring equals its control exactly, and no test claims otherwise.
    pod_blind = tests[(tests.family == PROMPT_FAMILY) & (tests.variant_a == "pod")].iloc[0]
    assert pod_blind.mean_diff == 0 and math.isnan(pod_blind.p) and "zero spread" in pod_blind.note

    # PeaPOD against POD, per method, over users (seed means on both sides).
    vs = tests[(tests.variant_a == "peapod") & (tests.variant_b == "pod") & (tests.method_a == "scoring")].iloc[0]
    d = mean_a - np.array(pod)
    assert vs.family == "topn" and vs.mean_diff == pytest.approx(d.mean())
    assert vs.p == pytest.approx(stats.ttest_rel(mean_a, pod).pvalue)
    lower = tests[(tests.variant_a == "peapod") & (tests.method_a == "scoring_blind") & (tests.variant_b == "pod")].iloc[0]
    assert lower.mean_diff < 0 and lower.p_a_above_b > 0.5  # a below b: the one-sided p says no


def test_users_and_seeds_are_paired_not_pooled(tmp_path):
    # Seed 2 of PeaPOD lacks user 14: that user leaves both sides (one paired user fewer, said in
    # the note); a seed only one side has is not used.
    tables = {
        ("sports", "peapod", 1): per_user({("sequential", "beam"): [1, 0, 1, 0, 1]}),
        ("sports", "peapod", 2): per_user({("sequential", "beam"): [1, 1, 0, 0]}),
        ("sports", "peapod", 3): per_user({("sequential", "beam"): [0, 0, 0, 0, 0]}),
        ("sports", "pod", 1): per_user({("sequential", "beam"): [0, 0, 1, 0, 1]}),
        ("sports", "pod", 2): per_user({("sequential", "beam"): [0, 1, 0, 1, 0]}),
    }
    row = user_paired_tests(read_user_results(write(tmp_path, tables)), make_plan(CONFIG)).iloc[0]
    a = np.array([1, 0.5, 0.5, 0])  # users 10-13, mean of seeds 1 and 2
    b = np.array([0, 0.5, 0.5, 0.5])
    assert (row.seeds, row.users) == ("1 2", 4) and "1 unpaired user" in row.note
    assert row.mean_diff == pytest.approx((a - b).mean()) and row.p == pytest.approx(stats.ttest_rel(a, b).pvalue)


def test_rows_of_one_user_are_averaged_and_diagnostics_left_out(tmp_path):
    # Explanation has a row per test pair: the user's mean is the unit. A beam diagnostic is no hypothesis.
    frame = pd.DataFrame({"task": "explanation", "method": "beam", "split": "test", "user_id": [1, 1, 2, 3, 4],
                          "rank": pd.NA, "history_length": 3, "rouge1": [0.2, 0.4, 0.5, 0.1, 0.3],
                          "share_ids": [1.0, 1.0, 1.0, 1.0, 1.0]})
    valid = frame.assign(split="valid", rouge1=9.0)
    long = read_user_results(write(tmp_path, {("sports", "peapod", 1): pd.concat([frame, valid])}))
    assert set(long.metric) == {"rouge1"} and len(long) == 4  # the test split only
    assert long.set_index("user_id").loc[1, "value"] == pytest.approx(0.3)


def test_a_per_user_file_without_its_columns_is_named(tmp_path):
    bad = per_user({("topn", "scoring"): [0.1, 0.2]}).drop(columns="user_id")
    paths = write(tmp_path, {("sports", "peapod", 1): bad})
    with pytest.raises(InputError, match=r"sports_peapod_1\.parquet.*sports/peapod/seed1.*user_id"):
        read_user_results(paths)


def test_workflow_step_writes_the_tests_of_the_runs_present(tmp_path):
    tables = {(d, v, s): per_user({("topn", "scoring"): list(np.linspace(0.1, 0.9, 5) ** (1 + s + (v == "pod"))),
                                   ("topn", "scoring_blind"): [0.1, 0.2, 0.1, 0.2, 0.1]})
              for d, v, s in [("sports", "peapod", 1), ("sports", "peapod", 2), ("sports", "pod", 1)]}
    paths = write(tmp_path, tables)
    paths["sports", "pod", 2] = str(tmp_path / "absent.parquet")  # not run yet
    out = tmp_path / "tests_users.csv"
    pipeline.test_users(CONFIG, paths, str(out))
    tests = pd.read_csv(out)
    assert set(tests.family) == {PROMPT_FAMILY, "topn"}
    assert (tests.users == 5).all() and set(tests[tests.family == "topn"].seeds.astype(str)) == {"1"}
    tested = tests[tests.p.notna()]  # the blind controls are equal on both variants: no test there
    assert len(tested) == 3 and (tested.p_holm >= tested.p - 1e-15).all()


def test_an_ablation_target_tests_its_settings_over_users(tmp_path):
    # The heads ablation on its own: each setting against PeaPOD over the users, and each variant's
    # prompt-blind control; runs outside the ablation (POD) are not read.
    from tests.aggregate_fixtures import write_runs

    cfg = make_config(datasets=("sports",))
    root = tmp_path / "results"
    write_runs(root, cfg)
    user_paths = pipeline.expected_run_paths(cfg, root=str(root), ablation="heads", pattern=run_file("per_user.parquet"))
    rng = np.random.default_rng(1)
    for (dataset, variant, seed), path in user_paths.items():
        blind = rng.uniform(0, 0.5, 30)
        lift = {"peapod": 0.2, "heads_8": 0.2, "heads_1": 0.1, "mlp": 0.05}[variant]
        per_user({("topn", "scoring"): list(blind + lift * rng.uniform(0.5, 1.5, 30)),
                  ("topn", "scoring_blind"): list(blind)}, users=list(range(30))).to_parquet(path, index=False)
    out = {k: str(tmp_path / f"{k}.out") for k in ("summary", "summary_csv", "missing", "paired", "users")}
    pipeline.summarize_ablation(cfg, "heads", pipeline.expected_run_paths(cfg, root=str(root), ablation="heads"),
                                out, user_paths)
    tests = pd.read_csv(out["users"])
    vs = tests[tests.family == "ablation:heads"].set_index(["variant_a", "method_a"])
    assert set(vs.index.get_level_values(0)) == {"mlp", "heads_1", "heads_8"} and set(vs.variant_b) == {"peapod"}
    assert vs.loc[("mlp", "scoring"), "mean_diff"] < -0.1 and vs.loc[("mlp", "scoring"), "p_holm"] < 1e-3
    assert set(tests[tests.family == PROMPT_FAMILY].variant_a) == {"mlp", "heads_1", "peapod", "heads_8"}
