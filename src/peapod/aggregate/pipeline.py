"""The aggregation steps as the workflow runs them (one function per rule), on files.

  collect_metrics     per-run metrics files -> metrics.parquet (tidy + settings), summary, missing runs
  compute_baselines   one dataset's tables (+ CF metrics, trained baseline runs) -> the baseline rows on our data
  test_significance   metrics + reported numbers -> tests vs reported, paired tests, reproduction verdicts
  test_users          every run's per-user results -> paired tests over users (and the prompt-blind control)
  tabulate_results    -> one paper table as Markdown, LaTeX, HTML and CSV
  plot_reproduction   verdicts -> the reproduced-versus-reported figure (PNG and PDF)
  check_claims        metrics -> the papers' claims, each with its verdict and paired tests
  summarize_ablation  one ablation's runs alone -> its summary, missing runs and paired tests
  plot_ablation       -> one ablation figure as PNG and PDF
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from peapod.aggregate import baselines, claims, compare, figures, render, tables, user_tests
from peapod.aggregate.collect import attach_settings, collect_runs
from peapod.aggregate.reported import PAPERS, attach_variants, load_reported
from peapod.aggregate.settings import make_plan, settings_table
from peapod.aggregate.stats import summarize
from peapod.formatting import markdown_table
from peapod.generator.runs import run_keys
from peapod.io import write_parquet, write_text
from peapod.paths import RESULTS, RUN_METRICS, located
from peapod.provenance import stamp_table

log = logging.getLogger(__name__)
SUMMARY_BY = ["dataset", "variant", "task", "method", "split", "metric"]


def aggregate_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The config's aggregate: section (its defaults filled by the schema: peapod.config.with_defaults)."""
    return dict(config["aggregate"])


def expected_run_paths(
    config: dict[str, Any], root: str = RESULTS, ablation: str | None = None, pattern: str = RUN_METRICS
) -> dict[tuple[str, str, int], str]:
    """Every (dataset, variant, seed) the aggregation (or one ablation) reads, with its file's path
    (``pattern``: the metrics file, or another file of the run's folder, paths.run_file)."""
    plan = make_plan(config)
    if ablation is not None:
        plan = plan.for_ablation(ablation)
    keys = run_keys(config)  # each run's folder: its settings' key (peapod.generator.runs)
    return {(d, v, s): located(pattern, root, dataset=d, variant=v, seed=s, run_key=keys[d, v])
            for d, v, s in plan.runs()}


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
    config: dict[str, Any], ablation: str, paths: dict[tuple[str, str, int], str], outputs: dict[str, str],
    user_paths: dict[tuple[str, str, int], str] | None = None,
) -> None:
    """One ablation on its own (its runs only, so its target needs nothing else): seed summary,
    missing runs and paired tests of each setting against the default variant, over seeds and (with
    ``user_paths``, each run's per_user.parquet, and outputs["users"]) over users."""
    plan = make_plan(config).for_ablation(ablation)
    agg = aggregate_settings(config)
    tidy, summary, missing = _collect(config, plan, paths)
    paired = compare.paired_tests(tidy, plan, agg["alpha"])
    write_parquet(pa.Table.from_pandas(summary, preserve_index=False), outputs["summary"])
    write_text(summary.to_csv(index=False), outputs["summary_csv"])
    write_text(missing.to_csv(index=False), outputs["missing"])
    write_text(paired.to_csv(index=False), outputs["paired"])
    if user_paths is not None and "users" in outputs:
        _write_user_tests(plan, agg["alpha"], user_paths, outputs["users"])
    log.info("ablation %s: %d run(s), %d gap(s), %d paired test(s)", ablation, len(plan.runs()), len(missing), len(paired))


def reported_cells(config: dict[str, Any], path: str) -> pd.DataFrame:
    """Every reported cell, with the variant of this config that reproduces it (if any)."""
    return attach_variants(load_reported(path), config, make_plan(config))


def test_significance(config: dict[str, Any], metrics_path: str, reported_path: str, outputs: dict[str, str],
                      baseline_paths: list[str] | None = None) -> None:
    """Tests against the reported numbers, paired tests, and the reproduction verdicts (CSV, Markdown,
    HTML): the generator's cells, then the reported baseline cells our trained baselines reproduce."""
    plan = make_plan(config)
    agg = aggregate_settings(config)
    tidy = pd.read_parquet(metrics_path)
    reported = reported_cells(config, reported_path)
    summary = summarize(tidy, SUMMARY_BY, expected_seeds=plan.seeds)
    vs_rep = compare.tests_vs_reported(tidy, reported, plan, agg["alpha"])
    paired = compare.paired_tests(tidy, plan, agg["alpha"])
    verdicts = compare.reproduction_verdicts(tidy, summary, reported, agg["reference_paper"])
    trained = compare.baseline_verdicts(baselines.read_baselines(baseline_paths or []), reported, agg["reference_paper"])
    verdicts = pd.concat([f for f in (verdicts, trained) if len(f)], ignore_index=True) if len(trained) else verdicts
    write_text(vs_rep.to_csv(index=False), outputs["vs_reported"])
    write_text(paired.to_csv(index=False), outputs["paired"])
    write_text(verdicts.to_csv(index=False), outputs["reproduced_csv"])
    title, text, shown = verdict_report(verdicts, plan, reported, agg["reference_paper"])
    write_text(f"**{title}**\n\n{text}\n\n" + (markdown_table(shown) if len(shown) else ""), outputs["reproduced_md"])
    write_text(html_page(title, text, shown), outputs["reproduced_html"])
    log.info("%d test(s) vs reported, %d paired test(s), %d verdict(s)", len(vs_rep), len(paired), len(verdicts))


def test_users(config: dict[str, Any], paths: dict[tuple[str, str, int], str], output: str) -> None:
    """Paired tests over users (peapod.aggregate.user_tests) of the runs whose per-user results exist
    (the missing ones are listed by collect_metrics)."""
    _write_user_tests(make_plan(config), aggregate_settings(config)["alpha"], paths, output)


def _write_user_tests(plan, alpha: float, paths: dict[tuple[str, str, int], str], output: str) -> None:
    present = {key: path for key, path in paths.items() if Path(path).exists()}
    tests = user_tests.user_paired_tests(user_tests.read_user_results(present), plan, alpha)
    write_text(tests.to_csv(index=False), output)
    log.info("%d paired test(s) over users from %d of %d run(s)", len(tests), len(present), len(paths))


def verdict_report(verdicts: pd.DataFrame, plan, reported: pd.DataFrame, reference: str) -> tuple[str, str, pd.DataFrame]:
    """(title, explanation, table shown) of the reproduction verdicts; with none, it says why."""
    title = "Reproduction verdicts: reproduced versus reported"
    if verdicts.empty:
        papers_datasets = ", ".join(sorted(set(reported["dataset"])))
        text = (f"No reported cell is reproduced by this configuration: its datasets ({', '.join(plan.datasets)}) "
                f"have no reported numbers (the papers report {papers_datasets}), or no variant that reproduces a "
                "reported model has runs. There is nothing to compare; the tables still show the reported rows.")
        return title, text, verdicts
    counts = verdicts["verdict"].value_counts()
    ref = verdicts[verdicts["paper"] == reference]
    text = (f"{len(verdicts)} reported cell(s) reproduced ({len(ref)} of the reference, {PAPERS.get(reference, reference)}). "
            "Our mean over seeds with its 95% interval; diff = ours minus reported; p: one-sample t-test of our seeds "
            "against the reported value; the verdict says where the reported value lies: "
            + "; ".join(f"{k}: {v}" for k, v in counts.items()) + ".")
    shown = verdicts.assign(
        reported=[f"{v:.4f}" for v in verdicts["reported"]],
        mean=[f"{v:.4f}" for v in verdicts["mean"]],
        ci=[f"[{lo:.4f}, {hi:.4f}]" for lo, hi in zip(verdicts["ci_low"], verdicts["ci_high"])],
        diff=[f"{v:+.4f}" for v in verdicts["diff"]],
        rel_diff=[f"{100 * r:+.1f}%" for r in verdicts["rel_diff"]],
        p=[f"{v:.2g}" for v in verdicts["p"]],
    )[["paper", "table", "dataset", "task", "metric", "model", "variant", "reported", "mean", "ci", "diff", "rel_diff", "p", "n", "verdict"]]
    return title, text, shown


def html_page(title: str, text: str, *frames: pd.DataFrame) -> str:
    """A standalone HTML page (for the Snakemake report): title, a paragraph, and each table that has rows."""
    body = "".join(df.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="–", border=0) + "<br>"
                   for df in frames if len(df))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:1em}}"
        "table{border-collapse:collapse}th,td{padding:2px 6px;border-bottom:1px solid #ddd;text-align:right}"
        "p{max-width:60em}</style></head><body>"
        f"<h3>{html.escape(title)}</h3><p>{html.escape(text)}</p>{body}</body></html>\n"
    )


def compute_baselines(dataset: str, sequences: str, candidates: str, cf_metrics: dict[str, str], output: str,
                      runs: dict[tuple[str, int], str] | None = None, evaluation: dict[str, Any] | None = None) -> None:
    """Most-popular, the id-order probes, the CF models' own rows and the trained baselines' seeds
    ({(model, seed): per_user.parquet}) on exactly this dataset's split and candidates, and on the
    users the runs were evaluated on (``evaluation``: the config's evaluation section)."""
    table = baselines.compute_baselines(dataset, sequences, candidates, cf_metrics, runs, evaluation)
    write_text(table.to_csv(index=False), output)
    test = table[(table["split"] == "test") & (table["metric"] == "hr@10")]
    log.info("%s: HR@10 on the test split (users: %s): %s", dataset, ", ".join(sorted(set(table["users"]))),
             ", ".join(f"{m} {t}{'' if pd.isna(sd) else f' seed {sd}'} {v:.4f}"
                       for m, t, sd, v in zip(test["model"], test["task"], test["seed"], test["value"])))


def tabulate_results(
    config: dict[str, Any], name: str, summary_path: str, reported_path: str, vs_reported_path: str,
    paired_path: str, baseline_paths: list[str], outputs: dict[str, str],
) -> None:
    plan = make_plan(config)
    agg = aggregate_settings(config)
    inputs = tables.TableInputs(
        config=config, plan=plan, summary=pd.read_parquet(summary_path), reported=reported_cells(config, reported_path),
        vs_reported=pd.read_csv(vs_reported_path), paired=pd.read_csv(paired_path),
        baselines=baselines.read_baselines(baseline_paths), reference=agg["reference_paper"], labels=agg["labels"],
        alpha=agg["alpha"], star_uses_holm=agg["star_uses_holm"],
    )
    table = tables.make_paper_table(name, inputs)
    render.write_table(table, outputs)
    log.info("table %s: %d row(s) x %d column(s)", name, len(table.rows), len(table.columns))


def plot_reproduction(config: dict[str, Any], verdicts_path: str, outputs: list[str]) -> None:
    verdicts = pd.read_csv(verdicts_path)
    figures.plot_reproduction(verdicts, outputs, aggregate_settings(config)["reference_paper"])
    log.info("reproduction figure: %d cell(s)", len(verdicts))


def check_claims(config: dict[str, Any], metrics_path: str, outputs: dict[str, str]) -> None:
    """The papers' claims (peapod.aggregate.claims) against our runs: summary and detail CSV, Markdown, HTML."""
    plan = make_plan(config)
    agg = aggregate_settings(config)
    summary, detail = claims.check_claims(pd.read_parquet(metrics_path), plan, settings_table(config), agg["alpha"])
    write_text(summary.to_csv(index=False), outputs["csv"])
    write_text(detail.to_csv(index=False), outputs["detail"])
    title = "The papers' claims checked against our runs"
    text = (f"Each claim is a set of paired t-tests over shared seeds at the headline metrics (alpha {agg['alpha']:g}); "
            "'agrees' when every comparison shows what the claim says, 'partly' when some do, 'not run' when the "
            "configuration has no runs for it. Every test: claims_detail.csv and below.")
    tests = detail[["claim", "dataset", "task", "metric", "subject", "reference", "n", "mean_subject",
                    "mean_reference", "p", "expected", "observed", "agrees"]]
    tests = tests.assign(p=[f"{p:.2g}" for p in tests["p"]],
                         agrees=["–" if pd.isna(a) else "yes" if a else "no" for a in tests["agrees"]])
    md = f"**{title}**\n\n{text}\n\n{markdown_table(summary)}"
    md += f"\nThe paired tests behind them:\n\n{markdown_table(tests)}" if len(tests) else ""
    write_text(md, outputs["markdown"])
    write_text(html_page(title, text, summary, tests), outputs["html"])
    log.info("claims: %s", ", ".join(f"{c} {v}" for c, v in zip(summary["claim"], summary["verdict"])))


def plot_ablation(config: dict[str, Any], ablation: str, summary_path: str, outputs: list[str]) -> None:
    plan = make_plan(config)
    summary = pd.read_parquet(summary_path)
    settings = settings_table(config)
    spec = plan.ablations[ablation]
    data = figures.plot_ablation(summary, settings, ablation, spec["variants"], spec["datasets"], plan.default_variant, outputs)
    log.info("figure %s: %d point(s)", ablation, len(data))
