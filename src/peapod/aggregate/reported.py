"""The papers' reported numbers (resources/reported/paper_tables.csv): loaded, validated, mapped.

The CSV holds every result cell of both PeaPOD versions and of POD, one cell a row (its README,
resources/reported/README.md, says which paper, table and model each row is). Nothing else in the
project types a reported number. Three facts about it live here, once:

  PAPERS           the papers (``paper`` column) and how to name them
  REPORTED_TABLES  which table of each paper is which of ours: (group, task) -> table number, where
                   group is "main" or an ablation (task_prompt, embedding, model_size)
  MODEL_SETTINGS   which reported model a run of ours reproduces: "baseline" (the configured
                   baseline variant, POD) or the settings that differ from the default variant
                   (PeaPOD); models not listed are baselines we do not train
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from peapod.aggregate.collect import METRICS, TASKS
from peapod.aggregate.settings import SETTING_KEYS, AggregationPlan, settings_table
from peapod.errors import InputError

PAPERS = {
    "peapod_cup": "PeaPOD, later version (Collaborative User Prompt for Personalized Generative Recommendation)",
    "peapod_pd": "PeaPOD, earlier version (Personalized Prompt Distillation for Generative Recommendation)",
    "pod": "POD (Prompt Distillation for Efficient LLM-based Recommendation, CIKM 2023)",
}
DEFAULT_REFERENCE = "peapod_cup"
REPORTED_TABLES: dict[str, dict[tuple[str, str], int]] = {
    "peapod_cup": {
        ("main", "sequential"): 2, ("main", "topn"): 3, ("main", "explanation"): 4,
        ("task_prompt", "sequential"): 6, ("task_prompt", "topn"): 7, ("task_prompt", "explanation"): 8,
        ("embedding", "sequential"): 9, ("embedding", "topn"): 10, ("embedding", "explanation"): 11,
        ("model_size", "sequential"): 12, ("model_size", "topn"): 13, ("model_size", "explanation"): 14,
    },
    "peapod_pd": {
        ("main", "sequential"): 3, ("main", "topn"): 4, ("main", "explanation"): 5,
        ("model_size", "sequential"): 6, ("model_size", "topn"): 7, ("model_size", "explanation"): 8,
    },
    "pod": {("main", "sequential"): 2, ("main", "topn"): 3, ("main", "explanation"): 4},
}
MODEL_SETTINGS: dict[str, str | dict[str, Any]] = {
    "POD": "baseline",
    "PeaPOD": {},
    "PeaPOD-PMF": {"cf_model": "pmf"},
    "PeaPOD (small)": {"backbone": "t5-small"},
    "PeaPOD-PMF (small)": {"cf_model": "pmf", "backbone": "t5-small"},
    "PeaPOD (base)": {"backbone": "t5-base"},
    "PeaPOD-PMF (base)": {"cf_model": "pmf", "backbone": "t5-base"},
    "PeaPOD (no task)": {"task_prompt_length": 0},
    "PeaPOD-BiVAE": {"cf_model": "bivae"},
    "PeaPOD-LightGCN": {"cf_model": "lightgcn"},
}
# The papers' own model (its rows are not baselines of the * test); POD is a baseline in PeaPOD's tables.
PROPOSED = frozenset(m for m, spec in MODEL_SETTINGS.items() if spec != "baseline")
CSV_COLUMNS = ["paper", "table", "task", "dataset", "method", "metric", "value", "underlined", "significant"]
COLUMNS = ["paper", "table", "task", "dataset", "model", "metric", "value", "underlined", "significant"]


def load_reported(path: str | Path) -> pd.DataFrame:
    """One row per reported cell, checked; the CSV's ``method`` (a model name) becomes ``model`` and
    metric names are lower-cased to the per-run metric names (rougeL -> rougel)."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # noqa: BLE001 (pandas raises several types for unreadable files)
        raise InputError(path, f"not a readable CSV file ({exc})") from None
    if list(raw.columns) != CSV_COLUMNS:
        raise InputError(path, f"columns are {', '.join(raw.columns)}; expected {', '.join(CSV_COLUMNS)}", where=1)
    rows = []
    for i, r in enumerate(raw.itertuples(index=False)):
        rows.append(_checked_row(path, i + 2, r))
    df = pd.DataFrame(rows, columns=COLUMNS)
    key = ["paper", "table", "dataset", "model", "metric"]
    dup = df.duplicated(key, keep=False)
    if dup.any():
        line = int(dup.to_numpy().nonzero()[0][1]) + 2
        r = df[dup].iloc[0]
        raise InputError(path, f"{r.paper} table {r.table} {r.dataset} {r.model} {r.metric} is given more than once", where=line)
    return df


def _checked_row(path, line: int, r) -> dict[str, Any]:
    if r.paper not in PAPERS:
        raise InputError(path, f"paper {r.paper!r} is not one of {', '.join(PAPERS)}", where=line)
    if r.task not in TASKS:
        raise InputError(path, f"task {r.task!r} is not one of {', '.join(TASKS)}", where=line)
    metric = r.metric.lower()
    if metric not in METRICS:
        raise InputError(path, f"metric {r.metric!r} is not one of {', '.join(METRICS)}", where=line)
    try:
        value, table = float(r.value), int(r.table)
    except ValueError:
        raise InputError(path, f"value {r.value!r} or table {r.table!r} is not a number", where=line) from None
    upper = 1.0 if metric.startswith(("hr", "ndcg")) else 100.0
    if not (math.isfinite(value) and 0 <= value <= upper):
        raise InputError(path, f"{metric}: value {r.value} outside [0, {upper:g}]", where=line)
    for flag in ("underlined", "significant"):
        if getattr(r, flag) not in ("0", "1"):
            raise InputError(path, f"{flag} must be 0 or 1, not {getattr(r, flag)!r}", where=line)
    return {
        "paper": r.paper, "table": table, "task": r.task, "dataset": r.dataset, "model": r.method,
        "metric": metric, "value": value, "underlined": r.underlined == "1", "significant": r.significant == "1",
    }


def table_number(paper: str, group: str, task: str) -> int | None:
    """The number of ``paper``'s table for (group, task), or None when the paper has none."""
    return REPORTED_TABLES.get(paper, {}).get((group, task))


def table_group(paper: str, table: int) -> tuple[str, str] | None:
    """(group, task) of one of ``paper``'s tables."""
    return next((key for key, number in REPORTED_TABLES.get(paper, {}).items() if number == table), None)


def variants_run_on(plan: AggregationPlan, dataset: str) -> list[str]:
    """Variants with runs on ``dataset``: default, baseline, table variants, then ablation variants."""
    have = {v for d, v, _ in plan.runs() if d == dataset}
    order = [plan.default_variant, plan.baseline_variant, *plan.table_variants]
    for spec in plan.ablations.values():
        order += list(spec["variants"])
    return [v for v in dict.fromkeys(order) if v in have]


def reproducing_variant(
    config: dict[str, Any], plan: AggregationPlan, dataset: str, model: str, settings: pd.DataFrame | None = None
) -> str | None:
    """The variant of ours whose runs on ``dataset`` reproduce the reported ``model`` (None if none).

    POD is the configured baseline variant. A PeaPOD model is the variant whose model settings on
    that dataset (SETTING_KEYS of settings_table: user prompt, heads, prompt lengths, neighbours, CF
    model, backbone) equal the default variant's with MODEL_SETTINGS[model] applied; the default is
    preferred when several do. Names never matter; optimiser settings (learning rate ...) do not count.
    """
    spec = MODEL_SETTINGS.get(model)
    run = variants_run_on(plan, dataset)
    if spec is None:
        return None
    if spec == "baseline":
        return plan.baseline_variant if plan.baseline_variant in run else None
    settings = settings_table(config, [dataset]) if settings is None else settings
    rows = settings[settings["dataset"] == dataset].set_index("variant")[list(SETTING_KEYS)]
    if plan.default_variant not in rows.index:
        return None
    target = {**rows.loc[plan.default_variant].to_dict(), **spec}
    return next((v for v in run if v in rows.index and rows.loc[v].to_dict() == target), None)


def attach_variants(reported: pd.DataFrame, config: dict[str, Any], plan: AggregationPlan) -> pd.DataFrame:
    """The reported cells with the variant that reproduces each (``variant``, None for baselines or
    models not run on that dataset)."""
    cache: dict[tuple[str, str], str | None] = {}
    settings = settings_table(config)
    variants = []
    for dataset, model in zip(reported["dataset"], reported["model"]):
        if (dataset, model) not in cache:
            known = dataset in config["datasets"]
            cache[dataset, model] = reproducing_variant(config, plan, dataset, model, settings) if known else None
        variants.append(cache[dataset, model])
    out = reported.copy()
    out["variant"] = pd.Series(variants, index=reported.index, dtype=object)
    return out
