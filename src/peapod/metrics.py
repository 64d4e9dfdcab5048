"""Ranking metrics of one ground-truth item per user: the one home of HR@k / NDCG@k in the project.

A rank is 0-based (0 = first place); ``None`` means the truth is not in the returned list.
HR@k = 1 if rank < k; NDCG@k = 1 / log2(rank + 2) if rank < k (one relevant item, so IDCG = 1).
Keys are lower-case everywhere: ``hr@k``, ``ndcg@k``.

Per user: ``rank_in_list``, ``rank_from_scores``, ``ranking_metrics``, ``task_ranking_metrics``.
Vectorised over users: ``ranks_from_score_matrix`` (a (U, C) score matrix to U ranks) and
``mean_ranking_metrics`` (ranks to the metrics averaged over users).
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

# The cut-offs the paper reports: HR@k for ``hr``, NDCG@k for ``ndcg`` (NDCG@1 would equal HR@1).
RANKING_KS = {"sequential": {"hr": (5, 10), "ndcg": (5, 10)}, "topn": {"hr": (1, 5, 10), "ndcg": (5, 10)}}
# What beam search returned, per user, beside the ranking metrics of a beam method (means over the
# top_k returned sequences; peapod.generator.decoding computes them): finished with EOS, spell an
# id, are catalogue items, are among the prompt's candidates (top-n), and the first one is.
BEAM_DIAGNOSTICS = ("share_finished", "share_ids", "share_catalogue", "share_candidates", "top1_in_candidates")
# How ``ranks_from_score_matrix`` places candidates that tie with the truth (see there).
TIE_POLICIES = ("pessimistic", "half")


def rank_in_list(ranked: Sequence[int], truth: int) -> int | None:
    """Position of ``truth`` in a ranked list (first occurrence), or None when it is absent."""
    for position, item in enumerate(ranked):
        if item == truth:
            return position
    return None


def rank_from_scores(scores: Sequence[float], truth_index: int) -> int:
    """Rank of candidate ``truth_index`` when candidates are sorted by descending score.

    Ties are broken against the truth (pessimistic): every other candidate with an equal score is
    placed ahead of it, so a model that scores everything alike earns no credit.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")
    truth_score = scores[truth_index]
    ahead = np.sum(scores > truth_score) + np.sum(scores == truth_score) - 1
    return int(ahead)


def hit_at(rank: int | None, k: int) -> float:
    return 1.0 if rank is not None and rank < k else 0.0


def ndcg_at(rank: int | None, k: int) -> float:
    return 1.0 / math.log2(rank + 2) if rank is not None and rank < k else 0.0


def ranking_metrics(rank: int | None, ks: Iterable[int], ndcg_ks: Iterable[int] | None = None) -> dict[str, float]:
    """{"hr@k": ..., "ndcg@k": ...} for one user; NDCG at ``ndcg_ks`` (default: the same ks)."""
    out: dict[str, float] = {}
    for k in ks:
        out[f"hr@{k}"] = hit_at(rank, k)
    for k in ks if ndcg_ks is None else ndcg_ks:
        out[f"ndcg@{k}"] = ndcg_at(rank, k)
    return out


def task_ranking_metrics(rank: int | None, task: str) -> dict[str, float]:
    """The metrics the paper reports for ``task`` (sequential or topn)."""
    return ranking_metrics(rank, RANKING_KS[task]["hr"], RANKING_KS[task]["ndcg"])


def ranks_from_score_matrix(
    scores: np.ndarray, target_index: np.ndarray, ties: str = "pessimistic"
) -> np.ndarray:
    """Rank of each user's true candidate: ``scores`` (U, C), higher is better; ``target_index``
    (U,) is the column of the truth in each row. Returns U 0-based ranks.

    ``ties="pessimistic"`` (int64 ranks): every other candidate with the truth's score is placed
    ahead of it, as in ``rank_from_scores`` (the policy of every reported number).
    ``ties="half"`` (float64 ranks): each such candidate counts half (the mid-rank of the tied group).
    """
    if ties not in TIE_POLICIES:
        raise ValueError(f"ties must be one of {TIE_POLICIES}, not {ties!r}")
    scores = np.asarray(scores, dtype=np.float64)
    target_index = np.asarray(target_index)
    if scores.ndim != 2 or target_index.shape != scores.shape[:1]:
        raise ValueError(f"need scores (U, C), target_index (U,); got {scores.shape}, {target_index.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")
    truth = scores[np.arange(len(scores)), target_index][:, None]
    ahead = (scores > truth).sum(axis=1)
    tied = (scores == truth).sum(axis=1) - 1  # the truth itself is not a tie
    if ties == "half":
        return ahead + 0.5 * tied
    return (ahead + tied).astype(np.int64)


def mean_ranking_metrics(
    ranks: Sequence[float | None] | np.ndarray, ks: Iterable[int], ndcg_ks: Iterable[int] | None = None
) -> dict[str, float]:
    """``ranking_metrics`` averaged over users, vectorised. ``ranks``: a sequence of ranks with
    ``None`` for a miss, or an array of ranks (integer, or fractional as from ``ties="half"``)."""
    ks = tuple(ks)
    if len(ranks) == 0:
        raise ValueError("no users to average over")
    if isinstance(ranks, np.ndarray) and ranks.dtype != object:
        ranks = ranks.astype(np.float64)
    else:
        ranks = np.array([math.inf if r is None else r for r in ranks], dtype=np.float64)
    out: dict[str, float] = {}
    for k in ks:
        out[f"hr@{k}"] = float(np.mean(ranks < k))
    for k in ks if ndcg_ks is None else ndcg_ks:
        out[f"ndcg@{k}"] = float(np.mean(np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)))
    return out


def random_ranking_metrics(
    n_candidates: int, ks: Iterable[int], ndcg_ks: Iterable[int] | None = None
) -> dict[str, float]:
    """The expected metrics of a random ranking of ``n_candidates`` (the truth equally likely at
    every rank), e.g. hr@k = k / n_candidates for k <= n_candidates."""
    if n_candidates < 1:
        raise ValueError("need at least one candidate")
    return mean_ranking_metrics(np.arange(n_candidates), ks, ndcg_ks)
