"""One baseline run, (dataset, model, seed): fit by RecBole on our split, ranks per user, metrics.

Outputs (peapod.paths.BASELINE_RUN_DIR), each written atomically:
  per_user.parquet  user_id, task, method, split, rank, history_length, hr@k, ndcg@k (like a
                    generator run's per-user results)
  metrics.parquet   task, method, split, metric, value: a generator run's metrics contract
                    (peapod.aggregate.collect), so the aggregation reads both alike
  run.json          settings, seed, versions, epochs run, best epoch, per-epoch history, time
A RecBole failure stops the job with the model, dataset and seed in the message; nothing is written.
"""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from peapod.baselines.registry import BASELINES
from peapod.baselines.training import BaselineResult, TrainSettings
from peapod.evaluation.results import metrics_table
from peapod.io import write_json, write_parquet
from peapod.metrics import RANKING_KS

log = logging.getLogger(__name__)


class BaselineFailed(RuntimeError):
    """RecBole failed while training or ranking one (model, dataset, seed)."""


def train_settings(settings: dict[str, Any], seed: int) -> TrainSettings:
    """The run's TrainSettings from its config mapping (peapod.baselines.settings) and seed."""
    known = {f.name for f in fields(TrainSettings)} - {"seed"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"unknown baseline setting(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
    return TrainSettings(**{**settings, "recbole": dict(settings.get("recbole") or {})}, seed=int(seed))


def fit(model: str, tables: dict[str, str | Path], settings: TrainSettings) -> BaselineResult:
    from peapod.data.tables import read_table

    baseline = BASELINES[model]
    sequences = read_table(tables["sequences"], "sequences").to_pandas()
    if baseline.task == "sequential":
        from peapod.baselines.sequential import fit_sequential

        return fit_sequential(model, sequences, settings)
    from peapod.baselines.topn import fit_topn
    from peapod.embeddings.interactions import read_train_interactions

    interactions = read_train_interactions(tables["sequences"], tables["users"], tables["items"])
    result = fit_topn(model, interactions, read_table(tables["candidates"], "candidates"), settings)
    lengths = sequences[sequences["role"] == "train"].groupby("user_id").size()
    result.per_user["history_length"] = lengths.reindex(result.per_user["user_id"]).to_numpy()
    return result


def per_user_table(result: BaselineResult, model: str) -> pd.DataFrame:
    """The per-user ranks with the task's metrics as columns (hr@k, ndcg@k), per peapod.metrics."""
    from peapod.metrics import ranking_metrics

    baseline = BASELINES[model]
    ks = RANKING_KS[baseline.task]
    df = result.per_user.copy()
    metrics = pd.DataFrame([ranking_metrics(int(r), ks["hr"], ks["ndcg"]) for r in df["rank"].tolist()], index=df.index)
    df.insert(1, "task", baseline.task)
    df.insert(2, "method", baseline.method)
    df = pd.concat([df.drop(columns=["target"]), metrics], axis=1)
    return df.astype({"rank": np.int64, "history_length": np.int64})


def versions() -> dict[str, str]:
    import recbole
    import torch

    return {"python": platform.python_version(), "recbole": recbole.__version__, "torch": torch.__version__,
            "numpy": np.__version__, "pandas": pd.__version__}


def run_baseline(dataset: str, model: str, seed: int, tables: dict[str, str | Path], settings: dict[str, Any],
                 outputs: dict[str, str | Path]) -> None:
    """Train and rank one baseline, then write per_user.parquet, metrics.parquet and run.json."""
    if model not in BASELINES:
        raise ValueError(f"unknown baseline {model!r} (one of {', '.join(BASELINES)})")
    run_settings = train_settings(settings, seed)
    start = time.perf_counter()
    try:
        result = fit(model, tables, run_settings)
    except Exception as exc:  # noqa: BLE001 (RecBole raises anything; the message names the run)
        raise BaselineFailed(f"baseline {model} on dataset {dataset}, seed {seed} failed: "
                             f"{type(exc).__name__}: {exc}") from exc
    per_user = per_user_table(result, model)
    metrics = metrics_table(per_user)
    record = {
        "dataset": dataset, "model": model, "seed": int(seed), "task": BASELINES[model].task,
        "method": BASELINES[model].method, "settings": asdict(run_settings), "versions": versions(),
        "epochs_run": result.epochs_run, "best_epoch": result.best_epoch, "history": result.history,
        "seconds": round(time.perf_counter() - start, 3), **{k: v for k, v in result.info.items() if k != "model"},
        "recbole_model": result.info.get("model"),
        "test": {r.metric: r.value for r in metrics[metrics.split == "test"].itertuples()},
    }
    write_parquet(pa.Table.from_pandas(per_user, preserve_index=False), outputs["per_user"])
    write_parquet(pa.Table.from_pandas(metrics, preserve_index=False), outputs["metrics"])
    write_json(record, outputs["run"])
    log.info("%s on %s, seed %d: %d epochs (best %d), test %s, %.1fs", model, dataset, seed, result.epochs_run,
             result.best_epoch, ", ".join(f"{k} {v:.4f}" for k, v in record["test"].items()), record["seconds"])
