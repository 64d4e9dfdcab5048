"""The families of tests behind the tables.

1. Against the papers' reported numbers (the paper's protocol): one-sample Student's t-test of each
   reproduced variant's seed scores against every reported number for the same dataset, task,
   method and metric. Family for Holm: one task (one paper table).
2. Between variants reproduced here: paired t-test over shared seeds, default (PeaPOD) vs baseline
   (POD) per task (family: that task), and each ablation variant vs the default (family: that ablation).
3. Reproduced vs reported: for each reported row that a variant reproduces, the difference and whether
   the reported value lies inside the reproduction's 95% confidence interval.

Only the test split enters the tests and tables.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from peapod.aggregate.settings import AggregationPlan
from peapod.aggregate.stats import holm, one_sample_ttest, paired_ttest

TEST_SPLIT = "test"
VS_REPORTED_COLUMNS = [
    "family", "dataset", "task", "method", "metric", "variant", "model", "reproduced_by", "reported",
    "mean", "n", "t", "df", "p", "p_holm", "significant", "significant_holm", "direction", "seeds", "note", "source",
]
PAIRED_COLUMNS = [
    "family", "dataset", "task", "method", "metric", "variant_a", "variant_b", "n", "mean_a", "mean_b",
    "mean_diff", "t", "df", "p", "p_holm", "significant", "significant_holm", "unpaired_seeds", "note",
]
REPRO_COLUMNS = [
    "dataset", "task", "method", "metric", "variant", "model", "reported", "mean", "std", "n", "diff",
    "rel_diff", "ci_low", "ci_high", "reported_in_ci", "t", "p", "table", "source",
]


def _scores(tidy: pd.DataFrame, dataset, variant, task, method, metric) -> dict[int, float]:
    sel = tidy[
        (tidy["dataset"] == dataset) & (tidy["variant"] == variant) & (tidy["task"] == task)
        & (tidy["method"] == method) & (tidy["split"] == TEST_SPLIT) & (tidy["metric"] == metric)
    ]
    return {int(s): float(v) for s, v in zip(sel["seed"], sel["value"]) if not math.isnan(v)}


def _adjust(df: pd.DataFrame, alpha: float) -> pd.DataFrame:
    df = df.copy()
    df["p_holm"] = np.nan
    for _, idx in df.groupby("family", sort=False).groups.items():
        df.loc[idx, "p_holm"] = holm(df.loc[idx, "p"].to_numpy(dtype=float))
    df["significant"] = df["p"] < alpha
    df["significant_holm"] = df["p_holm"] < alpha
    return df


def tests_vs_reported(
    tidy: pd.DataFrame, reported: pd.DataFrame, variants: list[str], alpha: float = 0.05
) -> pd.DataFrame:
    """One-sample t-tests of each variant's seeds against each reported number it can be compared with."""
    rows = []
    for r in reported.itertuples(index=False):
        for variant in variants:
            scores = _scores(tidy, r.dataset, variant, r.task, r.method, r.metric)
            if not scores and not ((tidy["dataset"] == r.dataset) & (tidy["variant"] == variant)).any():
                continue  # this variant was not run on this dataset
            test = one_sample_ttest(list(scores.values()), r.value)
            direction = "" if math.isnan(test.mean) else ("higher" if test.mean > r.value else "lower" if test.mean < r.value else "equal")
            rows.append(
                {
                    "family": r.task, "dataset": r.dataset, "task": r.task, "method": r.method, "metric": r.metric,
                    "variant": variant, "model": r.model, "reproduced_by": r.reproduced_by, "reported": r.value,
                    "mean": test.mean, "n": test.n, "t": test.statistic, "df": test.df, "p": test.pvalue,
                    "direction": direction, "seeds": " ".join(map(str, sorted(scores))), "note": test.note,
                    "source": r.source,
                }
            )
    df = pd.DataFrame(rows, columns=[c for c in VS_REPORTED_COLUMNS if c not in ("p_holm", "significant", "significant_holm")])
    return _adjust(df, alpha)[VS_REPORTED_COLUMNS] if len(df) else pd.DataFrame(columns=VS_REPORTED_COLUMNS)


def _shared_mean(x: dict[int, float], y: dict[int, float]) -> float:
    """Mean of ``x`` over the seeds ``y`` also has (the seeds the paired test uses)."""
    shared = sorted(set(x) & set(y))
    return float(np.mean([x[s] for s in shared])) if shared else math.nan


def _comparisons(plan: AggregationPlan) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(family, variant_a, variant_b, datasets) for every paired comparison the plan asks for."""
    out = []
    if plan.baseline_variant and plan.baseline_variant != plan.default_variant:
        out.append(("{task}", plan.default_variant, plan.baseline_variant, plan.datasets))
    for name, spec in plan.ablations.items():
        for variant in spec["variants"]:
            if variant != plan.default_variant:
                out.append((f"ablation:{name}", variant, plan.default_variant, spec["datasets"]))
    return out


def paired_tests(tidy: pd.DataFrame, plan: AggregationPlan, alpha: float = 0.05) -> pd.DataFrame:
    """Paired t-tests over shared seeds for every comparison of the plan, Holm-adjusted per family."""
    test = tidy[tidy["split"] == TEST_SPLIT]
    rows = []
    for family, va, vb, datasets in _comparisons(plan):
        for dataset in datasets:
            if (dataset, va) in plan.aliases:
                continue  # the default variant's own runs: nothing to compare
            keys = test[(test["dataset"] == dataset) & test["variant"].isin([va, vb])]
            for (task, method, metric), _ in keys.groupby(["task", "method", "metric"], sort=True):
                a = _scores(tidy, dataset, va, task, method, metric)
                b = _scores(tidy, dataset, vb, task, method, metric)
                res, unpaired = paired_ttest(a, b)
                rows.append(
                    {
                        "family": family.format(task=task), "dataset": dataset, "task": task, "method": method,
                        "metric": metric, "variant_a": va, "variant_b": vb, "n": res.n,
                        "mean_a": _shared_mean(a, b), "mean_b": _shared_mean(b, a),
                        "mean_diff": res.mean, "t": res.statistic, "df": res.df, "p": res.pvalue,
                        "unpaired_seeds": " ".join(map(str, unpaired)), "note": res.note,
                    }
                )
    df = pd.DataFrame(rows, columns=[c for c in PAIRED_COLUMNS if c not in ("p_holm", "significant", "significant_holm")])
    return _adjust(df, alpha)[PAIRED_COLUMNS] if len(df) else pd.DataFrame(columns=PAIRED_COLUMNS)


def reproduced_vs_reported(summary: pd.DataFrame, reported: pd.DataFrame, vs_reported: pd.DataFrame) -> pd.DataFrame:
    """For each reported row a variant reproduces: difference, relative difference, CI and whether it holds the reported value."""
    rows = []
    for r in reported[reported["reproduced_by"].notna()].itertuples(index=False):
        s = summary[
            (summary["dataset"] == r.dataset) & (summary["variant"] == r.reproduced_by) & (summary["task"] == r.task)
            & (summary["method"] == r.method) & (summary["split"] == TEST_SPLIT) & (summary["metric"] == r.metric)
        ]
        if s.empty:
            continue
        s = s.iloc[0]
        t = vs_reported[
            (vs_reported["dataset"] == r.dataset) & (vs_reported["variant"] == r.reproduced_by)
            & (vs_reported["model"] == r.model) & (vs_reported["task"] == r.task)
            & (vs_reported["method"] == r.method) & (vs_reported["metric"] == r.metric)
        ]
        inside = bool(s.ci_low <= r.value <= s.ci_high) if not math.isnan(s.ci_low) else None
        rows.append(
            {
                "dataset": r.dataset, "task": r.task, "method": r.method, "metric": r.metric,
                "variant": r.reproduced_by, "model": r.model, "reported": r.value, "mean": s["mean"],
                "std": s["std"], "n": int(s.n_seeds), "diff": s["mean"] - r.value,
                "rel_diff": (s["mean"] - r.value) / r.value if r.value else math.nan,
                "ci_low": s.ci_low, "ci_high": s.ci_high, "reported_in_ci": inside,
                "t": t["t"].iloc[0] if len(t) else math.nan, "p": t["p"].iloc[0] if len(t) else math.nan,
                "table": r.table, "source": r.source,
            }
        )
    return pd.DataFrame(rows, columns=REPRO_COLUMNS)
