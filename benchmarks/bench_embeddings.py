"""Fit times of PMF, BiVAE and LightGCN at Beauty size (22,363 users x 12,101 items, 512 dims).

Usage:  PYTHONPATH=src python benchmarks/bench_embeddings.py [--data results/beauty/data]
        [--pmf-iters 5] [--bivae-epochs 2] [--lightgcn-epochs 1]

Reads the data stage's tables (run it on ../shared/data/p5-beauty or resources/p5/beauty
first). Epochs are reduced for the timing (stated in the output); each model's time per epoch and
a linear projection to the paper's 100 epochs are printed. Setup (data, graph, imports) is part of
the measured time, so the projection is an upper bound on the per-epoch part.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from peapod.embeddings import fit_embeddings, settings_for
from peapod.embeddings.interactions import read_train_interactions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="results/beauty/data")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--pmf-iters", type=int, default=5)
    parser.add_argument("--bivae-epochs", type=int, default=2)
    parser.add_argument("--lightgcn-epochs", type=int, default=1)
    parser.add_argument("--paper-epochs", type=int, default=100)
    args = parser.parse_args()
    data = Path(args.data)
    inter = read_train_interactions(data / "sequences.parquet", data / "users.parquet", data / "items.parquet")
    print(f"fit times: {inter.n_users} users x {inter.n_items} items, {len(inter.users)} training pairs, {args.dim} dims")
    runs = {
        "pmf": ({"max_iter": args.pmf_iters}, args.pmf_iters),
        "bivae": ({"n_epochs": args.bivae_epochs}, args.bivae_epochs),
        "lightgcn": ({"epochs": args.lightgcn_epochs}, args.lightgcn_epochs),
    }
    import torch  # noqa: F401  (the import is not part of any model's time)

    for model, (options, epochs) in runs.items():
        start = time.perf_counter()
        fit_embeddings(model, inter, settings_for(model, args.dim, 0, options))
        seconds = time.perf_counter() - start
        print(
            f"  {model:9s} {epochs:3d} epochs {seconds:8.1f} s   {seconds / epochs:7.1f} s/epoch   "
            f"~{seconds / epochs * args.paper_epochs / 60:6.1f} min for {args.paper_epochs} epochs"
        )


if __name__ == "__main__":
    main()
