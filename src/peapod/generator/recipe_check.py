"""Does a recipe learn the user and the sequence? The measurements issue 38's ladder reads, on the
validation split (the test split is read only by the final study):

- ``prompt_signal``: top-n exact scoring of each user's 100 candidates under the user's own prompt
  and under the next user's prompt (the prompt-blind control), paired over the same users: the
  per-user NDCG@10 difference and a one-sided paired t-test;
- ``most_popular_on``: most popular on exactly those users (top-n: the candidates ranked by training
  count; sequential: the catalogue ranked by training count), so every number reads against it;
- ``train_for``: a run of the workflow's own session and step for a budget of samples.

``benchmarks/probe_generator_recipe.py`` prints them for any config and overrides; the slow
real-Beauty test holds the shipped recipe to the first.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from scipy import stats

from peapod.generator.config import TASKS
from peapod.generator.data import TaskData, Validation
from peapod.generator.train import Session, score_topn, train_step
from peapod.metrics import ranks_from_score_matrix
from peapod.splits import training_items

K = 10  # HR@10 / NDCG@10, the ladder's cut-off


def per_user_at_k(ranks: np.ndarray, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """(hit@k, NDCG@k) per user from 0-based ranks."""
    ranks = np.asarray(ranks, np.float64)
    hit = ranks < k
    return hit.astype(np.float64), np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0)


def prompt_signal(model, own: Validation, blind: Validation, device: torch.device,
                  memory_mib: float = 4096) -> dict[str, float]:
    """Exact top-n scoring against its prompt-blind control (``Validation.build(..., blind=True)``
    over the same users), paired over users. Ties count against the target, as in every reported
    number."""
    if not np.array_equal(own.topn_candidates, blind.topn_candidates):
        raise ValueError("the blind control must hold the same users' candidates in the same order")
    ranks = ranks_from_score_matrix(score_topn(model, own, device, memory_mib), own.topn_target_index)
    blind_ranks = ranks_from_score_matrix(score_topn(model, blind, device, memory_mib), blind.topn_target_index)
    (hit, ndcg), (hit_b, ndcg_b) = per_user_at_k(ranks), per_user_at_k(blind_ranks)
    diff = ndcg - ndcg_b
    p = stats.ttest_rel(ndcg, ndcg_b, alternative="greater").pvalue if diff.any() else 1.0
    return {"topn_hr10_scoring": float(hit.mean()), "topn_ndcg10_scoring": float(ndcg.mean()),
            "topn_hr10_blind": float(hit_b.mean()), "topn_ndcg10_blind": float(ndcg_b.mean()),
            "ndcg10_minus_blind": float(diff.mean()), "hr10_minus_blind": float((hit - hit_b).mean()),
            "p_one_sided": float(p)}


def training_counts(data: TaskData) -> np.ndarray:
    """Interactions per item id over every user's training items (the validation and test items
    withheld), indexed by item id."""
    counts = np.zeros(int(data.catalogue.max()) + 1, np.int64)
    for items in data.sequences.values():
        np.add.at(counts, np.asarray(training_items(items), np.int64), 1)
    return counts


def most_popular_on(data: TaskData, users: Validation) -> dict[str, float]:
    """Most popular's HR@10 / NDCG@10 on the users of ``users`` (pessimistic ties): top-n ranks each
    user's validation candidates, sequential the whole catalogue, by training count."""
    counts = training_counts(data)
    out = {}
    if len(users.topn_candidates):
        ranks = ranks_from_score_matrix(counts[users.topn_candidates].astype(np.float64), users.topn_target_index)
        hit, ndcg = per_user_at_k(ranks)
        out.update(topn_hr10=float(hit.mean()), topn_ndcg10=float(ndcg.mean()))
    targets = users.targets.get("sequential", np.zeros(0, np.int64))
    if len(targets):
        ordered = np.sort(counts[data.catalogue])
        ranks = len(ordered) - np.searchsorted(ordered, counts[targets], side="left") - 1
        hit, ndcg = per_user_at_k(ranks)
        out.update(sequential_hr10=float(hit.mean()), sequential_ndcg10=float(ndcg.mean()))
    return out


def train_for(session: Session, samples: int, every: int = 0,
              on_point: Callable[[int, dict[str, list[float]]], None] | None = None) -> int:
    """Train ``session`` by the workflow's own step until ``samples`` training samples have been
    seen (the schedule is the session's: its epochs set the learning-rate decay). Every ``every``
    samples, ``on_point(samples so far, training losses per task since the last point)``. Returns
    the samples seen."""
    seen, next_point, epoch = 0, every, 0
    window: dict[str, list[float]] = {}
    while seen < samples:
        for _, batch in session.batches.iterate(epoch, start=0, prefetch=2):
            loss = train_step(session, batch)
            window.setdefault(TASKS[int(batch["task_ids"][0])], []).append(float(loss.detach()))
            session.state.global_step += 1  # the learning-rate schedule reads it (as train_epoch does)
            seen += len(batch["user_ids"])
            if every and on_point is not None and seen >= next_point:
                on_point(seen, window)
                window = {}
                next_point += every
            if seen >= samples:
                break
        epoch += 1
    return seen
