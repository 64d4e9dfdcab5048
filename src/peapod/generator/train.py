"""Training of one generator run (one variant, one seed): task-alternated AdamW steps, per-epoch
validation loss on fixed data, best checkpoint, early stopping with patience, exact resume.

Run directory layout:
    model.safetensors, config.json, tokenizer files  the best checkpoint (exported at the end)
    train_log.csv                                     per-epoch losses per task and elapsed time
    run.json                                          settings, seed, versions, outcome
    last/                                             resumable state (weights, optimizer, RNG, loop)
    best/                                             the best checkpoint so far (for resume)
    tensorboard/                                      TensorBoard events, only when asked (board.py)
The exported files are written only when training ends, so a workflow that deletes the outputs
of a killed job never deletes the state a restarted job resumes from; once they are written,
``last/`` and ``best/`` are deleted (a finished T5-small run keeps about 245 MB, not 1.2 GB).
The CF tables are not copied into any checkpoint: config.json names their files and hashes.
A run resumes only from a ``last/`` written with its own settings and CF inputs; another one is
replaced by a fresh start (the workflow gives runs with other settings their own directory:
peapod.generator.runs).

The loop: ``train_generator`` builds the model (``fresh_model`` or ``resumed_model``), opens a
``Session`` (optimizer, batches, validation data, and the ``TrainingState`` — fresh or restored
from ``last/`` by ``resume_training``), then per epoch ``train_epoch`` (``train_step`` per batch,
``checkpoint`` when due), ``validate``, ``end_epoch`` (log row, best checkpoint, stopping) and
``checkpoint``; at the end ``export_run`` and the optional ``validation_topn_diagnostic``. The
validation loss, top-n scoring and the learning curves are in ``peapod.generator.validation``.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from peapod.generator.backbone import load_backbone, offline
from peapod.generator.board import Board
from peapod.generator.checkpoint import (
    MODEL_FILES, build_from_meta, existing_dir, load_training_state, save_model_dir, save_training_state,
)
from peapod.embeddings.io import read_item_embeddings
from peapod.generator.collab import CollabSource
from peapod.generator.config import TASKS, GeneratorConfig, learning_rate_factor
from peapod.generator.data import Batches, TaskData, Templates, Validation
from peapod.generator.item_init import init_item_embeddings
from peapod.generator.model import PeaPOD
from peapod.generator.runtime import autocast, describe_precision, pick_device, to_device
# Validation and the learning curves live in peapod.generator.validation; re-exported here, their
# old home, for the callers that import them from this module.
from peapod.generator.validation import (  # noqa: F401
    CURVE_COLUMNS, VALID_TOPN_KS, learning_check, score_topn, valid_topn_metrics, validation_losses,
    validation_topn_diagnostic,
)
from peapod.io import atomic_path, write_json
from peapod.logs import LOG_FILE_ONLY
from peapod.progress import Progress
from peapod.provenance import provenance

log = logging.getLogger(__name__)

EXPORTED = tuple(MODEL_FILES.values())  # the files an exported run keeps


def _write_log_csv(rows: list[dict[str, Any]], path: Path) -> None:
    columns = ["epoch"] + [f"train_loss_{t}" for t in TASKS] + [f"valid_loss_{t}" for t in TASKS] + [
        "valid_loss_mean", *CURVE_COLUMNS[:-1], "learning_rate", "improved", *CURVE_COLUMNS[-1:], "epoch_seconds",
        "elapsed_s"]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)


@dataclass
class TrainingState:
    """Where the loop stands and how the run has gone so far. ``last/state.json`` holds exactly these
    fields, under the same names and in this order (``to_dict``/``from_dict``), so a run
    checkpointed by any version that wrote this file resumes unchanged."""

    epoch: int = 0  # epochs completed
    step: int = 0  # batches done in the current epoch (where a resumed epoch continues)
    global_step: int = 0  # batches done in the whole run (drives checkpoint_every_steps)
    best_valid: float | None = None  # best mean validation loss so far
    best_epoch: int | None = None  # its 1-based epoch
    bad_epochs: int = 0  # epochs since the last improvement (early stopping)
    finished: bool = False
    stop_reason: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)  # train_log.csv, one row per epoch
    elapsed_s: float = 0.0  # training seconds over all sessions, as of the last checkpoint
    resumed: int = 0  # how many sessions resumed this run

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> TrainingState:
        unknown = set(saved) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"training state with unknown fields {sorted(unknown)}: written by another version")
        return cls(**saved)


@dataclass(frozen=True)
class LoopSettings:
    """How a session runs, as opposed to what it trains (the ``GeneratorConfig``): how often it
    checkpoints and logs, how its batches are built, and the scoring memory of its diagnostics.
    None of these changes a result."""

    checkpoint_seconds: float = 600.0  # mid-epoch state at least this often (and every epoch's end)
    checkpoint_every_steps: int = 0  # ... and every n steps (0: by time only)
    prefetch: int = 2  # batches built ahead in a background thread
    loader_workers: int = 0  # processes building training batches (Batches.iterate); 0: the thread alone
    log_every_batches: int = 200  # a progress line every n batches ...
    log_every_seconds: float = 60.0  # ... or every n seconds, whichever comes first
    tensorboard_every_steps: int = 0  # 0: no TensorBoard events; n: training scalars every n batches
    scoring_memory_mib: float = 4096  # working memory of exact top-n scoring (validation diagnostic)


class Clock:
    """Training time over all sessions: what the state recorded when this session began, plus
    this session's wall time."""

    def __init__(self, before: float):
        self.start_wall, self.start_elapsed = time.perf_counter(), before

    def elapsed(self) -> float:
        return self.start_elapsed + time.perf_counter() - self.start_wall


@dataclass
class Session:
    """One process's share of a run: the model and what trains it, and the loop state."""

    cfg: GeneratorConfig
    seed: int
    run_dir: Path
    dev: torch.device
    model: PeaPOD
    tokenizer: Any
    optimizer: torch.optim.Optimizer
    batches: Batches
    validation: Validation
    probe: Validation | None  # the learning curves' fixed users (None: curve_users is 0)
    state: TrainingState
    acc: torch.Tensor  # per-task (loss sum, batches) of the current epoch, on the device; checkpointed
    clock: Clock
    last_save: float = field(default_factory=time.perf_counter)  # when last/ was last written
    board: Board | None = None  # TensorBoard events (monitoring.tensorboard), None when off


def train_generator(
    cfg: GeneratorConfig,
    data: TaskData,
    templates: Templates,
    seed: int,
    run_dir: str | Path,
    collab: tuple[np.ndarray, np.ndarray] | None = None,
    cf_source: CollabSource | None = None,
    resources: str | Path = "resources",
    device: str | None = None,
    loop: LoopSettings = LoopSettings(),
    item_factors: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Train (or resume) one run in ``run_dir`` and export its best checkpoint; returns run.json.

    ``collab`` = (user embeddings (U+1, d), neighbour ids (U+1, n)) for the mha/mlp user prompt;
    ``cf_source`` says which files they came from (the checkpoints then refer to those files by
    path and hash instead of storing the tables). ``loop`` says how the session runs (see
    LoopSettings): mid-epoch state is saved every ``checkpoint_every_steps`` steps and/or
    ``checkpoint_seconds`` seconds, and always at the end of an epoch; a progress line (batches
    done / total, samples/s, mean training loss so far, ETA of the epoch) is logged every
    ``log_every_batches`` batches or ``log_every_seconds`` seconds, whichever comes first;
    ``tensorboard_every_steps`` > 0 writes TensorBoard events to ``run_dir/tensorboard``
    (peapod.generator.board). Once the run is exported, ``last/`` and ``best/`` are deleted, and
    ``cfg.validation_topn_scoring`` adds the exported model's top-n validation scores to run.json.
    ``item_factors`` = (item ids, CF item vectors) start the item tokens under ``item_init: cf``.
    """
    offline()
    run_dir = Path(run_dir)
    dev = pick_device(device)
    resume_from = resumable_state(run_dir / "last", cfg, cf_source)
    if resume_from is not None:
        model, tokenizer = resumed_model(cfg, resume_from, collab)
    else:
        model, tokenizer = fresh_model(cfg, data, templates, seed, collab, cf_source, resources, item_factors)
    session = open_session(cfg, data, templates, seed, run_dir, dev, model, tokenizer, resume_from)
    if loop.tensorboard_every_steps:
        session.board = Board(run_dir, loop.tensorboard_every_steps,
                              session.state.global_step if resume_from is not None else None)
    try:
        while not session.state.finished and session.state.epoch < cfg.epochs:
            epoch_start = time.perf_counter()
            train_epoch(session, loop)
            end_epoch(session, *validate(session), epoch_start)
            checkpoint(session)
    finally:
        if session.board is not None:
            session.board.close()

    summary = export_run(cfg, run_dir, seed, session.state, dev)
    # What the run learned: config.tasks less the tasks without training data (skipped, logged).
    summary["tasks_trained"] = list(session.batches.units)
    summary["parameters"] = parameter_counts(session.model)
    write_json(summary, run_dir / "run.json")
    if cfg.validation_topn_scoring and len(session.validation.topn_candidates):
        summary.update(validation_topn_diagnostic(run_dir, session.validation, dev, loop.scoring_memory_mib))
        write_json(summary, run_dir / "run.json")
    return summary


def parameter_counts(model: PeaPOD) -> dict[str, int]:
    """Trainable parameters: all, the backbone's, and the user prompt's (0 for POD), so that a
    comparison between variants can be read against their sizes."""
    count = lambda module: sum(p.numel() for p in module.parameters()) if module is not None else 0  # noqa: E731
    return {"total": count(model), "backbone": count(model.t5), "user_prompt": count(model.user_prompt)}


def resumable_state(last_dir: Path, cfg: GeneratorConfig, cf_source: CollabSource | None) -> Path | None:
    """The training-state directory to resume from (``last/`` or, after a kill mid-swap, its
    ``.old`` copy), or None to start fresh. A state written with other settings or CF inputs (the
    job reruns because they changed; settings outside the run's folder key, such as the contents of
    the CF files) is never resumed: the run starts afresh, saying so, and replaces it."""
    resume_from = existing_dir(last_dir)
    if resume_from is not None and not (resume_from / "state.json").exists():
        return None
    if resume_from is not None and not same_run(resume_from, cfg, cf_source):
        log.warning("%s was written with other settings or CF inputs: starting this run afresh (the stale state "
                    "is replaced)", resume_from)
        discard_training_state(last_dir.parent)
        return None
    return resume_from


def same_run(state_dir: Path, cfg: GeneratorConfig, cf_source: CollabSource | None) -> bool:
    """Whether the training state in ``state_dir`` was written with ``cfg`` and these CF inputs."""
    meta = json.loads((state_dir / "config.json").read_text())
    source = cf_source.to_dict() if cf_source is not None and cfg.user_prompt != "none" else None
    return meta["generator"] == cfg.to_dict() and meta.get("cf_source") == source


def discard_training_state(run_dir: Path) -> None:
    """Delete the run's resumable state (last/, best/ and their half-swapped copies)."""
    for name in ("last", "best"):
        for directory in (run_dir / name, run_dir / f"{name}.old", run_dir / f"{name}.tmp"):
            shutil.rmtree(directory, ignore_errors=True)


def resumed_model(cfg: GeneratorConfig, resume_from: Path, collab: tuple[np.ndarray, np.ndarray] | None):
    """(model of the saved shape, saved tokenizer); its weights are loaded with the training state.
    ``resume_from`` holds a state of these settings (resumable_state checked)."""
    from transformers import AutoTokenizer

    meta = json.loads((resume_from / "config.json").read_text())
    model = build_from_meta(meta, collab if cfg.user_prompt != "none" else None)
    tokenizer = AutoTokenizer.from_pretrained(str(resume_from), local_files_only=True)
    return model, tokenizer


def fresh_model(cfg: GeneratorConfig, data: TaskData, templates: Templates, seed: int,
                collab: tuple[np.ndarray, np.ndarray] | None, cf_source: CollabSource | None,
                resources: str | Path, item_factors: tuple[np.ndarray, np.ndarray] | None = None):
    """(model, tokenizer) initialised for ``seed``: the seed is set before any weight is drawn;
    under ``item_init: cf`` the item tokens then start from ``item_factors`` (ids, vectors)."""
    torch.manual_seed(seed)
    t5, tokenizer = load_backbone(cfg, data.tokenizer_corpus(templates) if cfg.backbone == "tiny" else None,
                                  resources, items=data.catalogue)
    if cfg.item_init == "cf":
        if item_factors is None:
            raise ValueError("item_init: cf needs the CF model's item factors (item_embeddings.parquet)")
        init_item_embeddings(t5.get_input_embeddings(), tokenizer, *item_factors)
    emb, nbr = collab if collab is not None and cfg.user_prompt != "none" else (None, None)
    model = PeaPOD(t5, cfg, emb, nbr)
    if emb is not None and cf_source is not None:
        model.cf_source = cf_source.to_dict()
    return model, tokenizer


def open_session(cfg: GeneratorConfig, data: TaskData, templates: Templates, seed: int, run_dir: Path,
                 dev: torch.device, model: PeaPOD, tokenizer, resume_from: Path | None) -> Session:
    """Optimizer, batches and fixed validation data for ``model``, and the loop state: fresh, or
    restored from ``resume_from`` (weights, optimizer, RNG, loop) after the batches are built."""
    model.to(dev)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay,
                                  fused=dev.type in ("cuda", "cpu") or None)
    batches = Batches(data, tokenizer, templates, cfg, seed, pad_multiple=8 if dev.type == "cuda" else 1,
                      pin_memory=dev.type == "cuda")
    if not batches.units:
        raise ValueError("no task has training data")
    validation = batches.validation()
    probe = Validation.build(batches, cfg.curve_users, ("sequential", "topn")) if cfg.curve_users else None
    skipped = [t for t in cfg.tasks if t not in batches.units]
    if skipped:
        log.warning("tasks without data, skipped: %s", skipped)
    warn_if_fewer_training_negatives(cfg, data)
    if resume_from is not None:
        state, acc = resume_training(resume_from, model, optimizer, dev)
    else:
        state, acc = TrainingState(), torch.zeros(2, len(TASKS), dtype=torch.float64, device=dev)
    n_params = sum(p.numel() for p in model.parameters())
    per_task = {t: batches.task_schedule().count(t) for t in batches.units}
    log.info("run %s: %s backbone, user prompt %s, %d trainable parameters, batches/epoch %d (per task %s), %s",
             run_dir, cfg.backbone, cfg.user_prompt, n_params, batches.epoch_length(), per_task, describe_precision(dev))
    return Session(cfg, seed, run_dir, dev, model, tokenizer, optimizer, batches, validation, probe, state, acc,
                   Clock(state.elapsed_s))


def warn_if_fewer_training_negatives(cfg: GeneratorConfig, data: TaskData) -> bool:
    """Warn (and return True) when top-n training prompts carry fewer candidates than validation and
    test prompts: then the whole-word rows and relative-position buckets of the longer evaluation
    prompts never receive a gradient."""
    if "topn" not in cfg.tasks or not data.valid_candidates:
        return False
    evaluated = max(len(negatives) for _, negatives in data.valid_candidates.values())
    if cfg.negatives >= evaluated:
        return False
    log.warning("top-n training prompts carry %d candidates (negatives: %d), evaluation prompts %d: positions "
                "and whole-word ids beyond the training prompts' are never trained; set generator.negatives: %d "
                "to train on prompts like the evaluation's", cfg.negatives + 1, cfg.negatives, evaluated + 1,
                evaluated, extra=LOG_FILE_ONLY)  # the terminal had it once, at load (peapod.study.setting_warnings)
    return True


def resume_training(resume_from: Path, model: PeaPOD, optimizer: torch.optim.Optimizer, dev: torch.device
                    ) -> tuple[TrainingState, torch.Tensor]:
    """Load weights, optimizer state and RNG from ``resume_from``; (loop state, epoch accumulator)."""
    saved, extra = load_training_state(resume_from, model, optimizer, dev)
    acc = extra["acc"].to(dev)
    state = TrainingState.from_dict(saved)
    state.resumed += 1
    log.info("resumed from %s at epoch %d, step %d", resume_from, state.epoch, state.step)
    return state, acc


def train_epoch(s: Session, loop: LoopSettings) -> None:
    """The rest of the current epoch (from ``state.step``), with progress lines and mid-epoch
    checkpoints when due."""
    state = s.state
    s.model.train()
    progress = Progress(log, f"epoch {state.epoch + 1}/{s.cfg.epochs}", s.batches.epoch_length() - state.step,
                        "batches", loop.log_every_batches, loop.log_every_seconds, rate_unit="samples")
    epoch_loss = torch.zeros((), dtype=torch.float64, device=s.dev)  # this session's loss sum (progress)
    for k, batch in s.batches.iterate(state.epoch, start=state.step, prefetch=loop.prefetch,
                                      workers=loop.loader_workers):
        loss = train_step(s, batch)
        state.step, state.global_step = k + 1, state.global_step + 1
        if s.board is not None:
            task = int(batch["task_ids"][0]) if s.cfg.batching == "task" else None
            s.board.batch(task, loss, len(batch["user_ids"]), state.global_step,
                          float(s.optimizer.param_groups[0]["lr"]))
        epoch_loss += loss.detach().double()
        if progress.due(1):  # the loss is read (a device sync) only when a line is logged
            progress.update(1, len(batch["user_ids"]), loss=float(epoch_loss) / progress.done_after(1))
        else:
            progress.update(1, len(batch["user_ids"]))
        if checkpoint_due(s, loop):
            checkpoint(s)


def train_step(s: Session, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """One AdamW step on ``batch``, its loss added to the epoch's per-task sums; returns the loss."""
    task = int(batch["task_ids"][0]) if s.cfg.batching == "task" else None  # read on the CPU copy
    batch = to_device(batch, s.dev)
    if s.cfg.warmup_steps or s.cfg.lr_decay != "constant":
        factor = learning_rate_factor(s.cfg, s.state.global_step, s.cfg.epochs * s.batches.epoch_length())
        for group in s.optimizer.param_groups:
            group["lr"] = s.cfg.learning_rate * factor
    with autocast(s.dev):
        loss = s.model.training_loss(batch)
    s.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if s.cfg.clip_norm > 0:
        torch.nn.utils.clip_grad_norm_(s.model.parameters(), s.cfg.clip_norm)
    s.optimizer.step()
    if task is not None:
        s.acc[0, task] += loss.detach().double()
        s.acc[1, task] += 1
    return loss


def checkpoint_due(s: Session, loop: LoopSettings) -> bool:
    due_steps = loop.checkpoint_every_steps and s.state.global_step % loop.checkpoint_every_steps == 0
    due_time = loop.checkpoint_seconds and time.perf_counter() - s.last_save > loop.checkpoint_seconds
    return bool(due_steps or due_time)


def checkpoint(s: Session) -> None:
    """Save the resumable state to ``last/`` (the elapsed time first, so it survives a kill)."""
    s.state.elapsed_s = s.clock.elapsed()
    save_training_state(s.run_dir / "last", s.model, s.tokenizer, s.optimizer, s.state.to_dict(),
                        {"acc": s.acc})
    s.last_save = time.perf_counter()


def validate(s: Session) -> tuple[dict[str, float], dict[str, float]]:
    """(validation loss per task on the fixed validation batches, the learning curves' point)."""
    valid_start = time.perf_counter()
    valid = validation_losses(s.model, s.validation, s.dev)
    log.info("epoch %d: validation loss on %s prompts in %.1fs", s.state.epoch + 1,
             {t: sum(len(b["user_ids"]) for b in bs) for t, bs in s.validation.batches.items()},
             time.perf_counter() - valid_start)
    curve = {}
    if s.probe is not None:
        try:
            curve = learning_check(s.model, s.probe, s.tokenizer, s.batches.catalogue, s.cfg.curve_beams, s.dev)
        except torch.OutOfMemoryError as error:  # a learning check never costs the run
            log.warning("learning check ran out of memory (lower generator.curve_users): %s", error)
        log.info("epoch %d: learning check on %d users: %s", s.state.epoch + 1, s.cfg.curve_users, curve)
    return valid, curve


def end_epoch(s: Session, valid: dict[str, float], curve: dict[str, float], epoch_start: float) -> None:
    """Log the epoch's row, keep the best checkpoint, decide whether to stop, and move the state to
    the start of the next epoch (the caller then checkpoints)."""
    state, cfg, epoch = s.state, s.cfg, s.state.epoch
    mean = float(np.mean(list(valid.values())))
    improved = state.best_valid is None or mean < state.best_valid
    row = epoch_row(epoch, s.acc, valid, mean, improved, time.perf_counter() - epoch_start, s.clock.elapsed())
    row.update(curve)
    row["learning_rate"] = float(s.optimizer.param_groups[0]["lr"])  # the last batch's
    state.rows.append(row)
    log.info("epoch %d: %s", epoch + 1, row)
    if s.board is not None:
        s.board.epoch(row, state.global_step, row["learning_rate"])
    if improved:
        state.best_valid, state.best_epoch, state.bad_epochs = mean, epoch + 1, 0
        save_model_dir(s.run_dir / "best", s.model, s.tokenizer, {"epoch": epoch + 1, "valid_loss": valid,
                                                                   "seed": s.seed,
                                                                   "tasks_trained": list(s.batches.units)})
    else:
        state.bad_epochs += 1
        if state.bad_epochs >= cfg.patience:
            state.finished, state.stop_reason = True, f"early stop: {cfg.patience} epochs without improvement"
    state.epoch, state.step = epoch + 1, 0
    s.acc.zero_()
    if state.epoch >= cfg.epochs and not state.finished:
        state.finished, state.stop_reason = True, f"reached {cfg.epochs} epochs"


def epoch_row(epoch: int, acc: torch.Tensor, valid: dict[str, float], mean: float, improved: bool,
              epoch_seconds: float, elapsed: float) -> dict[str, Any]:
    """One train_log.csv row (also the epoch's log line): mean training loss per task, validation
    losses, and times."""
    train_means = (acc[0] / acc[1].clamp_min(1)).tolist()
    row = {"epoch": epoch + 1, "valid_loss_mean": round(mean, 6), "improved": int(improved),
           "epoch_seconds": round(epoch_seconds, 3), "elapsed_s": round(elapsed, 3)}
    for t, name in enumerate(TASKS):
        if acc[1, t] > 0:
            row[f"train_loss_{name}"] = round(train_means[t], 6)
        if name in valid:
            row[f"valid_loss_{name}"] = round(valid[name], 6)
    return row


def export_run(cfg: GeneratorConfig, run_dir: Path, seed: int, state: TrainingState, dev: torch.device
               ) -> dict[str, Any]:
    """Copy the best checkpoint to the run directory, write train_log.csv and run.json, then delete
    the training state (``last/``, ``best/``): evaluation needs only the exported files."""
    best = existing_dir(run_dir / "best")
    made_by = provenance()
    summary: dict[str, Any] = {
        "seed": seed, "config": cfg.to_dict(), "versions": made_by["packages"], "provenance": made_by, "device": str(dev),
        "precision": describe_precision(dev),
        "best_epoch": state.best_epoch, "best_valid_loss": state.best_valid, "epochs_run": len(state.rows),
        "stop_reason": state.stop_reason, "resumed": state.resumed,
        "train_seconds": round(state.elapsed_s, 3),
    }
    for name in sorted(p.name for p in best.iterdir()):
        with atomic_path(run_dir / name) as tmp:
            shutil.copyfile(best / name, tmp)
    _write_log_csv(state.rows, run_dir / "train_log.csv")
    write_json(summary, run_dir / "run.json")
    discard_training_state(run_dir)
    return summary


def load_item_factors(cfg: GeneratorConfig, item_embeddings: str | Path | None
                      ) -> tuple[np.ndarray, np.ndarray] | None:
    """(item ids, CF item vectors) for ``item_init: cf`` from the embeddings stage's
    item_embeddings.parquet; None otherwise."""
    if cfg.item_init != "cf":
        return None
    if item_embeddings is None:
        raise ValueError("item_init: cf needs the CF stage's item_embeddings.parquet")
    return read_item_embeddings(item_embeddings)


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
