"""What a generator run is validated by, apart from the training loop (peapod.generator.train):
the per-epoch validation loss on fixed data, exact top-n scoring of the validation candidates, the
learning curves' check on a fixed user sample (train_log.csv's ``CURVE_COLUMNS``), and the exported
model's top-n diagnostic in run.json."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from peapod.generator.config import CURVE_TOP_K
from peapod.generator.data import Validation
from peapod.generator.decoding import beam_diagnostics, beam_lists, lookup_table
from peapod.generator.model import PeaPOD
from peapod.generator.runtime import autocast, to_device
from peapod.metrics import mean_ranking_metrics, random_ranking_metrics, rank_in_list, ranks_from_score_matrix

log = logging.getLogger(__name__)


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
                log_probs, labels = model.token_log_probs(batch)
            keep = labels != -100
            total -= log_probs.masked_fill(~keep, 0.0).sum()
            count += keep.sum()
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


# The learning curves' columns of train_log.csv (see learning_check).
CURVE_COLUMNS = ("valid_hr10_sequential_beam", "valid_hr10_topn_beam", "valid_hr10_topn_scoring",
                 "valid_topn_beam_in_candidates", "curve_seconds")


@torch.no_grad()
def learning_check(model: PeaPOD, probe: Validation, tokenizer, catalogue: np.ndarray, beams: int,
                   device: torch.device, memory_mib: float = 4096) -> dict[str, float]:
    """Validation HR@10 on the probe's fixed users, read as the evaluation reads it: sequential
    and top-n by free beam search (``beams`` wide, the 10 best returned sequences; misses keep
    their place) and top-n by exact scoring (ties against the target), plus the share of top-n
    beams inside the prompt's candidates. Cheap enough to run every epoch on a small sample."""
    start = time.perf_counter()
    model.eval()
    in_catalogue = lookup_table(catalogue)
    max_new = probe.item_labels.shape[1]
    out: dict[str, float] = {}
    for task in ("sequential", "topn"):
        if task not in probe.batches:
            continue
        ranks, inside = [], []
        offset = 0
        for batch in probe.batches[task]:
            with autocast(device):
                lists = beam_lists(model, to_device(batch, device), tokenizer, beams, CURVE_TOP_K, max_new,
                                   item_tokens=model.cfg.item_tokens)
            n = len(lists.ids)
            targets = probe.targets[task][offset : offset + n]
            ranks += [rank_in_list(r, int(t)) for r, t in zip(lists.ranked(in_catalogue), targets)]
            if task == "topn":
                cands = list(probe.topn_candidates[offset : offset + n])
                inside.append(beam_diagnostics(lists, in_catalogue, cands)["share_candidates"])
            offset += n
        out[f"valid_hr10_{task}_beam"] = mean_ranking_metrics(ranks, (CURVE_TOP_K,))[f"hr@{CURVE_TOP_K}"]
        if task == "topn":
            out["valid_topn_beam_in_candidates"] = float(np.concatenate(inside).mean())
            ranks = ranks_from_score_matrix(score_topn(model, probe, device, memory_mib), probe.topn_target_index)
            out["valid_hr10_topn_scoring"] = mean_ranking_metrics(ranks, (CURVE_TOP_K,))[f"hr@{CURVE_TOP_K}"]
    out["curve_seconds"] = time.perf_counter() - start
    return {k: round(v, 6) for k, v in out.items()}


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
