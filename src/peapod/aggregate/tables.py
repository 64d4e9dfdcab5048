"""The paper's tables: layout, best/second marks and significance marks (peapod.aggregate.render
writes them as Markdown, LaTeX, HTML and CSV).

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
from peapod.baselines.id_order import MODEL as ID_ORDER
from peapod.baselines.registry import NAMES as BASELINE_NAMES, NOT_TRAINED
from peapod.aggregate.compare import methods_of, shown_variants
from peapod.aggregate.methods import compared_method, method_label, ordered_methods
from peapod.aggregate.reported import PAPERS, reproducing_variant, table_number
from peapod.aggregate.settings import AggregationPlan, SettingsError, settings_table

METRIC_LABELS = {
    "hr@1": "HR@1", "hr@5": "HR@5", "hr@10": "HR@10", "ndcg@5": "NDCG@5", "ndcg@10": "NDCG@10",
    "bleu4": "BLEU-4", "rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougel": "ROUGE-L",
}
TASK_LABELS = {"sequential": "Seq.", "topn": "Top-n", "explanation": "Expl."}
TASK_METRICS = {
    "sequential": ("hr@5", "ndcg@5", "hr@10", "ndcg@10"),
    "topn": ("hr@1", "hr@5", "ndcg@5", "hr@10", "ndcg@10"),
    "explanation": ("bleu4", "rouge1", "rouge2", "rougel"),
}
TASK_TITLES = {"sequential": "Sequential recommendation", "topn": "Top-n recommendation", "explanation": "Explanation generation"}
GROUP_TITLES = {
    "main": "",
    "task_prompt": "with and without task prompts",
    "embedding": "user embeddings from PMF, BiVAE and LightGCN",
    "model_size": "T5-small versus T5-base",
}
APPENDIX_GROUPS = ("task_prompt", "embedding", "model_size")
# Tasks whose tables show baselines computed on our own data, and what "own" means for them.
BASELINE_TASKS = {"topn": "same candidates", "sequential": "same split"}
# Tasks whose tables show the id-order twins' columns: sequential decodes the next item's id freely,
# which is where P5's numbering by first appearance gives it away.
TWIN_TASKS = ("sequential",)
TWIN_LABEL = "random ids"
STAR, DAGGER = "*", "†"
DECIMALS = 4  # every number of the papers' tables has four decimals


@dataclass(frozen=True)
class TableSpec:
    name: str
    task: str
    group: str  # "main" or an ablation of APPENDIX_GROUPS

    @property
    def title(self) -> str:
        extra = GROUP_TITLES[self.group]
        return f"{TASK_TITLES[self.task]}: {extra}" if extra else TASK_TITLES[self.task]


TABLE_SPECS: dict[str, TableSpec] = {
    **{task: TableSpec(task, task, "main") for task in TASK_METRICS},
    **{f"{g}_{task}": TableSpec(f"{g}_{task}", task, g) for g in APPENDIX_GROUPS for task in TASK_METRICS},
}
TABLE_NAMES = tuple(TABLE_SPECS)


def table_names(plan: AggregationPlan) -> list[str]:
    """The tables the plan makes: the three main ones, and an appendix group's when that ablation is configured."""
    return [name for name, spec in TABLE_SPECS.items() if spec.group == "main" or spec.group in plan.ablations]


@dataclass(frozen=True)
class Column:
    dataset: str
    task: str
    metric: str


@dataclass
class Cell:
    value: float = math.nan
    std: float = math.nan
    n: int | None = None  # seeds behind a reproduced value; None for a reported or computed number
    ci_low: float = math.nan
    ci_high: float = math.nan
    bold: bool = False
    underline: bool = False
    marks: list[str] = field(default_factory=list)

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2 if not (math.isnan(self.ci_low) or math.isnan(self.ci_high)) else math.nan


@dataclass
class Row:
    label: str
    kind: str  # "reported", "baseline" (computed on our data) or "reproduced"
    cells: dict[Column, Cell]
    variant: str | None = None
    method: str | None = None
    compared: bool = False  # the method that stands for the paper's (the one * is tested for)
    users: str | None = None  # a baseline row's users (peapod.aggregate.baselines: "all" or the sample)


@dataclass
class PaperTable:
    name: str
    title: str
    columns: list[Column]
    rows: list[Row]
    metric_header_tasks: bool = False  # put the task in the metric header (tables spanning tasks)
    notes: list[str] = field(default_factory=list)
    reported_only: set[str] = field(default_factory=set)  # datasets without runs of ours
    twins: dict[str, str] = field(default_factory=dict)  # {twin's columns: the dataset it is the twin of}

    def datasets(self) -> list[str]:
        return list(dict.fromkeys(c.dataset for c in self.columns))

    def dataset_title(self, name: str) -> str:
        """The dataset's name in headers and notes; a twin's is its dataset's with "random ids"."""
        return f"{dataset_label(self.twins[name])}, {TWIN_LABEL}" if name in self.twins else dataset_label(name)


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


def dataset_label(name: str) -> str:
    return name.replace("_", " ").title()


def fmt(value: float, metric: str | None = None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{DECIMALS}f}"


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
    table.notes += _notes(spec, inputs.reference, number, table, runs_users)
    table.notes += baseline_notes(spec.task, table, inputs.config)
    table.notes += twin_notes(table, [inputs.labels.get(v, v) for v in plan.table_variants])
    table.notes += sample_note(inputs.config.get("evaluation") or {})
    table.notes += diagnostics_notes(inputs.summary, [r for r in rows if r.kind == "reproduced"], run_datasets,
                                     spec.task)
    return table


DIAGNOSTIC_LABELS = {"share_finished": "finished", "share_ids": "ids", "share_catalogue": "in catalogue",
                     "share_candidates": "in candidates", "top1_in_candidates": "first in candidates"}


def diagnostics_notes(summary: pd.DataFrame, rows: Sequence[Row], datasets: Sequence[str], task: str) -> list[str]:
    """One note per (ours) beam row and dataset: what its returned sequences were (the shares of
    peapod.metrics.BEAM_DIAGNOSTICS, mean over seeds, test split), so that a low HR can be told
    apart from beams that never spell an item or never land among the candidates."""
    test = summary[(summary["split"] == "test") & (summary["task"] == task)
                   & summary["metric"].isin(list(DIAGNOSTIC_LABELS))]
    notes = []
    for row in rows:
        for dataset in datasets:
            sel = test[(test["dataset"] == dataset) & (test["variant"] == row.variant) & (test["method"] == row.method)]
            if not len(sel):
                continue
            values = dict(zip(sel["metric"], sel["mean"]))
            shares = ", ".join(f"{label} {values[m]:.3f}" for m, label in DIAGNOSTIC_LABELS.items() if m in values)
            notes.append(f"Beams of {row.label} on {dataset_label(dataset)} (share of returned sequences, mean over "
                         f"seeds): {shares}.")
    return notes


def _notes(spec: TableSpec, reference: str, number: int | None, table: PaperTable, runs_users: str = ALL_USERS
           ) -> list[str]:
    paper = PAPERS.get(reference, reference)
    notes = [f"Reported rows: {paper}, Table {number} (resources/reported/paper_tables.csv)." if number
             else f"Reported rows: none ({paper} has no table for this)."]
    if table.reported_only:
        shown = ", ".join(dataset_label(d) for d in table.datasets() if d in table.reported_only)
        notes.append(f"No runs of ours on {shown}: reported rows only.")
    if spec.task in BASELINE_TASKS and any(r.kind == "baseline" for r in table.rows):
        notes.append(f"Rows '(ours, {BASELINE_TASKS[spec.task]})' are computed on exactly our data: most popular "
                     "by training counts, each CF model ranking by its own scores (ties count against the target).")
        notes += baseline_user_notes(table, runs_users)
    return notes


def baseline_user_notes(table: PaperTable, runs_users: str) -> list[str]:
    """Which users the baseline rows are on: the runs' users, and any row that is not."""
    others = [r.label for r in table.rows if r.kind == "baseline" and r.users != runs_users]
    notes = []
    if runs_users != ALL_USERS:
        notes.append("Baseline rows (ours) are on exactly the sampled users our runs were evaluated on "
                     f"({runs_users}; peapod.sampling.evaluation_sample), unless their label says otherwise.")
    if others:
        notes.append(f"{', '.join(others)}: not on the users our runs were evaluated on: their files have no "
                     "per-user ranks to restrict (e.g. a CF model's metrics.json written before the embedding stage "
                     "kept each user's rank; rerunning train_embeddings and compute_baselines mends it).")
    return notes


def baseline_notes(task: str, table: PaperTable, config: dict[str, Any]) -> list[str]:
    """What the trained baselines' rows are (protocol, seeds) and why reported baselines have none."""
    notes = []
    trained = [r for r in table.rows if r.kind == "baseline" and r.method in BASELINE_NAMES]
    if trained:
        names = ", ".join(r.method for r in trained)
        if task == "sequential":
            removed = (config.get("baselines") or {}).get("exclude_history", True)
            how = ("with each user's earlier items removed from the ranking (taken to be the reported rows' protocol)"
                   if removed else "with every item ranked, the user's earlier items included (RecBole's own protocol)")
            notes.append(f"{names} (ours, same split): trained by RecBole on each user's training items, early-stopped "
                         f"on the validation item, ranking the whole catalogue {how}; mean over seeds ± half-width "
                         "of the 95% interval, directly under the reported row of the same model.")
        else:
            notes.append(f"{names} (ours, same candidates): trained by RecBole on the training interactions, "
                         "early-stopped on the validation candidates, ranking our 100 candidates; mean over seeds ± "
                         "half-width of the 95% interval.")
    if any(r.kind == "baseline" and r.method == ID_ORDER for r in table.rows):
        notes.append("Id order (ours): no model; P5 numbers items by first appearance, so this row ranks "
                     + ("the items after the last item's id, nearest first." if task == "sequential"
                        else "the candidates by id distance to the last training item.")
                     + " A model that only learned id order scores like it.")
    missing = [m for m in NOT_TRAINED if any(r.kind == "reported" and r.label == m for r in table.rows)]
    notes += [f"{m}: not trained here: {NOT_TRAINED[m]}." for m in missing]
    return notes


def twin_notes(table: PaperTable, variants: Sequence[str]) -> list[str]:
    """What the twins' columns are, when the table has them (``variants``: those run on the twins)."""
    if not table.twins:
        return []
    shown = ", ".join(f"'{table.dataset_title(t)}'" for t in table.twins)
    variants = ", ".join(variants)
    return [f"Columns {shown}: the id-order control (id_order_twins): the same users and items, the items renumbered "
            "at random with a fixed seed, so that no id tells anything about the next item. P5 numbers items by first "
            "appearance, so a user's next item often has the next id (the Id order row, no model, scores by that "
            f"alone); the gap between one of our cells and its twin's is what P5's id order gives. Variants run on the "
            f"twins: {variants}. The twins' columns enter no t-test, * or † and no verdict."]


def sample_note(evaluation: dict[str, Any]) -> list[str]:
    """A note when our rows come from a user sample (evaluation.sample_users), not the whole test split."""
    n = evaluation.get("sample_users")
    if not n:
        return []
    return [f"Rows (ours) are evaluated on a fixed sample of {n} test users per dataset (or all, where fewer), "
            f"stratified by history length, seed {evaluation.get('sample_seed', 2022)}, the same users for every "
            "run; each run's evaluation.json records n of N."]
