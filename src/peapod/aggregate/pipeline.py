"""The aggregation steps as the workflow runs them (one function per rule), on files.

  collect_metrics     per-run metrics files -> metrics.parquet (tidy + settings), summary, missing runs
  test_significance   metrics + reported numbers -> tests vs reported, paired tests, reproduced vs reported
  tabulate_results    -> one paper table as Markdown, LaTeX, HTML and CSV
  summarize_ablation  one ablation's runs alone -> its summary, missing runs and paired tests
  plot_ablation       -> one ablation figure as PNG and PDF
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import pyarrow as pa

from peapod.aggregate import compare, figures, tables
from peapod.aggregate.collect import attach_settings, collect_runs, run_path
from peapod.aggregate.reported import load_reported
from peapod.aggregate.settings import SETTING_KEYS, make_plan, settings_table
from peapod.aggregate.stats import summarize
from peapod.formatting import markdown_table
from peapod.io import write_parquet, write_text
from peapod.provenance import stamp_table

log = logging.getLogger(__name__)
SUMMARY_BY = ["dataset", "variant", "task", "method", "split", "metric"]


def aggregate_settings(config: dict[str, Any]) -> dict[str, Any]:
    agg = dict(config.get("aggregate") or {})
    agg.setdefault("alpha", 0.05)
    agg.setdefault("star_uses_holm", False)
    agg.setdefault("labels", {})
    return agg


def expected_run_paths(
    config: dict[str, Any], root: str = "results", ablation: str | None = None
) -> dict[tuple[str, str, int], str]:
    """Every (dataset, variant, seed) the aggregation (or one ablation) reads, with its metrics file path."""
    plan = make_plan(config)
    if ablation is not None:
        plan = plan.for_ablation(ablation)
    return {key: run_path(*key, root=root) for key in plan.runs()}


def collect_metrics(config: dict[str, Any], paths: dict[tuple[str, str, int], str], outputs: dict[str, str]) -> None:
    """Write the tidy metrics (with each variant's settings), the seed summary and the missing runs."""
    plan = make_plan(config)
    tidy, summary, missing = _collect(config, plan, paths)
    record = {"config": config, "seeds": config.get("seeds")}
    write_parquet(stamp_table(pa.Table.from_pandas(tidy, preserve_index=False), record), outputs["metrics"])
    write_parquet(stamp_table(pa.Table.from_pandas(summary, preserve_index=False), record), outputs["summary"])
    write_text(summary.to_csv(index=False), outputs["summary_csv"])
    write_text(missing.to_csv(index=False), outputs["missing"])
    log.info("%d metric values from %d run(s); %d gap(s) reported in %s",
             len(tidy), len(plan.runs()) - int(missing["task"].isna().sum()), len(missing), outputs["missing"])


def _collect(config: dict[str, Any], plan, paths: dict[tuple[str, str, int], str]):
    """(tidy metrics with settings, seed summary with settings, missing runs) of the plan's runs."""
    settings = settings_table(config)
    tidy, missing = collect_runs(plan.runs(), paths)
    tidy = attach_settings(tidy, settings)
    summary = summarize(tidy, SUMMARY_BY, expected_seeds=plan.seeds)
    return tidy, summary.merge(settings, on=["dataset", "variant"], how="left"), missing


def summarize_ablation(
    config: dict[str, Any], ablation: str, paths: dict[tuple[str, str, int], str], outputs: dict[str, str]
) -> None:
    """One ablation on its own (its runs only, so its target needs nothing else): seed summary,
    missing runs and paired tests of each setting against the default variant."""
    plan = make_plan(config).for_ablation(ablation)
    agg = aggregate_settings(config)
    tidy, summary, missing = _collect(config, plan, paths)
    paired = compare.paired_tests(tidy, plan, agg["alpha"])
    write_parquet(pa.Table.from_pandas(summary, preserve_index=False), outputs["summary"])
    write_text(summary.to_csv(index=False), outputs["summary_csv"])
    write_text(missing.to_csv(index=False), outputs["missing"])
    write_text(paired.to_csv(index=False), outputs["paired"])
    log.info("ablation %s: %d run(s), %d gap(s), %d paired test(s)", ablation, len(plan.runs()), len(missing), len(paired))


def test_significance(config: dict[str, Any], metrics_path: str, reported_path: str, outputs: dict[str, str]) -> None:
    plan = make_plan(config)
    agg = aggregate_settings(config)
    tidy = pd.read_parquet(metrics_path)
    reported = load_reported(reported_path)
    reported = reported[reported["dataset"].isin(plan.datasets)]
    summary = summarize(tidy, SUMMARY_BY, expected_seeds=plan.seeds)
    vs_rep = compare.tests_vs_reported(tidy, reported, list(plan.table_variants), agg["alpha"])
    paired = compare.paired_tests(tidy, plan, agg["alpha"])
    repro = compare.reproduced_vs_reported(summary, reported, vs_rep)
    write_text(vs_rep.to_csv(index=False), outputs["vs_reported"])
    write_text(paired.to_csv(index=False), outputs["paired"])
    write_text(repro.to_csv(index=False), outputs["reproduced_csv"])
    show = repro[["dataset", "task", "metric", "variant", "reported", "mean", "diff", "ci_low", "ci_high", "reported_in_ci", "n", "p"]]
    text = "**Reproduced versus reported** (test split; 95% CI over seeds; p: one-sample t-test)\n\n"
    text += markdown_table(show) if len(show) else "No reported number matches a configured dataset and variant.\n"
    write_text(text, outputs["reproduced_md"])
    log.info("%d test(s) vs reported, %d paired test(s), %d reproduced-vs-reported row(s)", len(vs_rep), len(paired), len(repro))


def tabulate_results(
    config: dict[str, Any], name: str, summary_path: str, reported_path: str, vs_reported_path: str,
    paired_path: str, outputs: dict[str, str],
) -> None:
    plan = make_plan(config)
    agg = aggregate_settings(config)
    summary = pd.read_parquet(summary_path)
    reported = load_reported(reported_path)
    reported = reported[reported["dataset"].isin(plan.datasets)]
    vs_rep = pd.read_csv(vs_reported_path)
    paired = pd.read_csv(paired_path)
    settings = summary[["dataset", "variant", *SETTING_KEYS]].drop_duplicates()
    table = tables.make_paper_table(
        name, plan, summary, reported, vs_rep, paired, settings, agg["labels"], agg["alpha"], agg["star_uses_holm"]
    )
    tables.write_table(table, outputs)
    log.info("table %s: %d row(s) x %d column(s)", name, len(table.rows), len(table.columns))


def plot_ablation(config: dict[str, Any], ablation: str, summary_path: str, outputs: list[str]) -> None:
    plan = make_plan(config)
    summary = pd.read_parquet(summary_path)
    settings = settings_table(config)
    spec = plan.ablations[ablation]
    data = figures.plot_ablation(summary, settings, ablation, spec["variants"], spec["datasets"], plan.default_variant, outputs)
    log.info("figure %s: %d point(s)", ablation, len(data))
