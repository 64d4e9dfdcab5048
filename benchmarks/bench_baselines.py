"""Time and peak memory of the RecBole baselines on a prepared dataset (the data stage's tables).

    PYTHONPATH=src python benchmarks/bench_baselines.py --data results/beauty/data --models SASRec
    PYTHONPATH=src python benchmarks/bench_baselines.py --data results/beauty/data --epochs 3   # every model, 3 epochs
    PYTHONPATH=src python benchmarks/bench_baselines.py --from-results results/beauty   # a finished study's jobs


Each model runs in its own subprocess (one torch thread per core given by --threads) through the
workflow's own entry point (peapod.baselines.stage.run_baseline, the config's defaults unless
--epochs caps them), and the script prints wall time, epochs run, seconds per epoch, the test
HR@10 / NDCG@10 and the subprocess's peak resident memory (ru_maxrss: interpreter, torch and RecBole
included). Outputs go to a temporary directory.

--from-results reads what the workflow measured instead of training again: every finished
train_baseline job of a dataset (Snakemake's benchmark file: wall time, peak RSS, CPU time; the
run's run.json: epochs, seconds per epoch, test metrics), one row per (model, seed) and each
model's mean.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, sys, torch
torch.set_num_threads({threads})
from peapod.baselines.registry import BASELINES
from peapod.baselines.settings import run_settings
from peapod.baselines.stage import run_baseline
from peapod.config import with_defaults
from peapod.logs import configure
configure(None)
cfg = with_defaults({{"datasets": {{"d": {{"source": "demo"}}}}}})
settings = run_settings(cfg["baselines"], {{}}, {model!r})
settings.update(json.loads({overrides!r}))
data = {data!r}
tables = {{n: f"{{data}}/{{n}}.parquet" for n in ("sequences", "users", "items", "candidates")}}
out = {out!r}
run_baseline("bench", {model!r}, {seed}, tables, settings,
             {{"metrics": out + "/metrics.parquet", "per_user": out + "/per_user.parquet", "run": out + "/run.json"}})
"""


def bench(model: str, data: str, seed: int, threads: int, overrides: dict) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"bench-{model}-") as out:
        code = CHILD.format(threads=threads, model=model, overrides=json.dumps(overrides), data=data, out=out, seed=seed)
        start = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        subprocess.run([sys.executable, "-c", code], check=True)
        wall = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux; the largest child so far
        record = json.loads((Path(out) / "run.json").read_text())
    return {"model": model, "wall_s": wall, "peak_mib": peak / 1024, "peak_is_max_so_far": peak == before,
            **run_summary(record)}


def run_summary(record: dict) -> dict:
    """Epochs, seconds per epoch, validation curve and test metrics of one baseline run.json."""
    epochs = record["history"]
    return {"epochs": record["epochs_run"], "best_epoch": record["best_epoch"],
            "s_per_epoch": sum(e["seconds"] for e in epochs) / max(1, len(epochs)),
            "valid_curve": [e["valid_ndcg@10"] for e in epochs],
            "hr@10": record["test"].get("hr@10"), "ndcg@10": record["test"].get("ndcg@10")}


def from_results(dataset_dir: Path) -> list[dict]:
    """One record per finished baseline job of a workflow's dataset directory (results/<dataset>)."""
    import csv

    rows = []
    for run_file in sorted(dataset_dir.glob("baselines/*/seed*/run.json")):
        record = json.loads(run_file.read_text())
        model, seed = record["model"], record["seed"]
        bench_file = dataset_dir / "benchmarks" / f"train_baseline_{model}_seed{seed}.tsv"
        if not bench_file.exists():
            raise SystemExit(f"{bench_file}: missing (the job's Snakemake benchmark of {run_file})")
        with bench_file.open() as handle:
            measured = next(csv.DictReader(handle, delimiter="\t"))
        rows.append({"model": model, "seed": seed, "wall_s": float(measured["s"]),
                     "cpu_s": float(measured["cpu_time"]), "peak_mib": float(measured["max_rss"]),
                     **run_summary(record)})
    if not rows:
        raise SystemExit(f"{dataset_dir}: no finished baseline run (baselines/<model>/seed<seed>/run.json)")
    return rows


def print_results_table(rows: list[dict]) -> None:
    print("| model | seed | wall | CPU time | epochs run (best) | s / epoch | peak RSS | test HR@10 | test NDCG@10 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for model in dict.fromkeys(r["model"] for r in rows):
        runs = [r for r in rows if r["model"] == model]
        mean = {k: sum(r[k] for r in runs) / len(runs) for k in ("wall_s", "cpu_s", "s_per_epoch", "peak_mib", "hr@10", "ndcg@10")}
        for r in runs + [dict(mean, seed="mean", epochs="", best_epoch="")]:
            epochs = f"{r['epochs']} ({r['best_epoch']})" if r["epochs"] != "" else ""
            print(f"| {model} | {r['seed']} | {r['wall_s'] / 60:.1f} min | {r['cpu_s'] / 60:.1f} min | {epochs} | "
                  f"{r['s_per_epoch']:.1f} | {r['peak_mib']:,.0f} MiB | {r['hr@10']:.4f} | {r['ndcg@10']:.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="results/beauty/data", help="directory of the data stage's tables")
    parser.add_argument("--models", nargs="+", default=["SASRec", "GRU4Rec", "BERT4Rec", "MF", "MLP"])
    parser.add_argument("--epochs", type=int, default=None, help="cap on epochs (default: the config's, 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seq-length", type=int, default=None, help="sequential: history items read (default 50)")
    parser.add_argument("--batch", type=int, default=None, help="RecBole train_batch_size (default 2048)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--recbole", type=json.loads, default=None, metavar="JSON",
                        help='RecBole settings merged over the run\'s, e.g. \'{"loss_type": "BPR"}\'')
    parser.add_argument("--keep-history", action="store_true",
                        help="sequential: rank the user's earlier items too (exclude_history: false)")
    parser.add_argument("--from-results", type=Path, default=None, metavar="DIR",
                        help="report a finished study's baseline jobs under DIR (results/<dataset>) instead of training")
    args = parser.parse_args()
    if args.from_results:
        print_results_table(from_results(args.from_results))
        return
    overrides = {"epochs": args.epochs} if args.epochs else {}
    if args.max_seq_length:
        overrides["max_seq_length"] = args.max_seq_length
    recbole = {**({"train_batch_size": args.batch} if args.batch else {}), **(args.recbole or {})}
    if recbole:
        overrides["recbole"] = recbole
    if args.keep_history:
        overrides["exclude_history"] = False
    print("| model | wall | epochs run (best) | s / epoch | peak RSS | test HR@10 | test NDCG@10 |")
    print("|---|---|---|---|---|---|---|")
    for model in args.models:
        r = bench(model, args.data, args.seed, args.threads, overrides)
        peak = f"{r['peak_mib']:,.0f} MiB" + (" (at most; an earlier model's peak)" if r["peak_is_max_so_far"] else "")
        print(f"| {model} | {r['wall_s'] / 60:.1f} min | {r['epochs']} ({r['best_epoch']}) | {r['s_per_epoch']:.1f} | "
              f"{peak} | {r['hr@10']:.4f} | {r['ndcg@10']:.4f} |", flush=True)
        print(f"{model}: validation ndcg@10 after each epoch: " + ", ".join(f"{v:.4f}" for v in r["valid_curve"]),
              file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
