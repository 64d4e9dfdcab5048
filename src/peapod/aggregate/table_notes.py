"""The notes under a paper table: where its reported rows come from, what each baseline row is and
on which users, the id-order twins, the user sample, and what the beams returned."""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from peapod.aggregate.baselines import ALL_USERS
from peapod.aggregate.reported import PAPERS
from peapod.aggregate.table_layout import BASELINE_TASKS, PaperTable, Row, TableSpec, dataset_label
from peapod.baselines.id_order import MODEL as ID_ORDER
from peapod.baselines.registry import NAMES as BASELINE_NAMES, NOT_TRAINED


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


def source_notes(spec: TableSpec, reference: str, number: int | None, table: PaperTable, runs_users: str = ALL_USERS
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
