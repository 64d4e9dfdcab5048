"""The tables of the issue-38 study on docs/results/beauty-cpu.md, read from what the workflow wrote
(config/beauty_cpu.yaml's study and its renumbered twin; run both first, as the page says):

- the headline: each variant's test metrics over its seeds (mean [95% interval]), the twin, and
  most popular and PMF on the same 1,000 users (results/<dataset>/baselines/metrics.csv);
- the ladder of issue 38, step by step, with what was measured;
- the paired tests over users (tests_users.csv) and over seeds (tests_paired.csv);
- each run's training record, and wall time and peak memory per job (Snakemake's benchmark files).

    python docs/results/beauty_cpu_study.py [--config config/beauty_cpu.yaml] [--results results]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import yaml

from peapod.aggregate.pipeline import expected_run_paths
from peapod.config import with_defaults, with_twins
from peapod.paths import default_study

METRICS = [  # (column, task, method, metric)
    ("seq HR@10 (beam)", "sequential", "beam", "hr@10"),
    ("seq NDCG@10 (beam)", "sequential", "beam", "ndcg@10"),
    ("top-n HR@10 (beam)", "topn", "beam", "hr@10"),
    ("top-n NDCG@10 (beam)", "topn", "beam", "ndcg@10"),
    ("top-n HR@10 (scoring)", "topn", "scoring", "hr@10"),
    ("top-n HR@10 (scoring, blind)", "topn", "scoring_blind", "hr@10"),
]
LABELS = {"peapod": "PeaPOD", "pod": "POD", "mlp": "MLP"}


def load(config_path: Path, results: Path):
    config = with_defaults(yaml.safe_load(config_path.read_text()))
    study = results / "studies" / (config.get("study") or default_study([str(config_path)], "config/config.yaml"))
    twins = with_twins({**config, "id_order_twins": True})
    return config, twins, study


def baseline(results: Path, dataset: str, model: str, task: str, metric: str = "hr@10") -> float:
    df = pd.read_csv(results / dataset / "baselines" / "metrics.csv")
    row = df[(df.model == model) & (df.task == task) & (df.split == "test") & (df.metric == metric)]
    return float(row["value"].iloc[0]) if len(row) else float("nan")


def test_summary(study: Path) -> pd.DataFrame:
    summary = pd.read_csv(study / "aggregate" / "summary.csv")
    return summary[summary["split"] == "test"]


def summary_row(summary: pd.DataFrame, variant: str, task: str, method: str, metric: str = "hr@10"):
    """The seed summary of one cell (mean, ci_low, ci_high, ...), or None."""
    s = summary[(summary.variant == variant) & (summary.task == task) & (summary.method == method)
                & (summary.metric == metric)]
    return s.iloc[0] if len(s) else None


def run_values(path: str) -> dict[tuple[str, str, str], float]:
    df = pd.read_parquet(path)
    df = df[df["split"] == "test"]
    return {(r.task, r.method, r.metric): float(r.value) for r in df.itertuples()}


def headline(config, twins, study: Path, results: Path) -> pd.DataFrame:
    summary = test_summary(study)
    rows = []
    for variant in config["variants"]:
        row = {"": f"{LABELS.get(variant, variant)} (seeds {' '.join(map(str, config['seeds']))})"}
        for column, task, method, metric in METRICS:
            s = summary_row(summary, variant, task, method, metric)
            row[column] = f"{s['mean']:.4f} [{s['ci_low']:.3f}, {s['ci_high']:.3f}]" if s is not None else ""
        rows.append(row)
    twin = twin_run(twins, results)
    if twin:
        values = run_values(twin)
        rows.append({"": "POD, items renumbered at random (seed 1)",
                     **{c: f"{values.get((t, m, k), float('nan')):.4f}" for c, t, m, k in METRICS}})
    for dataset, label in (("beauty", "most popular, same users"), ("beauty_random", "most popular, twin's users")):
        if (results / dataset / "baselines" / "metrics.csv").exists():
            rows.append({"": label, "seq HR@10 (beam)": f"{baseline(results, dataset, 'most_popular', 'sequential'):.4f}",
                         "top-n HR@10 (beam)": f"{baseline(results, dataset, 'most_popular', 'topn'):.4f}"})
    rows.append({"": "PMF, same users and candidates", "top-n HR@10 (beam)": f"{baseline(results, 'beauty', 'pmf', 'topn'):.4f}"})
    return pd.DataFrame(rows).fillna("")


def twin_run(twins, results: Path) -> str | None:
    paths = expected_run_paths(twins, root=results)
    path = paths.get(("beauty_random", "pod", 1))
    return path if path and Path(path).exists() else None


def ladder(config, twins, study: Path, results: Path) -> pd.DataFrame:
    summary = test_summary(study)
    users = pd.read_csv(study / "aggregate" / "tests_users.csv")

    def mean(variant, task, method):
        s = summary_row(summary, variant, task, method)
        return float(s["mean"]) if s is not None else float("nan")

    def blind(metric):
        r = users[(users.family == "prompt-blind control") & (users.variant_a == "peapod") & (users.metric == metric)]
        return r.iloc[0] if len(r) else None

    mp_topn = baseline(results, "beauty", "most_popular", "topn")
    mp_seq = baseline(results, "beauty", "most_popular", "sequential")
    ndcg, hr = blind("ndcg@10"), blind("hr@10")
    rows = []
    if ndcg is not None:
        rows.append(("1. the user prompt carries signal",
                     "PeaPOD's exact scoring above its prompt-blind control: NDCG@10 per user, averaged over seeds, "
                     "one-sided paired p < 0.01",
                     f"NDCG@10 {ndcg.mean_diff:+.4f} (p = {ndcg.p_a_above_b:.1g}); HR@10 {hr.mean_a:.4f} against "
                     f"{hr.mean_b:.4f} ({hr.mean_diff:+.4f}); {int(ndcg.users)} users, seeds {ndcg.seeds}",
                     ndcg.p_a_above_b < 0.01 and ndcg.mean_diff > 0))
    beam = mean("peapod", "topn", "beam")
    rows.append(("", f"PeaPOD's free-beam top-n HR@10 ≥ most popular + 0.03 ({mp_topn:.3f} + 0.03)",
                 f"{beam:.4f} ({beam - mp_topn:+.4f})", beam >= mp_topn + 0.03))
    for variant in config["variants"]:
        seq = mean(variant, "sequential", "beam")
        rows.append(("2. sequential is learned" if variant == "peapod" else "",
                     f"{LABELS.get(variant, variant)}'s beam HR@10 ≥ 2 x most popular ({mp_seq:.3f})",
                     f"{seq:.4f} ({seq / mp_seq:.1f}x)", seq >= 2 * mp_seq))
    twin = twin_run(twins, results)
    if twin:
        seq = run_values(twin).get(("sequential", "beam", "hr@10"), float("nan"))
        own = baseline(results, "beauty_random", "most_popular", "sequential")
        rows.append(("", f"the renumbered twin (POD, seed 1) ≥ 2 x its own most popular ({own:.3f})",
                     f"{seq:.4f} ({seq / own:.1f}x)", seq >= 2 * own))
    pmf = baseline(results, "beauty", "pmf", "topn")
    rows.append(("4. moonshot", f"top-n at PMF's HR@10 on the same users and candidates ({pmf:.3f})",
                 f"PeaPOD beam {beam:.4f}", beam >= pmf))
    seqs = {v: mean(v, "sequential", "beam") for v in config["variants"]}
    rows.append(("", "sequential at half of SASRec on our split (≥ 0.043)",
                 "; ".join(f"{LABELS.get(v, v)} {x:.4f}" for v, x in seqs.items()),
                 "yes" if min(seqs.values()) >= 0.043 else
                 ", ".join(LABELS.get(v, v) for v, x in seqs.items() if x >= 0.043) + " only"))
    return pd.DataFrame(rows, columns=["step", "goal", "measured (test split)", "reached"]).replace(
        {"reached": {True: "yes", False: "no"}})


def user_tests(study: Path) -> pd.DataFrame:
    df = pd.read_csv(study / "aggregate" / "tests_users.csv")
    df = df[df["metric"].isin(["hr@10", "ndcg@10"])]
    cols = ["family", "task", "metric", "variant_a", "method_a", "variant_b", "method_b", "users", "seeds",
            "mean_a", "mean_b", "mean_diff", "p", "p_a_above_b", "p_holm"]
    return df[cols]


def seed_tests(study: Path) -> pd.DataFrame:
    df = pd.read_csv(study / "aggregate" / "tests_paired.csv")
    df = df[df["metric"].isin(["hr@10", "ndcg@10"])]
    return df[["task", "method", "metric", "variant_a", "variant_b", "n", "mean_a", "mean_b", "mean_diff", "p", "p_holm"]]


def training(config, twins, results: Path) -> pd.DataFrame:
    rows = []
    for (dataset, variant, seed), metrics in expected_run_paths(twins, root=results).items():
        run_json = Path(metrics).parent / "run.json"
        if not run_json.exists() or (dataset != "beauty" and seed != 1):
            continue
        run = json.loads(run_json.read_text())
        log = pd.read_csv(run_json.parent / "train_log.csv")
        last = log.iloc[-1]
        rows.append({"dataset": dataset, "variant": variant, "seed": seed, "epochs": run["epochs_run"],
                     "train s": round(run["train_seconds"]),
                     "s per epoch": " / ".join(f"{v:.0f}" for v in log["epoch_seconds"]),
                     "train loss seq / top-n (last epoch)": f"{last['train_loss_sequential']:.3f} / {last['train_loss_topn']:.3f}",
                     "valid loss seq / top-n (last epoch)": f"{last['valid_loss_sequential']:.3f} / {last['valid_loss_topn']:.3f}"})
    return pd.DataFrame(rows)


def stage_times(config, twins, results: Path) -> pd.DataFrame:
    rows = []
    keys = {Path(p).parts[-3] for p in expected_run_paths(twins, root=results).values()}  # the run keys
    for tsv in sorted(results.glob("beauty*/benchmarks/**/*.tsv")):
        parts = tsv.relative_to(results).parts
        if parts[2] in ("train_generator", "evaluate_generator") and parts[4] not in keys:
            continue  # another config's runs
        bench = pd.read_csv(tsv, sep="\t").iloc[0]
        rows.append({"job": "/".join(p for p in parts if p != "benchmarks").removesuffix(".tsv"),
                     "wall s": round(float(bench["s"]), 1), "peak MiB (max_rss)": round(float(bench["max_rss"]))})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path("config/beauty_cpu.yaml"))
    parser.add_argument("--results", type=Path, default=Path("results"))
    args = parser.parse_args()
    config, twins, study = load(args.config, args.results)
    for title, table in (("The test users: mean over seeds [95% interval]", headline(config, twins, study, args.results)),
                         ("The ladder", ladder(config, twins, study, args.results)),
                         ("Paired over users (tests_users.csv)", user_tests(study)),
                         ("Paired over seeds (tests_paired.csv)", seed_tests(study)),
                         ("Training", training(config, twins, args.results)),
                         ("Wall time and peak memory per job", stage_times(config, twins, args.results))):
        print(f"### {title}\n")
        print(table.to_markdown(index=False, floatfmt=".4g") if len(table) else "(nothing yet)")
        print()


if __name__ == "__main__":
    main()
