"""Paired tests over users: the same comparisons as the seed tests (peapod.aggregate.compare), and the
prompt-blind control, with each user's result averaged over the seeds as the unit.

The paper tests over seeds (n = 3 at most), which can hardly detect anything; every evaluated user is
ranked by both sides on the same candidates, so a paired test over users is the sharper check of
"does A rank better than B on these users". Two families:

- ``prompt-blind control``: a variant's exact scoring under the user's own prompt against the same
  scoring under another user's prompt (methods ``scoring`` and ``scoring_blind``). A difference means
  the user prompt carries signal; POD, whose prompt holds only the user id's tokens, is the contrast.
- the seed tests' comparisons: PeaPOD against POD per task and method, each ablation variant against
  the default.

Per (dataset, variant, seed, task, method) a user's values are averaged over the user's rows first
(explanation has one row per test pair), then over the seeds both sides have; the users both sides
have are paired. Student's paired t-test, two-sided p and the one-sided p for "a above b"; Holm
within each family, as the seed tests (peapod.aggregate.compare.holm_by_family).
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

from peapod.aggregate.compare import TEST_SPLIT, holm_by_family, variant_comparisons
from peapod.aggregate.settings import AggregationPlan
from peapod.aggregate.stats import paired_ttest
from peapod.errors import InputError
from peapod.metrics import BEAM_DIAGNOSTICS

PROMPT_FAMILY = "prompt-blind control"
USER_TEST_COLUMNS = [
    "family", "dataset", "task", "metric", "variant_a", "method_a", "variant_b", "method_b", "seeds", "users",
    "mean_a", "mean_b", "mean_diff", "t", "df", "p", "p_a_above_b", "p_holm", "significant_holm", "note",
]
ID_COLUMNS = ("task", "method", "split", "user_id")
NOT_METRICS = {"task", "method", "split", "user_id", "rank", "history_length"}


def read_user_results(paths: Mapping[tuple[str, str, int], str]) -> pd.DataFrame:
    """Every run's per-user results on the test split ({(dataset, variant, seed): per_user.parquet}),
    long: dataset, variant, seed, task, method, metric, user_id, value (a user's mean over its rows)."""
    frames = []
    for (dataset, variant, seed), path in paths.items():
        wide = pd.read_parquet(path)
        missing = set(ID_COLUMNS) - set(wide.columns)
        if missing:
            raise InputError(path, f"the per-user results of {dataset}/{variant}/seed{seed} lack the column(s) "
                                   f"{', '.join(sorted(missing))}; re-run its evaluation")
        wide = wide[wide["split"] == TEST_SPLIT]
        metrics = [c for c in wide.columns if c not in NOT_METRICS and c not in BEAM_DIAGNOSTICS]
        long = wide.melt(id_vars=["task", "method", "user_id"], value_vars=metrics, var_name="metric").dropna(
            subset=["value"])
        long = long.groupby(["task", "method", "metric", "user_id"], sort=False)["value"].mean().reset_index()
        frames.append(long.assign(dataset=dataset, variant=variant, seed=int(seed)))
    columns = ["dataset", "variant", "seed", "task", "method", "metric", "user_id", "value"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns].astype({"value": np.float64})


class UserScores:
    """(dataset, variant, task, method, metric) -> {seed: {user_id: value}}, indexed once."""

    def __init__(self, long: pd.DataFrame):
        self._by: dict[tuple, dict[int, pd.Series]] = {}
        for (d, v, t, m, metric, seed), g in long.groupby(
                ["dataset", "variant", "task", "method", "metric", "seed"], sort=False):
            self._by.setdefault((d, v, t, m, metric), {})[int(seed)] = pd.Series(
                g["value"].to_numpy(), index=g["user_id"].to_numpy())
        self.keys = set(self._by)

    def seeds(self, key: tuple) -> dict[int, pd.Series]:
        return self._by.get(key, {})


def _seed_mean(per_seed: dict[int, pd.Series], seeds: list[int]) -> pd.Series:
    """Each user's mean over ``seeds``, for the users every one of those seeds evaluated."""
    frame = pd.concat([per_seed[s] for s in seeds], axis=1, join="inner")
    return frame.mean(axis=1)


def _test_row(family: str, key_a: tuple, key_b: tuple, scores: UserScores) -> dict | None:
    """One paired test over users of key_a against key_b; None when the two share no seed."""
    a, b = scores.seeds(key_a), scores.seeds(key_b)
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return None
    mean_a, mean_b = _seed_mean(a, seeds), _seed_mean(b, seeds)
    res, _ = paired_ttest(mean_a.to_dict(), mean_b.to_dict(), unit="users")
    users = sorted(set(mean_a.index) & set(mean_b.index))
    note = res.note
    if len(users) < max(len(mean_a), len(mean_b)):
        note = "; ".join(filter(None, [note, f"{max(len(mean_a), len(mean_b)) - len(users)} unpaired user(s) left out"]))
    if math.isnan(res.statistic):
        one_sided = math.nan
    else:  # from the two-sided p of a symmetric t: the side the mean difference lies on
        one_sided = res.pvalue / 2 if res.statistic > 0 else 1 - res.pvalue / 2
    dataset, variant_a, task, method_a, metric = key_a
    return {
        "family": family, "dataset": dataset, "task": task, "metric": metric,
        "variant_a": variant_a, "method_a": method_a, "variant_b": key_b[1], "method_b": key_b[3],
        "seeds": " ".join(map(str, seeds)), "users": res.n,
        "mean_a": float(mean_a.loc[users].mean()) if users else math.nan,
        "mean_b": float(mean_b.loc[users].mean()) if users else math.nan,
        "mean_diff": res.mean, "t": res.statistic, "df": res.df, "p": res.pvalue, "p_a_above_b": one_sided,
        "note": note,
    }


def user_paired_tests(long: pd.DataFrame, plan: AggregationPlan, alpha: float = 0.05) -> pd.DataFrame:
    """The prompt-blind control of every variant that has it, and the plan's variant comparisons,
    each a paired t-test over users (module docstring); Holm within each family."""
    scores = UserScores(long)
    rows = []
    for dataset, variant, task, method, metric in sorted(scores.keys):
        if method == "scoring" and (dataset, variant, task, "scoring_blind", metric) in scores.keys:
            rows.append(_test_row(PROMPT_FAMILY, (dataset, variant, task, "scoring", metric),
                                  (dataset, variant, task, "scoring_blind", metric), scores))
    for family, va, vb, datasets in variant_comparisons(plan):
        for dataset in datasets:
            if (dataset, va) in plan.aliases:
                continue
            for key in sorted(k for k in scores.keys if k[0] == dataset and k[1] == va):
                key_b = (dataset, vb, *key[2:])
                if key_b in scores.keys:
                    rows.append(_test_row(family.format(task=key[2]), key, key_b, scores))
    rows = [r for r in rows if r is not None]
    if not rows:
        return pd.DataFrame(columns=USER_TEST_COLUMNS)
    return holm_by_family(pd.DataFrame(rows), alpha)[USER_TEST_COLUMNS]
