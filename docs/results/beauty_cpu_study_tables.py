"""Tables of the second CPU study for docs/results/beauty-cpu.md (config/beauty_cpu_study.yaml (retired, at 9d2a860) and
its id-order control config/beauty_cpu_random.yaml (retired, at 9d2a860)), read from results/ after both ran:

- the headline: each group's test metrics over its seeds (mean and 95% interval), its parameters,
  and the model-free rows (most popular, the id-order probe) on exactly the same sampled users
  (written before the workflow did it; since issue 39 results/<dataset>/baselines/metrics.csv and
  the tables put every baseline row on the runs' users, peapod.aggregate.baselines);
- the goal of issue 21, item 8, criterion by criterion;
- the beam diagnostics (valid ids, finished beams, inside the catalogue or the prompt's candidates);
- the learning curves per epoch (validation loss and the cheap validation HR@10), mean over seeds;
- PeaPOD and MLP against POD paired over seeds (the aggregation's tests) and over users;
- wall time and peak memory per job.

    python docs/results/beauty_cpu_study_tables.py [results]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyarrow.compute as pc

from peapod.aggregate.baselines import popularity_sequential, popularity_topn, training_counts
from peapod.aggregate.stats import confidence_interval
from peapod.baselines import id_order
from peapod.embeddings.evaluate import candidate_arrays
from peapod.metrics import RANKING_KS, mean_ranking_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from beauty_cpu_tables import per_user_paired, seed_paired, stage_times  # noqa: E402

GROUPS = {  # label: (dataset, variant)
    "PeaPOD": ("beauty", "peapod"),
    "MLP user prompt": ("beauty", "mlp"),
    "POD": ("beauty", "pod"),
    "POD, items renumbered at random": ("beauty_random", "pod"),
}
HEADLINE = [  # (column, evaluation.json metric)
    ("seq HR@10 (beam)", "sequential/beam/hr@10"),
    ("seq NDCG@10 (beam)", "sequential/beam/ndcg@10"),
    ("top-n HR@10 (beam)", "topn/beam/hr@10"),
    ("top-n NDCG@10 (beam)", "topn/beam/ndcg@10"),
    ("top-n HR@10 (scoring)", "topn/scoring/hr@10"),
    ("top-n HR@10 (scoring, blind)", "topn/scoring_blind/hr@10"),
]
DIAGNOSTICS = [
    ("seq beams: finished / ids / in catalogue", ("sequential/beam/share_finished", "sequential/beam/share_ids",
                                                 "sequential/beam/share_catalogue")),
    ("top-n beams: finished / ids", ("topn/beam/share_finished", "topn/beam/share_ids")),
    ("top-n beams in candidates", ("topn/beam/share_candidates",)),
    ("first top-n beam in candidates", ("topn/beam/top1_in_candidates",)),
]
CURVE = ["valid_loss_sequential", "valid_loss_topn", "valid_hr10_sequential_beam", "valid_hr10_topn_beam",
         "valid_topn_beam_in_candidates", "valid_hr10_topn_scoring"]


def runs(root: Path, dataset: str, variant: str) -> list[Path]:
    return sorted(d for d in (root / dataset / "runs" / variant).glob("seed*") if (d / "evaluation.json").exists())


def mean_ci(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f} (1 seed)"
    low, high = confidence_interval(values)
    return f"{np.mean(values):.4f} [{low:.4f}, {high:.4f}]"


def headline(root: Path) -> pd.DataFrame:
    rows = []
    for label, (dataset, variant) in GROUPS.items():
        dirs = runs(root, dataset, variant)
        if not dirs:
            continue
        evaluations = [json.loads((d / "evaluation.json").read_text()) for d in dirs]
        params = json.loads((dirs[0] / "run.json").read_text())["parameters"]
        row = {"model": label, "seeds": len(dirs),
               "parameters (user prompt)": f"{params['total'] / 1e3:.0f} K ({params['user_prompt'] / 1e3:.0f} K)"}
        row.update({col: mean_ci([e["metrics"][key] for e in evaluations]) for col, key in HEADLINE})
        rows.append(row)
    for dataset in dict.fromkeys(d for d, _ in GROUPS.values()):
        dirs = runs(root, dataset, "pod") or runs(root, dataset, "peapod")
        if dirs:
            users = pd.read_parquet(dirs[0] / "per_user.parquet", columns=["user_id"])["user_id"].unique()
            rows += model_free(root / dataset / "data", users, dataset)
    return pd.DataFrame(rows)


def model_free(data: Path, users: np.ndarray, dataset: str) -> list[dict]:
    """Most popular (training counts) and the id-order probe on exactly ``users`` (the sample)."""
    sequences = pd.read_parquet(data / "sequences.parquet")
    candidates = pq.read_table(data / "candidates.parquet")
    candidates = candidates.filter(pc.is_in(candidates["user_id"], pa.array(np.asarray(users, dtype=np.int64))))
    counts = training_counts(sequences)
    sampled = sequences[sequences["user_id"].isin(users)]
    popular = {"sequential": popularity_sequential(counts, sampled, "test"),
               "topn": popularity_topn(counts, candidates, "test")}
    ks = RANKING_KS["sequential"]
    seq_ranks = id_order.sequential_ranks(sequences, "test")
    seq_ranks = seq_ranks[seq_ranks["user_id"].isin(users)]["rank"].to_numpy()
    u, t, n = candidate_arrays(candidates, "test")
    order = {"sequential": mean_ranking_metrics(seq_ranks, ks["hr"], ks["ndcg"]),
             "topn": id_order.topn_metrics(sequences, u, t, n)}
    rows = []
    for label, m in ((f"most popular ({dataset}, same users)", popular),
                     (f"id order: next ids / nearest ids ({dataset}, same users)", order)):
        rows.append({"model": label, "seeds": "-", "parameters (user prompt)": "0",
                     "seq HR@10 (beam)": f"{m['sequential']['hr@10']:.4f}",
                     "seq NDCG@10 (beam)": f"{m['sequential']['ndcg@10']:.4f}",
                     "top-n HR@10 (beam)": f"{m['topn']['hr@10']:.4f} (ranked)",
                     "top-n NDCG@10 (beam)": f"{m['topn']['ndcg@10']:.4f} (ranked)",
                     "top-n HR@10 (scoring)": f"{m['topn']['hr@10']:.4f} (ranked)",
                     "top-n HR@10 (scoring, blind)": "–"})
    return rows


def goal(root: Path) -> pd.DataFrame:
    """Issue 21, item 8: free-beam top-n inside the candidates for >= 95% of users; top-n by the
    paper's beam and sequential HR@10 above most popular on the same users (per run)."""
    rows, popular = [], {}  # most popular per dataset: every run of a dataset has the same sampled users
    for label, (dataset, variant) in GROUPS.items():
        for d in runs(root, dataset, variant):
            per_user = pd.read_parquet(d / "per_user.parquet")
            m = json.loads((d / "evaluation.json").read_text())["metrics"]
            if dataset not in popular:
                popular[dataset] = model_free(root / dataset / "data", per_user["user_id"].unique(), dataset)[0]
            free = popular[dataset]
            topn = per_user[(per_user["task"] == "topn") & (per_user["method"] == "beam")]
            rows.append({"run": f"{label} {d.name}",
                         "users with every top-n beam in candidates": round(float((topn["share_candidates"] == 1).mean()), 4),
                         "users with first top-n beam in candidates": round(float(topn["top1_in_candidates"].mean()), 4),
                         "top-n HR@10 beam vs most popular": f"{m['topn/beam/hr@10']:.4f} vs {free['top-n HR@10 (beam)'].split()[0]}",
                         "seq HR@10 beam vs most popular": f"{m['sequential/beam/hr@10']:.4f} vs {free['seq HR@10 (beam)']}"})
    return pd.DataFrame(rows)


def diagnostics(root: Path) -> pd.DataFrame:
    rows = []
    for label, (dataset, variant) in GROUPS.items():
        dirs = runs(root, dataset, variant)
        if not dirs:
            continue
        metrics = [json.loads((d / "evaluation.json").read_text())["metrics"] for d in dirs]
        rows.append({"model": label, **{col: " / ".join(f"{np.mean([m[k] for m in metrics]):.3f}" for k in keys)
                                        for col, keys in DIAGNOSTICS}})
    return pd.DataFrame(rows)


def curves(root: Path) -> pd.DataFrame:
    frames = []
    for label, (dataset, variant) in GROUPS.items():
        for d in runs(root, dataset, variant):
            log = pd.read_csv(d / "train_log.csv")
            frames.append(log[["epoch", *[c for c in CURVE if c in log]]].assign(model=label))
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames)
    out = df.groupby(["model", "epoch"], sort=False).mean().round(4).reset_index()
    return out.rename(columns=lambda c: c.replace("valid_", "").replace("_", " "))


def study_stage_times(root: Path) -> pd.DataFrame:
    """stage_times of this study's jobs only (not the demo's or the RecBole baselines')."""
    times = stage_times(root)
    datasets = tuple(f"{d}/" for d in dict.fromkeys(d for d, _ in GROUPS.values()))
    keep = times["job"].str.startswith(datasets) & ~times["job"].str.contains("train_baseline")
    return times[keep]


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "results")
    sections = [("Test, sampled users: mean over seeds [95% interval]", headline),
                ("Goal of issue 21, item 8, per run", goal),
                ("Beam diagnostics, mean over seeds", diagnostics),
                ("Learning curves (validation), mean over seeds", curves),
                ("Paired over seeds (the aggregation's tests)", seed_paired),
                ("PeaPOD vs POD per user (seed-averaged), paired over users", per_user_paired),
                ("MLP vs POD per user (seed-averaged), paired over users", lambda r: per_user_paired(r, "mlp", "pod")),
                ("Wall time and peak memory per job", study_stage_times)]
    for title, make in sections:
        print(f"### {title}\n")
        try:  # a study still running has only some of its files
            print(make(root).to_markdown(index=False, floatfmt=".4f"))
        except (FileNotFoundError, ValueError, KeyError) as missing:
            print(f"(not available yet: {missing})")
        print()


if __name__ == "__main__":
    main()
