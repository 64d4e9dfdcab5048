"""Training of one generator run (one variant, one seed): task-alternated AdamW steps, per-epoch
validation loss on fixed data, best checkpoint, early stopping with patience, exact resume.

Run directory layout:
    model.safetensors, config.json, tokenizer files  the best checkpoint (exported at the end)
    train_log.csv                                     per-epoch losses per task and elapsed time
    run.json                                          settings, seed, versions, outcome
    last/                                             resumable state (weights, optimizer, RNG, loop)
    best/                                             the best checkpoint so far (for resume)
The exported files are written only when training ends, so a workflow that deletes the outputs
of a killed job never deletes the state a restarted job resumes from; once they are written,
``last/`` and ``best/`` are deleted (a finished T5-small run keeps about 245 MB, not 1.2 GB).
The CF tables are not copied into any checkpoint: config.json names their files and hashes.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from peapod.evaluation.metrics import mean_ranking_metrics, random_ranking_metrics, ranks_from_score_matrix
from peapod.generator.backbone import load_backbone, offline
from peapod.generator.checkpoint import (
    build_from_meta, existing_dir, load_training_state, save_model_dir, save_training_state,
)
from peapod.generator.collab import CollabSource
from peapod.generator.config import TASKS, GeneratorConfig
from peapod.generator.data import Batches, TaskData, Templates, Validation
from peapod.generator.model import PeaPOD, token_losses
from peapod.generator.runtime import autocast, describe_precision, pick_device, to_device
from peapod.io import atomic_path, write_json
from peapod.progress import Progress
from peapod.provenance import provenance

log = logging.getLogger(__name__)

EXPORTED = ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json")


@torch.no_grad()
def validation_losses(model: PeaPOD, validation: Validation, device: torch.device) -> dict[str, float]:
    """Teacher-forced mean token loss per task (token-weighted) on the fixed validation batches."""
    model.eval()
    out = {}
    for task, batches in validation.batches.items():
        total = torch.zeros((), dtype=torch.float64, device=device)
        count = torch.zeros((), dtype=torch.float64, device=device)
        for batch in batches:
            batch = to_device(batch, device)
            with autocast(device):
                logits = model(batch).logits
            loss, n = token_losses(logits, batch["labels"])
            total += loss
            count += n
        out[task] = float(total / count)
    return out


@torch.no_grad()
def score_topn(model: PeaPOD, validation: Validation, device: torch.device, memory_mib: float = 4096) -> np.ndarray:
    """(U, C) teacher-forced log-likelihood of every validation candidate, by exact scoring within
    a working-memory budget of ``memory_mib``."""
    model.eval()
    rows = []
    cands = torch.from_numpy(validation.topn_candidates)
    offset = 0
    for batch in validation.batches.get("topn", []):
        B = batch["input_ids"].shape[0]
        labels = validation.item_labels[cands[offset : offset + B]]  # (B, C, L)
        with autocast(device):
            rows.append(model.score_candidates(to_device(batch, device), labels.to(device), memory_mib).cpu())
        offset += B
    return torch.cat(rows).numpy() if rows else np.zeros((0, cands.shape[1]))


# The top-n cut-offs of the validation diagnostic in run.json (HR and NDCG at each).
VALID_TOPN_KS = (1, 5, 10)


def valid_topn_metrics(scores: np.ndarray, target_index: np.ndarray) -> dict[str, float]:
    """HR@k and NDCG@k of the true candidate among the (U, C) validation scores."""
    # Ties count half (the tied group's mid-rank), unlike the pessimistic ties of every reported
    # number: this diagnostic is read against chance, and the mid-rank is the truth's expected rank
    # under random tie-breaking, so ties (bf16 scoring on CUDA makes them likelier) are held neither
    # for nor against the model. It does not make a constant scorer score chance: its rank is
    # (C - 1) / 2 for every user, a miss at small k; chance is random_ranking_metrics.
    ranks = ranks_from_score_matrix(scores, target_index, ties="half")
    return mean_ranking_metrics(ranks, VALID_TOPN_KS)


def _write_log_csv(rows: list[dict[str, Any]], path: Path) -> None:
    columns = ["epoch"] + [f"train_loss_{t}" for t in TASKS] + [f"valid_loss_{t}" for t in TASKS] + [
        "valid_loss_mean", "improved", "epoch_seconds", "elapsed_s"]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)


def train_generator(
    cfg: GeneratorConfig,
    data: TaskData,
    templates: Templates,
    seed: int,
    run_dir: str | Path,
    collab: tuple[np.ndarray, np.ndarray] | None = None,
    resources: str | Path = "resources",
    device: str | None = None,
    checkpoint_seconds: float = 600.0,
    checkpoint_every_steps: int = 0,
    score_validation_topn: bool = True,
    prefetch: int = 2,
    cf_source: CollabSource | None = None,
    scoring_memory_mib: float = 4096,
    log_every_batches: int = 200,
    log_every_seconds: float = 60.0,
) -> dict[str, Any]:
    """Train (or resume) one run in ``run_dir`` and export its best checkpoint; returns run.json.

    ``collab`` = (user embeddings (U+1, d), neighbour ids (U+1, n)) for the mha/mlp user prompt;
    ``cf_source`` says which files they came from (the checkpoints then refer to those files by
    path and hash instead of storing the tables). Mid-epoch state is saved every
    ``checkpoint_every_steps`` steps and/or ``checkpoint_seconds`` seconds, and always at the end
    of an epoch. Once the run is exported, ``last/`` and ``best/`` are deleted. A progress line
    (batches done / total, samples/s, mean training loss so far, ETA of the epoch) is logged every
    ``log_every_batches`` batches or ``log_every_seconds`` seconds, whichever comes first.
    """
    offline()
    run_dir = Path(run_dir)
    dev = pick_device(device)
    last_dir, best_dir = run_dir / "last", run_dir / "best"
    resume_from = existing_dir(last_dir)
    if resume_from is not None and not (resume_from / "state.json").exists():
        resume_from = None

    # Model and tokenizer: from the saved state when resuming, else fresh for this seed.
    if resume_from is not None:
        from transformers import AutoTokenizer

        meta = json.loads((resume_from / "config.json").read_text())
        source = cf_source.to_dict() if cf_source is not None and cfg.user_prompt != "none" else None
        if meta["generator"] != cfg.to_dict() or meta.get("cf_source") != source:
            raise ValueError(f"{resume_from} was written with other settings or CF inputs; delete {run_dir} "
                             "to start over")
        model = build_from_meta(meta, collab if cfg.user_prompt != "none" else None)
        tokenizer = AutoTokenizer.from_pretrained(str(resume_from), local_files_only=True)
    else:
        torch.manual_seed(seed)
        t5, tokenizer = load_backbone(cfg, data.tokenizer_corpus(templates) if cfg.backbone == "tiny" else None,
                                      resources)
        emb, nbr = collab if collab is not None and cfg.user_prompt != "none" else (None, None)
        model = PeaPOD(t5, cfg, emb, nbr)
        if emb is not None and cf_source is not None:
            model.cf_source = cf_source.to_dict()
    model.to(dev)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay,
                                  fused=dev.type == "cuda" or None)
    batches = Batches(data, tokenizer, templates, cfg, seed, pad_multiple=8 if dev.type == "cuda" else 1,
                      pin_memory=dev.type == "cuda")
    if not batches.units:
        raise ValueError("no task has training data")
    validation = batches.validation()
    skipped = [t for t in cfg.tasks if t not in batches.units]
    if skipped:
        log.warning("tasks without data, skipped: %s", skipped)

    state: dict[str, Any] = {"epoch": 0, "step": 0, "global_step": 0, "best_valid": None, "best_epoch": None,
                             "bad_epochs": 0, "finished": False, "stop_reason": None, "rows": [],
                             "elapsed_s": 0.0, "resumed": 0}
    acc = torch.zeros(2, len(TASKS), dtype=torch.float64, device=dev)  # per-task (loss sum, batches) this epoch
    if resume_from is not None:
        state, extra = load_training_state(resume_from, model, optimizer, dev)
        acc = extra["acc"].to(dev)
        state["resumed"] += 1
        log.info("resumed from %s at epoch %d, step %d", resume_from, state["epoch"], state["step"])
    n_params = sum(p.numel() for p in model.parameters())
    per_task = {t: batches.task_schedule().count(t) for t in batches.units}
    log.info("run %s: %s backbone, user prompt %s, %d trainable parameters, batches/epoch %d (per task %s), %s",
             run_dir, cfg.backbone, cfg.user_prompt, n_params, batches.epoch_length(), per_task, describe_precision(dev))

    def checkpoint() -> None:
        state["elapsed_s"] = elapsed()
        save_training_state(last_dir, model, tokenizer, optimizer, state, {"acc": acc})

    start_wall, start_elapsed = time.perf_counter(), state["elapsed_s"]

    def elapsed() -> float:
        return start_elapsed + time.perf_counter() - start_wall

    last_save = time.perf_counter()
    while not state["finished"] and state["epoch"] < cfg.epochs:
        epoch, epoch_start = state["epoch"], time.perf_counter()
        model.train()
        progress = Progress(log, f"epoch {epoch + 1}/{cfg.epochs}", batches.epoch_length() - state["step"], "batches",
                            log_every_batches, log_every_seconds, rate_unit="samples")
        epoch_loss = torch.zeros((), dtype=torch.float64, device=dev)  # this session's loss sum (progress lines)
        for k, batch in batches.iterate(epoch, start=state["step"], prefetch=prefetch):
            task = int(batch["task_ids"][0]) if cfg.batching == "task" else None  # read on the CPU copy
            batch = to_device(batch, dev)
            with autocast(dev):
                loss = model(batch).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            optimizer.step()
            if task is not None:
                acc[0, task] += loss.detach().double()
                acc[1, task] += 1
            state["step"], state["global_step"] = k + 1, state["global_step"] + 1
            epoch_loss += loss.detach().double()
            if progress.due(1):  # the loss is read (a device sync) only when a line is logged
                progress.update(1, len(batch["user_ids"]), loss=float(epoch_loss) / progress.done_after(1))
            else:
                progress.update(1, len(batch["user_ids"]))
            due_steps = checkpoint_every_steps and state["global_step"] % checkpoint_every_steps == 0
            due_time = checkpoint_seconds and time.perf_counter() - last_save > checkpoint_seconds
            if due_steps or due_time:
                checkpoint()
                last_save = time.perf_counter()

        valid_start = time.perf_counter()
        valid = validation_losses(model, validation, dev)
        log.info("epoch %d: validation loss on %s prompts in %.1fs", epoch + 1,
                 {t: sum(len(b["user_ids"]) for b in bs) for t, bs in validation.batches.items()},
                 time.perf_counter() - valid_start)
        mean = float(np.mean(list(valid.values())))
        train_means = (acc[0] / acc[1].clamp_min(1)).tolist()
        improved = state["best_valid"] is None or mean < state["best_valid"]
        row = {"epoch": epoch + 1, "valid_loss_mean": round(mean, 6), "improved": int(improved),
               "epoch_seconds": round(time.perf_counter() - epoch_start, 3), "elapsed_s": round(elapsed(), 3)}
        for t, name in enumerate(TASKS):
            if acc[1, t] > 0:
                row[f"train_loss_{name}"] = round(train_means[t], 6)
            if name in valid:
                row[f"valid_loss_{name}"] = round(valid[name], 6)
        state["rows"].append(row)
        log.info("epoch %d: %s", epoch + 1, row)
        if improved:
            state.update(best_valid=mean, best_epoch=epoch + 1, bad_epochs=0)
            save_model_dir(best_dir, model, tokenizer, {"epoch": epoch + 1, "valid_loss": valid, "seed": seed})
        else:
            state["bad_epochs"] += 1
            if state["bad_epochs"] >= cfg.patience:
                state.update(finished=True, stop_reason=f"early stop: {cfg.patience} epochs without improvement")
        state["epoch"], state["step"] = epoch + 1, 0
        acc.zero_()
        if state["epoch"] >= cfg.epochs and not state["finished"]:
            state.update(finished=True, stop_reason=f"reached {cfg.epochs} epochs")
        checkpoint()
        last_save = time.perf_counter()

    summary = export_run(cfg, run_dir, seed, state, dev)
    if score_validation_topn and len(validation.topn_candidates):
        summary.update(validation_topn_diagnostic(run_dir, validation, dev, scoring_memory_mib))
        write_json(summary, run_dir / "run.json")
    return summary


def export_run(cfg: GeneratorConfig, run_dir: Path, seed: int, state: dict[str, Any], dev: torch.device
               ) -> dict[str, Any]:
    """Copy the best checkpoint to the run directory, write train_log.csv and run.json, then delete
    the training state (``last/``, ``best/``): evaluation needs only the exported files."""
    best = existing_dir(run_dir / "best")
    made_by = provenance()
    summary: dict[str, Any] = {
        "seed": seed, "config": cfg.to_dict(), "versions": made_by["packages"], "provenance": made_by, "device": str(dev),
        "precision": describe_precision(dev),
        "best_epoch": state["best_epoch"], "best_valid_loss": state["best_valid"], "epochs_run": len(state["rows"]),
        "stop_reason": state["stop_reason"], "resumed": state["resumed"], "train_seconds": round(state["elapsed_s"], 3),
    }
    for name in sorted(p.name for p in best.iterdir()):
        with atomic_path(run_dir / name) as tmp:
            shutil.copyfile(best / name, tmp)
    _write_log_csv(state["rows"], run_dir / "train_log.csv")
    write_json(summary, run_dir / "run.json")
    for name in ("last", "best"):
        for directory in (run_dir / name, run_dir / f"{name}.old", run_dir / f"{name}.tmp"):
            shutil.rmtree(directory, ignore_errors=True)
    return summary


def validation_topn_diagnostic(run_dir: Path, validation: Validation, dev: torch.device, memory_mib: float
                               ) -> dict[str, Any]:
    """The exported model's top-n HR/NDCG on the fixed validation candidates by exact scoring (a
    learning check for run.json). Optional: running out of memory here is logged, not fatal, and
    the exported run stands."""
    from peapod.generator.checkpoint import load_model_dir

    model, _, _ = load_model_dir(run_dir, dev)
    t0 = time.perf_counter()
    try:
        metrics = valid_topn_metrics(score_topn(model, validation, dev, memory_mib), validation.topn_target_index)
    except torch.OutOfMemoryError as error:
        log.warning("top-n validation scoring ran out of memory (lower evaluation.scoring_memory_mib): %s", error)
        return {"valid_topn_exact_scoring": {"error": f"out of memory at scoring_memory_mib={memory_mib}"}}
    chance = random_ranking_metrics(validation.topn_candidates.shape[1], VALID_TOPN_KS)
    log.info("best model, top-n validation by exact scoring: %s (random: hr@10 %.3f) in %.1fs", metrics,
             chance["hr@10"], time.perf_counter() - t0)
    return {"valid_topn_exact_scoring": metrics, "valid_topn_random_expectation": chance}


def load_run_inputs(cfg: GeneratorConfig, tables: dict[str, str | Path], templates_path: str | Path,
                    embeddings: str | Path | None = None, neighbors: str | Path | None = None):
    """(TaskData, Templates, collab tables or None, CollabSource or None) from the workflow's files
    (``tables``: the data stage's files by table name)."""
    data = TaskData.from_files(tables)
    templates = Templates.load(templates_path)
    if cfg.user_prompt == "none":
        return data, templates, None, None
    if embeddings is None or neighbors is None:
        raise ValueError(f"user_prompt {cfg.user_prompt!r} needs embeddings and neighbours files")
    source = CollabSource.of(embeddings, neighbors, cfg.neighbors, data.n_users)
    return data, templates, source.load(), source
