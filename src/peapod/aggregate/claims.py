"""The papers' claims that only figures carry, written once as data, and checked against our runs.

A claim compares subject variants with reference variants of one ablation, on some datasets and
tasks, at the headline metrics (CLAIM_METRICS). Variants are picked by their resolved settings
(never by name): ``{"role": "default"}`` is the default variant, ``{"role": "other"}`` every other
variant of the ablation, any other key a setting (a value, or (op, value) with op in < <= > >=).
Each (dataset, task, metric, subject, reference) is one paired t-test over shared seeds; the claim
agrees there when the observed result is what it expects:

  higher / lower           the subject's mean is above / below the reference's
  significantly higher     above, and paired p < alpha
  not higher               not significantly above (mean not above, or p >= alpha)

A claim with no comparison (ablation not configured, datasets not run) is "not run".
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any

import pandas as pd

from peapod.aggregate.compare import SeedScores
from peapod.aggregate.methods import HEADLINE_METRICS, compared_method
from peapod.aggregate.settings import AggregationPlan
from peapod.aggregate.stats import paired_ttest

CLAIM_METRICS = {task: tuple(m for t, m in HEADLINE_METRICS if t == task) for task, _ in HEADLINE_METRICS}
EXPECTATIONS = ("higher", "lower", "significantly higher", "not higher")
_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Claim:
    id: str
    text: str  # as the paper says it
    ablation: str  # whose runs test it
    subject: dict[str, Any]
    reference: dict[str, Any]
    expect: str  # one of EXPECTATIONS
    datasets: tuple[str, ...] = ()  # () = every dataset the ablation runs on
    tasks: tuple[str, ...] = ()  # () = every task


CLAIMS = (
    Claim("heads_4_best", "4 heads are best overall", "heads",
          {"role": "default"}, {"role": "other"}, "higher"),
    Claim("attention_above_mlp", "every attention variant is significantly above MLP", "heads",
          {"user_prompt": "mha"}, {"user_prompt": "mlp"}, "significantly higher"),
    Claim("more_heads_worse", "more than 4 heads is worse than 4", "heads",
          {"user_prompt": "mha", "heads": (">", 4)}, {"user_prompt": "mha", "heads": 4}, "lower"),
    Claim("bivae_sequential_sports", "BiVAE embeddings are better than PMF on sequential for Sports", "embedding",
          {"cf_model": "bivae"}, {"cf_model": "pmf"}, "higher", datasets=("sports",), tasks=("sequential",)),
    Claim("no_task_prompt_sports", "no task prompt is better on Sports", "task_prompt",
          {"task_prompt_length": 0}, {"role": "default"}, "higher", datasets=("sports",)),
    Claim("no_task_prompt_beauty_toys", "no task prompt is worse on Beauty and Toys", "task_prompt",
          {"task_prompt_length": 0}, {"role": "default"}, "lower", datasets=("beauty", "toys")),
    Claim("t5_base_not_better", "T5-base is not better than T5-small on Beauty and Toys", "model_size",
          {"backbone": "t5-base"}, {"backbone": "t5-small"}, "not higher", datasets=("beauty", "toys")),
)
DETAIL_COLUMNS = [
    "claim", "text", "dataset", "task", "metric", "method", "subject", "reference", "n", "mean_subject",
    "mean_reference", "diff", "t", "p", "expected", "observed", "agrees",
]
SUMMARY_COLUMNS = ["claim", "text", "ablation", "comparisons", "agree", "verdict", "note"]


def matches(predicate: dict[str, Any], settings: dict[str, Any], variant: str, default: str) -> bool:
    """Whether a variant with ``settings`` fits ``predicate`` (see the module docstring)."""
    for key, want in predicate.items():
        if key == "role":
            if (want == "default") != (variant == default):
                return False
        elif isinstance(want, tuple):
            if not _OPS[want[0]](settings[key], want[1]):
                return False
        elif settings[key] != want:
            return False
    return True


def _observed(mean_diff: float, p: float, alpha: float) -> str:
    if math.isnan(mean_diff):
        return "no data"
    word = "higher" if mean_diff > 0 else "lower" if mean_diff < 0 else "equal"
    return f"{word} (p < {alpha:g})" if p < alpha else word


def _agrees(expect: str, mean_diff: float, p: float, alpha: float) -> bool | None:
    if math.isnan(mean_diff):
        return None
    significant_higher = mean_diff > 0 and p < alpha
    return {"higher": mean_diff > 0, "lower": mean_diff < 0, "significantly higher": significant_higher,
            "not higher": not significant_higher}[expect]


def claim_pairs(claim: Claim, plan: AggregationPlan, settings: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(dataset, subject variant, reference variant) for every comparison the claim makes."""
    spec = plan.ablations.get(claim.ablation)
    if spec is None:
        return []
    pairs = []
    for dataset in spec["datasets"]:
        if claim.datasets and dataset not in claim.datasets:
            continue
        rows = settings[settings["dataset"] == dataset].set_index("variant")
        variants = [v for v in spec["variants"] if v in rows.index and (dataset, v) not in plan.aliases]
        subjects = [v for v in variants if matches(claim.subject, rows.loc[v].to_dict(), v, plan.default_variant)]
        for s in subjects:
            refs = [v for v in variants if v != s and matches(claim.reference, rows.loc[v].to_dict(), v, plan.default_variant)]
            pairs += [(dataset, s, r) for r in refs]
    return pairs


def check_claims(
    tidy: pd.DataFrame, plan: AggregationPlan, settings: pd.DataFrame, alpha: float = 0.05, claims=CLAIMS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary: one row per claim with its verdict, details: one row per paired comparison)."""
    index = SeedScores(tidy)
    details, summary = [], []
    for claim in claims:
        rows = []
        for dataset, subject, reference in claim_pairs(claim, plan, settings):
            for task, metrics in CLAIM_METRICS.items():
                if claim.tasks and task not in claim.tasks:
                    continue
                method = compared_method(task, index.methods(dataset, subject, task))
                for metric in metrics:
                    a = index.scores(dataset, subject, task, method, metric)
                    b = index.scores(dataset, reference, task, method, metric)
                    if not a or not b:
                        continue
                    res, _ = paired_ttest(a, b)
                    mean_a = sum(a[s] for s in set(a) & set(b)) / max(1, len(set(a) & set(b)))
                    rows.append({
                        "claim": claim.id, "text": claim.text, "dataset": dataset, "task": task, "metric": metric,
                        "method": method, "subject": subject, "reference": reference, "n": res.n,
                        "mean_subject": mean_a, "mean_reference": mean_a - res.mean, "diff": res.mean,
                        "t": res.statistic, "p": res.pvalue, "expected": claim.expect,
                        "observed": _observed(res.mean, res.pvalue, alpha),
                        "agrees": _agrees(claim.expect, res.mean, res.pvalue, alpha),
                    })
        details += rows
        summary.append(_summary_row(claim, rows))
    return pd.DataFrame(summary, columns=SUMMARY_COLUMNS), pd.DataFrame(details, columns=DETAIL_COLUMNS)


def _summary_row(claim: Claim, rows: list[dict]) -> dict[str, Any]:
    decided = [r["agrees"] for r in rows if r["agrees"] is not None]
    agree = sum(decided)
    if not decided:
        verdict = "not run"
        where = f" on {', '.join(claim.datasets)}" if claim.datasets else ""
        note = f"needs the {claim.ablation} ablation's runs{where}"
    else:
        verdict = "agrees" if agree == len(decided) else "disagrees" if agree == 0 else f"partly ({agree} of {len(decided)})"
        note = f"{len({(r['subject'], r['reference']) for r in rows})} variant pair(s), {len({r['dataset'] for r in rows})} dataset(s)"
    return {"claim": claim.id, "text": claim.text, "ablation": claim.ablation, "comparisons": len(decided),
            "agree": agree, "verdict": verdict, "note": note}
