"""The paper's tables: their rows, best/second marks and significance marks (peapod.aggregate.render
writes them as Markdown, LaTeX, HTML and CSV). The tables' shape (which tables, columns, cells, rows)
is peapod.aggregate.table_layout's, the notes under them peapod.aggregate.table_notes'; this module
re-exports both, so ``from peapod.aggregate import tables`` reaches every name as before.

A table is one task of one group (the main tables, or an appendix ablation: task prompts, embeddings,
model size), in the layout of the reference paper's table (peapod.aggregate.reported):

  1. every reported row of that table, in the paper's order; a model we reproduce is "<model> (paper)"
  2. baselines we compute on exactly our data (top-n and sequential): most popular, the CF models
  3. our reproduced variants, "<model> (ours)": mean over seeds with the half-width of its 95%
     interval; the method that stands for the paper's first, other methods as extra labelled rows

Columns are dataset x metric: the datasets we run, then the paper's datasets we do not run (their
columns hold reported rows only, and the header says so). In the sequential tables a dataset with an
id-order twin (peapod.config.with_twins: the same data, items renumbered at random) has the twin's
columns right after its own, "<dataset>, random ids": our rows and the baselines on the twin, so each
of our cells has its twin's beside it and the id-order row shows both numberings. The twin is a
control: its columns get no * or † (no test ever reads a twin). Marks, per column over every row shown,
on the values as displayed (a tie on screen is a tie): best in bold, second best underlined.
Significance marks:
  *  on a (paper) row, as the paper starred it; on an (ours) row, the paper's definition: one-sample
     t-test of our seeds against the strongest reported baseline of the table (any model but PeaPOD
     and the row's own model), our mean higher and p < alpha;
  †  paired t-test over shared seeds against the comparison variant (POD for PeaPOD in the main
     tables, the default PeaPOD in appendix tables): mean higher and Holm-adjusted p < alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import pandas as pd

from peapod.aggregate.baselines import ALL_USERS, baseline_label, trained_summary, user_set_name
from peapod.aggregate.compare import methods_of, shown_variants
from peapod.aggregate.methods import compared_method, method_label, ordered_methods
from peapod.aggregate.reported import reproducing_variant, table_number
from peapod.aggregate.settings import SettingsError, settings_table
from peapod.aggregate.table_layout import (  # noqa: F401 (re-exported: the tables' shape, as before the split)
    APPENDIX_GROUPS, BASELINE_TASKS, DAGGER, DECIMALS, GROUP_TITLES, METRIC_LABELS, STAR, TABLE_NAMES, TABLE_SPECS,
    TASK_LABELS, TASK_METRICS, TASK_TITLES, TWIN_LABEL, TWIN_TASKS, Cell, Column, PaperTable, Row, TableSpec,
    dataset_label, fmt, table_names,
)
from peapod.aggregate.table_notes import (  # noqa: F401 (re-exported: the notes, as before the split)
    DIAGNOSTIC_LABELS, baseline_notes, baseline_user_notes, diagnostics_notes, sample_note, source_notes, twin_notes,
)
from peapod.baselines.id_order import MODEL as ID_ORDER
from peapod.baselines.registry import NAMES as BASELINE_NAMES


@dataclass
class TableInputs:
    """Everything a table is built from (the aggregation's files, read)."""

    config: dict[str, Any]
    plan: AggregationPlan
    summary: pd.DataFrame  # seed summary (peapod.aggregate.stats.summarize)
    reported: pd.DataFrame  # every reported cell, with the variant reproducing it
    vs_reported: pd.DataFrame
    paired: pd.DataFrame
    baselines: pd.DataFrame  # peapod.aggregate.baselines, every dataset
    reference: str = "peapod_cup"
    labels: dict[str, str] = field(default_factory=dict)
    alpha: float = 0.05
    star_uses_holm: bool = False


def mark_best(table: PaperTable, higher_is_better: bool = True) -> None:
    """Bold the best and underline the second best value of each column (ties share the mark)."""
    for col in table.columns:
        shown = {}
        for i, row in enumerate(table.rows):
            cell = row.cells.get(col)
            if cell is not None and not math.isnan(cell.value):
                shown[i] = round(cell.value, DECIMALS)
        distinct = sorted(set(shown.values()), reverse=higher_is_better)
        for i, v in shown.items():
            cell = table.rows[i].cells[col]
            cell.bold = v == distinct[0]
            cell.underline = len(distinct) > 1 and v == distinct[1]


def add_significance(
    table: PaperTable,
    vs_reported: pd.DataFrame | None,
    paired: pd.DataFrame | None,
    alpha: float = 0.05,
    star_uses_holm: bool = False,
    paired_against: dict[str, str] | None = None,
    reported_table: tuple[str, int] | None = None,
) -> None:
    """Add * and † to reproduced cells (see the module docstring). ``reported_table``: (paper, table)
    whose baselines the * test uses; None: any reported cell of the same column."""
    pcol = "p_holm" if star_uses_holm else "p"
    for row in table.rows:
        if row.kind != "reproduced":
            continue
        for col, cell in row.cells.items():
            if math.isnan(cell.value):
                continue
            if row.compared and vs_reported is not None and len(vs_reported):
                t = vs_reported[
                    (vs_reported["variant"] == row.variant) & (vs_reported["dataset"] == col.dataset)
                    & (vs_reported["task"] == col.task) & (vs_reported["method"] == row.method)
                    & (vs_reported["metric"] == col.metric) & (vs_reported["relation"] == "baseline")
                ]
                if reported_table is not None:
                    t = t[(t["paper"] == reported_table[0]) & (t["table"] == reported_table[1])]
                if len(t):
                    best = t.loc[t["reported"].idxmax()]
                    if best["mean"] > best["reported"] and best[pcol] < alpha:
                        cell.marks.append(STAR)
            other = (paired_against or {}).get(row.variant)
            if other and paired is not None and len(paired):
                p = paired[
                    (paired["variant_a"] == row.variant) & (paired["variant_b"] == other)
                    & (paired["dataset"] == col.dataset) & (paired["task"] == col.task)
                    & (paired["method"] == row.method) & (paired["metric"] == col.metric)
                ]
                if len(p) and p["mean_diff"].iloc[0] > 0 and p["p_holm"].iloc[0] < alpha:
                    cell.marks.append(DAGGER)


def reported_rows(reported: pd.DataFrame, columns: Sequence[Column], reproduced_models: set[str]) -> list[Row]:
    """One row per reported model (in the file's order) with a value in some column; the paper's
    stars kept; a model we reproduce is labelled "<model> (paper)"."""
    wanted = {(c.dataset, c.task, c.metric) for c in columns}
    keep = [(d, t, m) in wanted for d, t, m in zip(reported["dataset"], reported["task"], reported["metric"])]
    rep = reported.loc[pd.Series(keep, index=reported.index, dtype=bool)]
    rows = []
    for model in dict.fromkeys(rep["model"]):
        sub = rep[rep["model"] == model].set_index(["dataset", "task", "metric"])
        cells = {}
        for c in columns:
            key = (c.dataset, c.task, c.metric)
            cells[c] = Cell(value=float(sub.loc[key, "value"])) if key in sub.index else Cell()
            if key in sub.index and bool(sub.loc[key, "significant"]):
                cells[c].marks.append(STAR)
        label = f"{model} (paper)" if model in reproduced_models else model
        rows.append(Row(label, "reported", cells))
    return rows


def baseline_row_label(name: str, task: str, users: str, runs_users: str) -> str:
    """"<name> (ours, same candidates)" for a row on the users our runs were evaluated on; a row on
    other users says which: "<name> (ours, same candidates, all users)"."""
    where = BASELINE_TASKS[task]
    if users == runs_users:
        return f"{name} (ours, {where})"
    return f"{name} (ours, {where}, {'all users' if users == ALL_USERS else 'users: ' + users})"


def baseline_rows(baselines: pd.DataFrame, columns: Sequence[Column], task: str, runs_users: str = ALL_USERS
                  ) -> list[Row]:
    """Rows of the baselines computed on our data, test split: the deterministic ones (most popular
    first, the id-order probe, the CF models), then each trained baseline (peapod.baselines) as the
    mean over its seeds with the 95% interval. One row per model and user set (``users``); a row
    whose users are not the runs' (``runs_users``, peapod.aggregate.baselines.user_set_name) says so."""
    if task not in BASELINE_TASKS or baselines.empty:
        return []
    sel = baselines[(baselines["task"] == task) & (baselines["split"] == "test")]
    fixed = sel[sel["seed"].isna()]
    keys = sorted(set(zip(fixed["model"], fixed["users"])),
                  key=lambda k: (k[0] != "most_popular", k[0] != ID_ORDER, k[0], k[1] != runs_users, k[1]))
    rows = []
    for model, users in keys:
        sub = fixed[(fixed["model"] == model) & (fixed["users"] == users)].set_index(["dataset", "metric"])["value"]
        cells = {c: Cell(value=float(sub[(c.dataset, c.metric)])) if (c.dataset, c.metric) in sub.index else Cell()
                 for c in columns}
        rows.append(Row(baseline_row_label(baseline_label(model), task, users, runs_users), "baseline", cells,
                        method=model, users=users))
    summary = trained_summary(sel)
    for model in [m for m in BASELINE_NAMES if m in set(summary["model"])]:
        for users in sorted(set(summary.loc[summary["model"] == model, "users"]), key=lambda u: (u != runs_users, u)):
            sub = summary[(summary["model"] == model) & (summary["users"] == users)].set_index(["dataset", "metric"])
            rows.append(Row(baseline_row_label(model, task, users, runs_users), "baseline", seed_cells(sub, columns),
                            method=model, users=users))
    return rows


def seed_cells(summary: pd.DataFrame, columns: Sequence[Column]) -> dict[Column, Cell]:
    """Cells of a seed summary indexed by (dataset, metric): the mean with its 95% interval."""
    cells = {}
    for c in columns:
        if (c.dataset, c.metric) in summary.index and summary.loc[(c.dataset, c.metric), "n_seeds"] > 0:
            h = summary.loc[(c.dataset, c.metric)]
            cells[c] = Cell(value=float(h["mean"]), std=float(h["std"]), n=int(h["n_seeds"]),
                            ci_low=float(h["ci_low"]), ci_high=float(h["ci_high"]))
        else:
            cells[c] = Cell()
    return cells


def place_under_reported(rows: list[Row]) -> list[Row]:
    """Each trained baseline's (ours) rows moved directly under the reported row of the same model."""
    ours: dict[str, list[Row]] = {}
    for r in rows:
        if r.kind == "baseline" and r.method in BASELINE_NAMES:
            ours.setdefault(r.method, []).append(r)
    reported = {r.label for r in rows if r.kind == "reported"}
    placed = [r for r in rows if not (r.kind == "baseline" and r.method in reported and r.method in ours)]
    out = []
    for row in placed:
        out.append(row)
        if row.kind == "reported" and row.label in ours:
            out += ours[row.label]
    return out


def reproduced_rows(
    summary: pd.DataFrame, columns: Sequence[Column], task: str, variants: Sequence[str], names: dict[str, str]
) -> list[Row]:
    """Per variant: the compared method's row, then one row per other method; ``names``: variant -> row name."""
    test = summary[summary["split"] == "test"]
    datasets = list(dict.fromkeys(c.dataset for c in columns))
    rows = []
    for variant in variants:
        available = set().union(*(methods_of(test, d, variant, task) for d in datasets)) if datasets else set()
        first = compared_method(task, available)
        for method in ordered_methods(task, available) if available else [first]:
            cells = {}
            for c in columns:
                hit = test[(test["dataset"] == c.dataset) & (test["variant"] == variant) & (test["task"] == c.task)
                           & (test["method"] == method) & (test["metric"] == c.metric)]
                if len(hit) and hit["n_seeds"].iloc[0] > 0:
                    h = hit.iloc[0]
                    cells[c] = Cell(value=float(h["mean"]), std=float(h["std"]), n=int(h["n_seeds"]),
                                    ci_low=float(h["ci_low"]), ci_high=float(h["ci_high"]))
                else:
                    cells[c] = Cell()
            label = f"{names[variant]} (ours)" if method == first else f"{names[variant]} (ours, {method_label(method, task)})"
            rows.append(Row(label, "reproduced", cells, variant=variant, method=method, compared=method == first))
    return rows


def make_paper_table(name: str, inputs: TableInputs) -> PaperTable:
    """One of TABLE_NAMES: the reference paper's table for (group, task) beside our rows."""
    spec = TABLE_SPECS[name]
    plan = inputs.plan
    if spec.group != "main" and spec.group not in plan.ablations:
        raise SettingsError(f"table {name} needs the {spec.group} ablation, which is not configured under ablations:")
    number = table_number(inputs.reference, spec.group, spec.task)
    rep = inputs.reported[(inputs.reported["paper"] == inputs.reference) & (inputs.reported["table"] == number)]
    variants = shown_variants(plan, spec.group)
    run_datasets = plan.datasets if spec.group == "main" else plan.ablations[spec.group]["datasets"]
    # Our datasets the paper does not have first, then the paper's in its own order (Sports,
    # Beauty, Toys), whether we run them or only show their reported rows.
    paper_order = list(dict.fromkeys(rep["dataset"]))
    datasets = [d for d in run_datasets if d not in paper_order] + paper_order
    # Each twin's columns right after its dataset's (a control beside the number it checks).
    twins = {d: t for d, t in plan.twins.items() if d in run_datasets} if spec.task in TWIN_TASKS else {}
    datasets = [shown for d in datasets for shown in (d, twins.get(d)) if shown]
    columns = [Column(d, spec.task, m) for d in datasets for m in TASK_METRICS[spec.task]]
    # The reported model each shown variant reproduces (its row name), from the settings, not names.
    mapped: dict[str, str] = {}
    settings = settings_table(inputs.config, run_datasets)
    for model in dict.fromkeys(rep["model"]):
        for dataset in run_datasets:
            variant = reproducing_variant(inputs.config, plan, dataset, model, settings)
            if variant in variants:
                mapped.setdefault(variant, model)
    names = {v: mapped.get(v, inputs.labels.get(v, v)) for v in variants}
    reproduced_models = set(mapped.values())
    runs_users = user_set_name(inputs.config.get("evaluation"))
    rows = place_under_reported(reported_rows(rep, columns, reproduced_models)
                                + baseline_rows(inputs.baselines, columns, spec.task, runs_users)) \
        + reproduced_rows(inputs.summary, columns, spec.task, variants, names)
    table = PaperTable(name, spec.title, columns, rows, twins={t: d for d, t in twins.items()})
    mark_best(table)
    if spec.group == "main":
        against = {plan.default_variant: plan.baseline_variant} if plan.baseline_variant else {}
    else:
        against = {v: plan.default_variant for v in variants if v != plan.default_variant}
    add_significance(table, inputs.vs_reported, inputs.paired, inputs.alpha, inputs.star_uses_holm, against,
                     (inputs.reference, number) if number else None)
    # "(reported only)": no row of ours (a reproduced run or a baseline on our split) has a value.
    table.reported_only = {d for d in datasets if d not in table.twins and not any(
        not math.isnan(r.cells[c].value) for r in rows if r.kind in ("reproduced", "baseline")
        for c in columns if c.dataset == d)}
    table.notes += source_notes(spec, inputs.reference, number, table, runs_users)
    table.notes += baseline_notes(spec.task, table, inputs.config)
    table.notes += twin_notes(table, [inputs.labels.get(v, v) for v in plan.table_variants])
    table.notes += sample_note(inputs.config.get("evaluation") or {})
    table.notes += diagnostics_notes(inputs.summary, [r for r in rows if r.kind == "reproduced"], run_datasets,
                                     spec.task)
    return table
