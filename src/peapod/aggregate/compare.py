"""The families of tests behind the tables, and the reproduction verdicts.

1. Against the papers' reported numbers (the paper's protocol): one-sample Student's t-test of a
   variant's seed scores (the method that stands for the paper's, peapod.aggregate.methods) against
   every reported cell of a paper table in which that variant is shown or which it reproduces.
   Family for Holm: one paper table. ``relation`` says what the reported model is to the variant:
   own (the model it reproduces), baseline (a model other than PeaPOD: the * test), other.
2. Between variants reproduced here: paired t-test over shared seeds, default (PeaPOD) vs baseline
   (POD) per task (family: that task), and each ablation variant vs the default (family: that ablation).
3. Verdicts: for every reported cell a variant reproduces, our mean, 95% interval, difference,
   one-sample t-test, and whether the reported value lies inside, above or below our interval.

Only the test split enters the tests and tables.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from peapod.aggregate.methods import compared_method
from peapod.metrics import BEAM_DIAGNOSTICS
from peapod.aggregate.reported import PROPOSED, table_group, variants_run_on
from peapod.aggregate.settings import AggregationPlan
from peapod.aggregate.stats import holm, one_sample_ttest, paired_ttest

TEST_SPLIT = "test"
VS_REPORTED_COLUMNS = [
    "family", "paper", "table", "dataset", "task", "model", "metric", "variant", "method", "relation",
    "reported", "mean", "n", "t", "df", "p", "p_holm", "significant", "significant_holm", "direction", "seeds", "note",
]
PAIRED_COLUMNS = [
    "family", "dataset", "task", "method", "metric", "variant_a", "variant_b", "n", "mean_a", "mean_b",
    "mean_diff", "t", "df", "p", "p_holm", "significant", "significant_holm", "unpaired_seeds", "note",
]
VERDICT_COLUMNS = [
    "paper", "table", "dataset", "task", "metric", "model", "variant", "method", "reported", "mean", "std", "n",
    "ci_low", "ci_high", "diff", "rel_diff", "t", "p", "verdict",
]
def baseline_verdicts(baselines: pd.DataFrame, reported: pd.DataFrame, reference: str) -> pd.DataFrame:
    """The verdicts of every reported baseline cell that a trained baseline (peapod.baselines) reproduces
    on a dataset of ours: the same machinery as the generator's cells, the variant being the model."""
    from peapod.aggregate.baselines import trained_summary, trained_tidy

    tidy = trained_tidy(baselines)
    summary = trained_summary(baselines).rename(columns={"model": "variant"})
    have = set(zip(tidy["dataset"], tidy["variant"], tidy["task"]))
    cells = reported.assign(variant=[m if (d, m, t) in have else None
                                     for d, m, t in zip(reported["dataset"], reported["model"], reported["task"])])
    only_method = lambda task, available: min(available) if available else ""  # noqa: E731 (one method per baseline)
    return reproduction_verdicts(tidy, summary, cells, reference, method_for=only_method)


VERDICTS = {"inside": "inside the interval", "above": "above (ours higher)", "below": "below (ours lower)"}


class SeedScores:
    """The test split's seed scores, indexed once: (dataset, variant, task, method, metric) -> {seed: value}."""

    def __init__(self, tidy: pd.DataFrame):
        test = tidy[(tidy["split"] == TEST_SPLIT) & tidy["value"].notna()]
        self._scores: dict[tuple, dict[int, float]] = {}
        self._methods: dict[tuple, set[str]] = {}
        for key, g in test.groupby(["dataset", "variant", "task", "method", "metric"], sort=False):
            self._scores[key] = {int(s): float(v) for s, v in zip(g["seed"], g["value"])}
            self._methods.setdefault(key[:3], set()).add(key[3])

    def scores(self, dataset, variant, task, method, metric) -> dict[int, float]:
        return self._scores.get((dataset, variant, task, method, metric), {})

    def methods(self, dataset, variant, task) -> set[str]:
        return self._methods.get((dataset, variant, task), set())


def methods_of(data: pd.DataFrame, dataset: str, variant: str, task: str) -> set[str]:
    """The methods a (dataset, variant) has results for on ``task`` (tidy metrics or a summary)."""
    sel = data[(data["dataset"] == dataset) & (data["variant"] == variant) & (data["task"] == task)]
    return set(sel["method"])


def holm_by_family(df: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """``df`` with p_holm (Holm within each ``family``) and the significance columns added."""
    df = df.copy()
    df["p_holm"] = np.nan
    for _, idx in df.groupby("family", sort=False).groups.items():
        df.loc[idx, "p_holm"] = holm(df.loc[idx, "p"].to_numpy(dtype=float))
    df["significant"] = df["p"] < alpha
    df["significant_holm"] = df["p_holm"] < alpha
    return df


def shown_variants(plan: AggregationPlan, group: str) -> tuple[str, ...]:
    """The variants our table of ``group`` shows: the table variants (main) or the ablation's."""
    if group == "main":
        return plan.table_variants
    return tuple(plan.ablations.get(group, {}).get("variants", ()))


def tests_vs_reported(
    tidy: pd.DataFrame, reported: pd.DataFrame, plan: AggregationPlan, alpha: float = 0.05
) -> pd.DataFrame:
    """One-sample t-tests of each variant's seeds against each reported cell it can be compared with.

    ``reported``: cells with the variant that reproduces each (peapod.aggregate.reported.attach_variants).
    """
    run_on = {d: set(variants_run_on(plan, d)) for d in plan.datasets}
    index = SeedScores(tidy)
    rows = []
    for (paper, table), cells in reported.groupby(["paper", "table"], sort=False):
        group = table_group(paper, int(table))
        shown = shown_variants(plan, group[0]) if group else ()
        for r in cells.itertuples(index=False):
            candidates = [v for v in dict.fromkeys([*shown, r.variant]) if v and v in run_on.get(r.dataset, ())]
            for variant in candidates:
                method = compared_method(r.task, index.methods(r.dataset, variant, r.task))
                scores = index.scores(r.dataset, variant, r.task, method, r.metric)
                test = one_sample_ttest(list(scores.values()), r.value)
                direction = "" if math.isnan(test.mean) else (
                    "higher" if test.mean > r.value else "lower" if test.mean < r.value else "equal")
                relation = "own" if r.variant == variant else "baseline" if r.model not in PROPOSED else "other"
                rows.append({
                    "family": f"{paper} table {table}", "paper": paper, "table": int(table), "dataset": r.dataset,
                    "task": r.task, "model": r.model, "metric": r.metric, "variant": variant, "method": method,
                    "relation": relation, "reported": r.value, "mean": test.mean, "n": test.n, "t": test.statistic,
                    "df": test.df, "p": test.pvalue, "direction": direction,
                    "seeds": " ".join(map(str, sorted(scores))), "note": test.note,
                })
    df = pd.DataFrame(rows, columns=[c for c in VS_REPORTED_COLUMNS if c not in ("p_holm", "significant", "significant_holm")])
    return holm_by_family(df, alpha)[VS_REPORTED_COLUMNS] if len(df) else pd.DataFrame(columns=VS_REPORTED_COLUMNS)


def _shared_mean(x: dict[int, float], y: dict[int, float]) -> float:
    """Mean of ``x`` over the seeds ``y`` also has (the seeds the paired test uses)."""
    shared = sorted(set(x) & set(y))
    return float(np.mean([x[s] for s in shared])) if shared else math.nan


def variant_comparisons(plan: AggregationPlan) -> list[tuple[str, str, str, tuple[str, ...]]]:
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
    index = SeedScores(tidy)
    rows = []
    for family, va, vb, datasets in variant_comparisons(plan):
        for dataset in datasets:
            if (dataset, va) in plan.aliases:
                continue  # the default variant's own runs: nothing to compare
            # Beam diagnostics describe the beams, not the ranking: not hypotheses of the Holm family.
            keys = test[(test["dataset"] == dataset) & test["variant"].isin([va, vb])
                        & ~test["metric"].isin(BEAM_DIAGNOSTICS)]
            for (task, method, metric), _ in keys.groupby(["task", "method", "metric"], sort=True):
                a = index.scores(dataset, va, task, method, metric)
                b = index.scores(dataset, vb, task, method, metric)
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
    return holm_by_family(df, alpha)[PAIRED_COLUMNS] if len(df) else pd.DataFrame(columns=PAIRED_COLUMNS)


def verdict(reported: float, ci_low: float, ci_high: float) -> str:
    """Where the reported value lies relative to our 95% interval (ours above / below it)."""
    if math.isnan(ci_low) or math.isnan(ci_high):
        return "no interval (n < 2)"
    if ci_low <= reported <= ci_high:
        return VERDICTS["inside"]
    return VERDICTS["above"] if ci_low > reported else VERDICTS["below"]


def reproduction_verdicts(
    tidy: pd.DataFrame, summary: pd.DataFrame, reported: pd.DataFrame, reference: str, method_for=compared_method
) -> pd.DataFrame:
    """One row per reported cell that a variant reproduces and that has runs (the reference paper
    first): reported value, our mean, sd, n, 95% interval, difference (ours minus reported),
    relative difference, one-sample t-test and the verdict. ``method_for(task, available)``: the
    method compared (default: the one standing for the paper's, peapod.aggregate.methods)."""
    test = summary[summary["split"] == TEST_SPLIT].set_index(["dataset", "variant", "task", "method", "metric"])
    index = SeedScores(tidy)
    rows = []
    for r in reported[reported["variant"].notna()].itertuples(index=False):
        method = method_for(r.task, index.methods(r.dataset, r.variant, r.task))
        key = (r.dataset, r.variant, r.task, method, r.metric)
        if key not in test.index or test.loc[key, "n_seeds"] == 0:
            continue
        s = test.loc[key]
        t = one_sample_ttest(list(index.scores(*key).values()), r.value)
        rows.append({
            "paper": r.paper, "table": int(r.table), "dataset": r.dataset, "task": r.task, "metric": r.metric,
            "model": r.model, "variant": r.variant, "method": method, "reported": r.value, "mean": s["mean"],
            "std": s["std"], "n": int(s["n_seeds"]), "ci_low": s["ci_low"], "ci_high": s["ci_high"],
            "diff": s["mean"] - r.value, "rel_diff": (s["mean"] - r.value) / r.value if r.value else math.nan,
            "t": t.statistic, "p": t.pvalue, "verdict": verdict(r.value, s["ci_low"], s["ci_high"]),
        })
    df = pd.DataFrame(rows, columns=VERDICT_COLUMNS)
    if len(df):
        df["_ref"] = df["paper"] != reference
        df = df.sort_values(["_ref", "paper", "table", "dataset", "variant"], kind="stable").drop(columns="_ref")
    return df.reset_index(drop=True)
