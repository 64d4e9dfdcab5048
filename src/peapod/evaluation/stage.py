"""The evaluate_generator step: load one trained run, evaluate every task on the held-out split
(peapod.evaluation.evaluate.RunEvaluator) and write its per-user results, tidy metrics, generated
texts, history-bucket summary and evaluation.json."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from peapod.data.tables import GENERATOR_TABLES, table_paths
from peapod.evaluation.inputs import EvalData, EvalSettings
from peapod.evaluation.results import bucket_summary, metrics_table
from peapod.generator.runtime import describe_precision, pick_device

log = logging.getLogger(__name__)


def evaluate_run(evaluator: "RunEvaluator", data: EvalData) -> dict[str, Any]:
    """Every task the data supports; returns per-user results, tidy metrics, generated texts,
    the history-bucket summary and timings."""
    timings: dict[str, float] = {}
    frames = []
    t0 = time.perf_counter()
    frames.append(evaluator.sequential(data))
    timings["sequential"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    frames.append(evaluator.topn(data))
    timings["topn"] = time.perf_counter() - t0
    texts = pd.DataFrame(columns=["user_id", "item_id", "reference", "reference_as_trained", "generated"])
    corpus: dict[str, dict[str, float]] = {}
    if len(data.explanations):
        t0 = time.perf_counter()
        exp_rows, texts, corpus = evaluator.explanation(data)
        frames.append(exp_rows)
        timings["explanation"] = time.perf_counter() - t0
    else:
        log.warning("no %s explanations: the explanation task is not evaluated", evaluator.s.split)
    per_user = pd.concat(frames, ignore_index=True)
    per_user.insert(3, "split", evaluator.s.split)
    per_user["rank"] = per_user["rank"].astype("Int64")
    tidy = metrics_table(per_user)
    # Explanation: the paper's corpus-level BLEU-4 and mean ROUGE replace per-user means.
    tidy = tidy[tidy["task"] != "explanation"]
    corpus_rows = pd.DataFrame(
        [{"task": "explanation", "method": method, "split": evaluator.s.split, "metric": k, "value": float(v)}
         for method, values in corpus.items() for k, v in values.items()]
    )
    tidy = pd.concat([tidy, corpus_rows], ignore_index=True) if len(corpus_rows) else tidy.reset_index(drop=True)
    return {"per_user": per_user, "metrics": tidy, "texts": texts, "buckets": bucket_summary(per_user),
            "timings": timings, "settings": asdict(evaluator.s)}


def evaluate_run_directory(run_dir: str | Path, data_dir: str | Path, templates_path: str | Path,
                           settings: EvalSettings, outputs: dict[str, str | Path],
                           device: str | torch.device | None = None,
                           cf_files: tuple[str | Path, str | Path] | None = None) -> dict[str, Any]:
    """evaluate_run_files on a run directory and a data directory laid out as the workflow writes
    them (for interactive use and tests)."""
    from peapod.generator.checkpoint import model_files

    run = {**model_files(run_dir), "run": Path(run_dir) / "run.json"}
    return evaluate_run_files(run, table_paths(data_dir, GENERATOR_TABLES), templates_path, settings, outputs,
                              device, cf_files)


def evaluate_run_files(run: dict[str, str | Path], tables: dict[str, str | Path], templates_path: str | Path,
                       settings: EvalSettings, outputs: dict[str, str | Path],
                       device: str | torch.device | None = None,
                       cf_files: tuple[str | Path, str | Path] | None = None) -> dict[str, Any]:
    """Load a trained run, evaluate it and write ``outputs``: metrics (tidy Parquet), per_user
    (Parquet), texts (generated explanations beside references, Parquet), buckets (CSV) and
    summary (JSON: settings, timings, provenance). Every file is written atomically.
    ``run``: the trained run's files by role (peapod.generator.checkpoint.MODEL_FILES, and run:
    its run.json); ``tables``: the data stage's files by table name.
    ``cf_files``: the run's (embeddings, neighbours) files, checked against the hashes it recorded."""
    from peapod.evaluation.evaluate import RunEvaluator  # here, not above: evaluate re-exports this module
    from peapod.generator.checkpoint import load_model_files
    from peapod.generator.data import Templates
    from peapod.io import atomic_path, write_json
    from peapod.provenance import provenance

    dev = pick_device(str(device) if device else None)
    model, tokenizer, meta = load_model_files(run, dev, cf_files)
    run_dir = Path(run["model"]).parent
    log.info("evaluating %s: %s", run_dir, describe_precision(dev))
    data = EvalData.from_files(tables, settings.split)
    if settings.sample_users is not None:
        data = data.sampled(settings.sample_users, settings.sample_seed, settings.split)
        log.info("evaluating a fixed sample of %d of %d users (seed %d, stratified by history length: %s)",
                 len(data.sample.users), data.sample.total, data.sample.seed, data.sample.strata)
    evaluator = RunEvaluator(model, tokenizer, Templates.load(templates_path), settings, data.catalogue, dev)
    result = evaluate_run(evaluator, data)
    for key in ("metrics", "per_user", "texts"):
        with atomic_path(outputs[key]) as tmp:
            result[key].to_parquet(tmp, index=False)
    with atomic_path(outputs["buckets"]) as tmp:
        result["buckets"].to_csv(tmp, index=False)
    # The run's own record (seed, generator config) travels with its metrics.
    run_record = Path(run["run"])
    trained = json.loads(run_record.read_text()) if run_record.exists() else {}
    summary = {"run": str(run_dir), "seed": trained.get("seed"), "generator_config": trained.get("config"),
               "device": str(dev), "precision": describe_precision(dev), "settings": result["settings"],
               "timings_s": result["timings"],
               "users": {"evaluated": len(data.sequences), "of": data.sample.total if data.sample else len(data.sequences),
                         "sample": data.sample.to_dict() if data.sample else None},
               "metrics": {f"{r.task}/{r.method}/{r.metric}": r.value for r in result["metrics"].itertuples()},
               "provenance": provenance()}
    write_json(summary, outputs["summary"])
    log.info("evaluated %s on %s in %s", run_dir, settings.split, {k: round(v, 1) for k, v in result["timings"].items()})
    return result
