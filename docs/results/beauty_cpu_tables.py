"""Extra tables for docs/results/beauty-cpu.md, read from the study's results/ (run after it):
wall time and peak memory per stage (Snakemake's benchmark files), per-history-bucket means over
seeds (each run's history_buckets.csv), per-seed metrics, and each run's training record.

    python docs/results/beauty_cpu_tables.py [results]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd


def stage_times(root: Path) -> pd.DataFrame:
    rows = []
    for tsv in sorted(root.glob("*/benchmarks/**/*.tsv")):
        bench = pd.read_csv(tsv, sep="\t").iloc[0]
        rows.append({"job": str(tsv.relative_to(root)).replace("/benchmarks", "").removesuffix(".tsv"),
                     "wall s": round(float(bench["s"]), 1), "peak MiB (max_rss)": round(float(bench["max_rss"]), 0)})
    return pd.DataFrame(rows)


def buckets(root: Path) -> pd.DataFrame:
    frames = []
    for csv in sorted(root.glob("*/runs/*/seed*/history_buckets.csv")):
        df = pd.read_csv(csv)
        df["variant"], df["seed"] = csv.parts[-3], csv.parts[-2]
        frames.append(df)
    df = pd.concat(frames)
    keep = ["hr@10", "ndcg@10"]
    out = (df.groupby(["task", "method", "history_bucket", "variant"], sort=False)
           .agg(users=("users", "first"), **{f"{m}": (m, "mean") for m in keep}).reset_index())
    wide = out.pivot_table(index=["task", "method", "history_bucket", "users"], columns="variant", values=keep)
    wide.columns = [f"{v} {m}" for m, v in wide.columns]
    wide = wide.reset_index()
    order = {label: i for i, label in enumerate(dict.fromkeys(df["history_bucket"]))}  # cold to warm, as written
    return wide.sort_values(["task", "method", "history_bucket"], key=lambda c: c.map(order) if c.name == "history_bucket" else c)


def per_seed(root: Path) -> pd.DataFrame:
    rows = []
    for path in sorted(root.glob("*/runs/*/seed*/metrics.parquet")):
        df = pd.read_parquet(path)
        df = df[df["metric"].isin(["hr@5", "hr@10", "ndcg@10"])]
        for r in df.itertuples():
            rows.append({"variant": path.parts[-3], "seed": path.parts[-2], "task": r.task, "method": r.method,
                         "metric": r.metric, "value": round(r.value, 4)})
    return pd.DataFrame(rows).pivot_table(index=["task", "method", "variant", "seed"], columns="metric",
                                          values="value").reset_index()


def training(root: Path) -> pd.DataFrame:
    rows = []
    for path in sorted(root.glob("*/runs/*/seed*/run.json")):
        run = json.loads(path.read_text())
        log = pd.read_csv(path.parent / "train_log.csv")
        last = log.iloc[-1]
        rows.append({"variant": path.parts[-3], "seed": run["seed"], "epochs": run["epochs_run"],
                     "best epoch": run["best_epoch"], "train s": run["train_seconds"],
                     "train loss seq / top-n (last epoch)": f"{last['train_loss_sequential']:.3f} / {last['train_loss_topn']:.3f}",
                     "valid loss seq / top-n (best)": " / ".join(f"{log[c].min():.3f}" for c in
                                                                  ("valid_loss_sequential", "valid_loss_topn"))})
    return pd.DataFrame(rows)


def neighbour_signal(root: Path, dataset: str = "beauty", cf_model: str = "pmf", k: int = 20) -> pd.DataFrame:
    """How much the user prompt's inputs could tell about the test item: the share of users whose
    test item is among the training items of at least one of their k CF neighbours, against k
    users drawn at random (seed 0), and the test item's rank by neighbour votes among the user's
    100 candidates (HR@10 of 'rank the candidates by how many neighbours bought them', ties
    pessimistic)."""
    import numpy as np

    seq = pd.read_parquet(root / dataset / "data" / "sequences.parquet")
    train = seq[seq["role"] == "train"]
    bought = train.groupby("user_id")["item_id"].apply(set).to_dict()
    cand = pd.read_parquet(root / dataset / "data" / "candidates.parquet")
    cand = cand[cand["split"] == "test"]
    nbr = pd.read_parquet(root / dataset / "neighbors" / cf_model / "neighbors.parquet")
    neighbours = dict(zip(nbr["user_id"], (np.asarray(n)[:k] for n in nbr["neighbor_ids"])))
    users = np.asarray(sorted(bought))
    rng = np.random.default_rng(0)
    rows = {"cf": [0, 0], "random": [0, 0]}
    for u, target, negatives in zip(cand["user_id"], cand["target"], cand["negatives"]):
        for name, group in (("cf", neighbours[u]), ("random", rng.choice(users, size=k, replace=False))):
            votes = {}
            for v in group:
                for item in bought.get(int(v), ()):
                    votes[item] = votes.get(item, 0) + 1
            rows[name][0] += votes.get(int(target), 0) > 0
            score = votes.get(int(target), 0)
            rank = sum(votes.get(int(n), 0) >= score for n in negatives)
            rows[name][1] += rank < 10
    n = len(cand)
    return pd.DataFrame([{"neighbours": name, "users": n, "test item bought by a neighbour": round(a / n, 4),
                          "HR@10 by neighbour votes (100 candidates)": round(b / n, 4)}
                         for name, (a, b) in rows.items()])


def per_user_paired(root: Path, a: str = "peapod", b: str = "pod", dataset: str = "beauty",
                    seeds: tuple[str, ...] = ("seed1", "seed2", "seed3")) -> pd.DataFrame:
    """PeaPOD minus POD per user (each user's metric averaged over the seeds both have), over the
    sampled users: mean difference, 95% interval and p of a paired t-test over users. Users, not
    seeds, are the unit here: it asks whether these trained models differ on these users."""
    from scipy import stats

    frames = {}
    for variant in (a, b):
        runs = [pd.read_parquet(root / dataset / "runs" / variant / s / "per_user.parquet") for s in seeds
                if (root / dataset / "runs" / variant / s / "per_user.parquet").exists()]
        frames[variant] = pd.concat(runs).groupby(["task", "method", "user_id"])[["hr@10", "ndcg@10"]].mean()
    joined = frames[a].join(frames[b], lsuffix="_a", rsuffix="_b", how="inner")
    rows = []
    for (task, method), g in joined.groupby(level=[0, 1]):
        for metric in ("hr@10", "ndcg@10"):
            diff = g[f"{metric}_a"] - g[f"{metric}_b"]
            t = stats.ttest_1samp(diff, 0.0)
            half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / len(diff) ** 0.5
            rows.append({"task": task, "method": method, "metric": metric, "users": len(diff),
                         f"{a}": round(g[f"{metric}_a"].mean(), 4), f"{b}": round(g[f"{metric}_b"].mean(), 4),
                         "difference": round(diff.mean(), 4), "95% interval": f"[{diff.mean() - half:.4f}, {diff.mean() + half:.4f}]",
                         "p (paired t over users)": round(float(t.pvalue), 4)})
    return pd.DataFrame(rows)


def seed_paired(root: Path, metrics: tuple[str, ...] = ("hr@5", "hr@10", "ndcg@10")) -> pd.DataFrame:
    """The aggregation's paired t-tests over seeds (results/aggregate/tests_paired.csv) with the 95%
    interval of the mean difference (from its t statistic: half-width = t_crit * diff / t)."""
    from scipy import stats

    df = pd.read_csv(root / "aggregate" / "tests_paired.csv")
    df = df[df["metric"].isin(metrics)]
    rows = []
    for r in df.itertuples():
        half = stats.t.ppf(0.975, r.df) * abs(r.mean_diff / r.t) if r.t else float("nan")
        rows.append({"task": r.task, "method": r.method, "metric": r.metric, "seeds": r.n,
                     f"{r.variant_a}": round(r.mean_a, 4), f"{r.variant_b}": round(r.mean_b, 4),
                     "difference": round(r.mean_diff, 4), "95% interval": f"[{r.mean_diff - half:.4f}, {r.mean_diff + half:.4f}]",
                     "p": round(r.p, 3), "p (Holm)": round(r.p_holm, 3)})
    return pd.DataFrame(rows)


def followup(root: Path, dataset: str = "beauty") -> str:
    """config/beauty_cpu_longer.yaml (retired, at 9d2a860)'s two runs (6 epochs, seed 1) beside the study's seed 1:
    test metrics, validation loss per epoch, and PeaPOD vs POD per user at 6 epochs."""
    runs = {v: root / dataset / "runs" / v / "seed1" for v in ("peapod", "pod", "peapod_e6", "pod_e6")}
    if not all((d / "metrics.parquet").exists() for d in runs.values()):
        return "(the follow-up runs are not all there)"
    rows = []
    for variant, d in runs.items():
        m = pd.read_parquet(d / "metrics.parquet")
        m = m[m["metric"].isin(["hr@10", "ndcg@10"])]
        rows.append({"variant": variant, **{f"{r.task} {r.method} {r.metric}": round(r.value, 4) for r in m.itertuples()}})
    metrics = pd.DataFrame(rows)
    logs = {v: pd.read_csv(runs[v] / "train_log.csv") for v in ("peapod_e6", "pod_e6")}
    curve = None
    for v, log in logs.items():
        part = log[["epoch", "valid_loss_mean"]].rename(columns={"valid_loss_mean": f"{v} valid loss"}).round(4)
        curve = part if curve is None else curve.merge(part, on="epoch", how="outer")
    paired = per_user_paired(root, "peapod_e6", "pod_e6", dataset, ("seed1",))
    return "\n\n".join(t.to_markdown(index=False) for t in (metrics, curve, paired))


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "results")
    for title, table in (("Wall time and peak memory per job", stage_times(root)),
                         ("Training", training(root)),
                         ("Per seed (test, sampled users)", per_seed(root)),
                         ("Per history-length bucket, mean over seeds", buckets(root)),
                         ("PeaPOD vs POD, paired over seeds (the aggregation's tests)", seed_paired(root)),
                         ("PeaPOD vs POD per user (seed-averaged), paired over users", per_user_paired(root)),
                         ("What the PMF neighbours know about the test item", neighbour_signal(root))):
        print(f"### {title}\n")
        print(table.to_markdown(index=False, floatfmt=".4f"))
        print()


if __name__ == "__main__":
    main()
