"""The aggregation rules end to end on per-run metrics files the test writes: tables, figures, report."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from peapod.generator.runs import run_key
from tests.aggregate_fixtures import make_config, write_runs
from tests.workflow_helpers import dry_run_outputs, run, runs_of, workflow_copy

TASKS = ["sequential", "topn", "explanation"]
TABLES = TASKS + [f"{group}_{task}" for group in ("task_prompt", "embedding", "model_size") for task in TASKS]
FIGURES = ["task_prompt", "neighbors", "heads", "prompt_length", "embedding"]


def aggregation_config(work: Path) -> tuple[Path, dict]:
    cfg = make_config(datasets=("demo", "demo_b"), seeds=(0, 1, 2))
    for name in cfg["datasets"]:
        cfg["datasets"][name] = {"source": "demo", "demo": {"n_users": 80, "n_items": 160, "n_groups": 4, "min_length": 5, "max_length": 10, "seed": 1}}
    # Aggregate what exists: the runs are written by hand, and the baselines on our own data would
    # otherwise build the data stage and the CF models (and so make the runs look out of date).
    cfg["aggregate"]["require_all_runs"] = False
    cfg["baselines"]["models"] = ["SASRec", "GRU4Rec", "BERT4Rec", "MF", "MLP"]  # the default is none
    path = work / "config" / "aggregate_test.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path, cfg


STUDY = "aggregate_test"  # the study of config/aggregate_test.yaml: its outputs go to results/studies/aggregate_test/
STUDY_DIR = f"results/studies/{STUDY}"


def targets(cfg) -> list[str]:
    return (
        [f"{STUDY_DIR}/tables/{t}.{e}" for t in TABLES for e in ("md", "tex", "csv", "html")]
        + [f"{STUDY_DIR}/figures/ablation_{a}.{e}" for a in FIGURES for e in ("png", "pdf")]
        + [f"{STUDY_DIR}/aggregate/{name}" for name in ("missing_runs.csv", "reproduced_vs_reported.csv",
                                                        "reproduced_vs_reported.html", "claims.csv", "claims.html")]
        + [f"{STUDY_DIR}/figures/reproduced_vs_reported.png"]
    )


def test_dry_run_plans_the_aggregation_when_variants_are_configured(tmp_path):
    """The default target's plan, job by job: every configured run once, each dataset's data, CF
    models and baselines, one collection and test of all runs, every table and ablation figure."""
    work = workflow_copy(tmp_path)
    cfg_path, cfg = aggregation_config(work)
    write_runs(work / "results", cfg)
    jobs = dry_run_outputs(work, ["--configfile", str(cfg_path)], cores=1)
    datasets, ablations = sorted(cfg["datasets"]), sorted(cfg["ablations"])
    runs = {(d, v) for d in datasets for v in cfg["variants"]}
    for rule in ("train_generator", "evaluate_generator"):  # 2 datasets x 12 variants x 3 seeds, once each
        assert len(jobs[rule]) == len(set(jobs[rule])) == len(runs) * len(cfg["seeds"]) == 72, rule
        assert runs_of(jobs[rule]) == runs, rule
    first_run = f"results/demo/runs/base/{run_key(cfg, 'demo', 'base')}/seed0/metrics.parquet"
    assert sorted(jobs["evaluate_generator"])[0] == first_run
    assert sorted(jobs["preprocess"]) == [f"results/{d}/data/users.parquet" for d in datasets]
    assert sorted(jobs["train_embeddings"]) == sorted(
        f"results/{d}/embeddings/{m}/user_embeddings.parquet" for d in datasets for m in ("pmf", "bivae", "lightgcn"))
    assert sorted(jobs["compute_baselines"]) == [f"results/{d}/baselines/metrics.csv" for d in datasets]
    assert jobs["collect_metrics"] == [f"{STUDY_DIR}/aggregate/metrics.parquet"]
    assert jobs["test_significance"] == [f"{STUDY_DIR}/aggregate/tests_vs_reported.csv"]
    assert jobs["test_users"] == [f"{STUDY_DIR}/aggregate/tests_users.csv"]
    assert jobs["plot_reproduction"] == [f"{STUDY_DIR}/figures/reproduced_vs_reported.png"]
    assert jobs["check_claims"] == [f"{STUDY_DIR}/aggregate/claims.csv"]
    assert sorted(jobs["tabulate_results"]) == sorted(f"{STUDY_DIR}/tables/{t}.md" for t in TABLES)
    assert sorted(jobs["summarize_ablation"]) == [f"{STUDY_DIR}/ablations/{a}/summary.parquet" for a in ablations]
    assert sorted(jobs["plot_ablation"]) == [f"{STUDY_DIR}/figures/ablation_{a}.png" for a in ablations]
    assert sorted(jobs["plot_learning_curves"]) == [f"{STUDY_DIR}/figures/learning_curves_{d}.png" for d in datasets]
    assert set(jobs) == {"all", "make_demo_dataset", "preprocess", "tabulate_dataset_statistics", "train_embeddings",
                         "build_neighbors", "train_generator", "evaluate_generator", "compute_baselines",
                         "collect_metrics", "test_significance", "test_users", "tabulate_results", "summarize_ablation",
                         "plot_ablation", "plot_reproduction", "check_claims", "plot_learning_curves", "train_baseline"}
    assert len(jobs["build_neighbors"]) == len(jobs["train_embeddings"]) == 6
    # the RecBole baselines (five models, the schema's seeds 0-2), once per dataset and seed
    assert sorted(jobs["train_baseline"]) == sorted(
        f"results/{d}/baselines/{m}/seed{s}/metrics.parquet" for d in datasets
        for m in ("SASRec", "GRU4Rec", "BERT4Rec", "MF", "MLP") for s in (0, 1, 2))


def test_missing_run_without_require_all_runs_is_reported(tmp_path):
    work = workflow_copy(tmp_path)
    cfg_path, cfg = aggregation_config(work)
    write_runs(work / "results", cfg, skip={("demo", "pod", 1)})
    run([f"{STUDY_DIR}/aggregate/missing_runs.csv", f"{STUDY_DIR}/aggregate/tests_paired.csv", "--cores", "1",
         "--configfile", str(cfg_path)], work)
    missing = pd.read_csv(work / STUDY_DIR / "aggregate" / "missing_runs.csv")
    assert missing[["dataset", "variant", "seed"]].values.tolist() == [["demo", "pod", 1]]
    log = (work / STUDY_DIR / "logs" / "collect_metrics.log").read_text()
    assert "missing: demo pod seed 1 run: metrics file absent" in log
    paired = pd.read_csv(work / STUDY_DIR / "aggregate" / "tests_paired.csv", dtype={"unpaired_seeds": str})
    row = paired[(paired.dataset == "demo") & (paired.variant_b == "pod")].iloc[0]
    assert row.n == 2 and row.unpaired_seeds == "1"


def test_user_tests_read_each_runs_per_user_results(tmp_path):
    """tests_users.csv from the runs' per_user.parquet files: PeaPOD's planted prompt signal is found
    over users, POD's scoring equals its blind control, and a run without per-user results is skipped."""
    import numpy as np

    from peapod.generator.runs import run_path
    from peapod.paths import run_file

    work = workflow_copy(tmp_path)
    cfg_path, cfg = aggregation_config(work)
    write_runs(work / "results", cfg, skip={("demo", "pod", 2)})
    rng = np.random.default_rng(0)
    for variant, seed in [("peapod", 0), ("peapod", 1), ("peapod", 2), ("pod", 0), ("pod", 1)]:
        blind = rng.uniform(0, 0.5, 40)
        own = blind + (rng.uniform(0, 0.2, 40) if variant == "peapod" else 0.0)  # the prompt helps PeaPOD only
        frame = pd.concat([pd.DataFrame({"task": "topn", "method": method, "split": "test", "user_id": range(40),
                                         "rank": 1, "history_length": 4, "ndcg@10": values})
                           for method, values in (("scoring", own), ("scoring_blind", blind))])
        frame.to_parquet(run_path(run_file("per_user.parquet"), cfg, "demo", variant, seed, root=work / "results"))
    run([f"{STUDY_DIR}/aggregate/tests_users.csv", "--cores", "1", "--configfile", str(cfg_path)], work)
    tests = pd.read_csv(work / STUDY_DIR / "aggregate" / "tests_users.csv", dtype={"seeds": str})
    blind = tests[tests.family == "prompt-blind control"].set_index("variant_a")
    assert blind.loc["peapod", "users"] == 40 and blind.loc["peapod", "seeds"] == "0 1 2"
    assert blind.loc["peapod", "mean_diff"] > 0.05 and blind.loc["peapod", "p_a_above_b"] < 1e-6
    assert blind.loc["pod", "mean_diff"] == 0 and np.isnan(blind.loc["pod", "p"])
    vs = tests[(tests.variant_a == "peapod") & (tests.variant_b == "pod") & (tests.method_a == "scoring")].iloc[0]
    assert vs.seeds == "0 1" and vs.users == 40 and vs.mean_diff > 0.05  # POD's seed 2 has no results


@pytest.mark.slow
def test_tables_figures_and_report(tmp_path):
    work = workflow_copy(tmp_path)
    cfg_path, cfg = aggregation_config(work)
    write_runs(work / "results", cfg)
    # The aggregation targets only: the default target would also train the runs whose metrics the
    # test wrote by hand.
    run([*targets(cfg), "--cores", "2", "--configfile", str(cfg_path)], work)
    for t in targets(cfg):
        assert (work / t).stat().st_size > 0, t
    md = (work / STUDY_DIR / "tables" / "sequential.md").read_text()
    assert "PeaPOD (ours)" in md and "POD (ours)" in md and "**" in md
    run([*targets(cfg), "--configfile", str(cfg_path), "--report", "report.zip"], work)
    with zipfile.ZipFile(work / "report.zip") as z:
        names = z.namelist()
    for name in ("ablation_heads.png", "sequential.html", "missing_runs.csv", "model_size_topn.html",
                 "reproduced_vs_reported.html", "reproduced_vs_reported.png", "claims.html"):
        assert any(n.endswith(name) for n in names), name
    # The demo datasets have no reported numbers: the verdict section says so rather than vanishing.
    verdicts = (work / STUDY_DIR / "aggregate" / "reproduced_vs_reported.md").read_text()
    assert "No reported cell is reproduced by this configuration" in verdicts
