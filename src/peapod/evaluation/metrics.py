"""Ranking metrics of one ground-truth item per user.

A rank is 0-based (0 = first place); ``None`` means the truth is not in the returned list.
HR@k = 1 if rank < k; NDCG@k = 1 / log2(rank + 2) if rank < k (one relevant item, so IDCG = 1).
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

# The cut-offs the paper reports: HR@k for ``hr``, NDCG@k for ``ndcg`` (NDCG@1 would equal HR@1).
RANKING_KS = {"sequential": {"hr": (5, 10), "ndcg": (5, 10)}, "topn": {"hr": (1, 5, 10), "ndcg": (5, 10)}}


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


def mean_ranking_metrics(ranks: Sequence[int | None], ks: Iterable[int]) -> dict[str, float]:
    ks = tuple(ks)
    if not ranks:
        raise ValueError("no users to average over")
    rows = [ranking_metrics(r, ks) for r in ranks]
    return {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}
