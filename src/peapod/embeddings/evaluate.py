"""A CF model's own top-n metrics under the paper's 99-negative candidate protocol.

For each user, the held-out target is ranked among target + negatives by the model's score (the
dot product of user and item vectors; PMF, BiVAE and LightGCN all rank by a monotone function of
it). Ties are counted pessimistically: rank = number of negatives scoring >= the target, so a
model that scores everything equal gets rank K, never a lucky hit. Ranks and metrics come from
peapod.metrics (keys hr@k, ndcg@k at the paper's top-n cut-offs). The embedding stage keeps each
user's rank beside the means, so that the tables can show the row on the runs' own users.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from peapod.metrics import RANKING_KS, mean_ranking_metrics, ranks_from_score_matrix


def candidate_arrays(candidates: pa.Table, split: str = "test") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user ids (U,), targets (U,), negatives (U, K)) of one split of a candidates table."""
    rows = candidates.filter(pc.equal(candidates["split"], split))
    users = rows["user_id"].to_numpy().astype(np.int64)
    targets = rows["target"].to_numpy().astype(np.int64)
    negatives_list = rows["negatives"].combine_chunks()
    lengths = pc.list_value_length(negatives_list).to_numpy()
    if len(lengths) and (lengths != lengths[0]).any():
        raise ValueError("candidate lists have different lengths")
    k = int(lengths[0]) if len(lengths) else 0
    negatives = negatives_list.flatten().to_numpy().astype(np.int64).reshape(len(users), k)
    return users, targets, negatives


def target_ranks(
    user_vectors: np.ndarray,
    user_ids: np.ndarray,
    item_vectors: np.ndarray,
    item_ids: np.ndarray,
    users: np.ndarray,
    targets: np.ndarray,
    negatives: np.ndarray,
) -> np.ndarray:
    """0-based pessimistic rank of each target among its candidates (in chunks of users, so the
    (users, K, d) gather stays small)."""
    ranks = np.empty(len(users), dtype=np.int64)
    chunk = 1024
    for start in range(0, len(users), chunk):
        sl = slice(start, start + chunk)
        u = user_vectors[np.searchsorted(user_ids, users[sl])]  # (B, d)
        t = item_vectors[np.searchsorted(item_ids, targets[sl])]  # (B, d)
        n = item_vectors[np.searchsorted(item_ids, negatives[sl])]  # (B, K, d)
        target_score = np.einsum("bd,bd->b", u, t)
        negative_scores = np.einsum("bd,bkd->bk", u, n)
        scores = np.concatenate([target_score[:, None], negative_scores], axis=1)  # target in column 0
        ranks[sl] = ranks_from_score_matrix(scores, np.zeros(len(scores), dtype=np.int64), ties="pessimistic")
    return ranks


def candidate_ranks(
    user_vectors: np.ndarray,
    user_ids: np.ndarray,
    item_vectors: np.ndarray,
    item_ids: np.ndarray,
    candidates: pa.Table,
    split: str = "test",
) -> tuple[np.ndarray, np.ndarray, int]:
    """(users (U,), each one's 0-based pessimistic target rank (U,), candidates per user) of one
    split; stops naming a user or item of the candidates that has no vector."""
    users, targets, negatives = candidate_arrays(candidates, split)
    for name, ids, known in (("user", users, user_ids), ("item", np.concatenate([targets, negatives.ravel()]), item_ids)):
        missing = np.setdiff1d(ids, known)
        if len(missing):
            raise ValueError(f"candidates name {len(missing)} {name}s without a vector (e.g. {int(missing[0])})")
    ranks = target_ranks(user_vectors, user_ids, item_vectors, item_ids, users, targets, negatives)
    return users, ranks, int(negatives.shape[1] + 1)


def topn_metrics(
    user_vectors: np.ndarray,
    user_ids: np.ndarray,
    item_vectors: np.ndarray,
    item_ids: np.ndarray,
    candidates: pa.Table,
    split: str = "test",
) -> dict[str, float]:
    _, ranks, n_candidates = candidate_ranks(user_vectors, user_ids, item_vectors, item_ids, candidates, split)
    return metrics_of_ranks(ranks, n_candidates)


def metrics_of_ranks(ranks: np.ndarray, n_candidates: int) -> dict[str, float]:
    """The top-n HR/NDCG of these ranks, with the number of users and of candidates per user."""
    metrics = mean_ranking_metrics(ranks, RANKING_KS["topn"]["hr"], RANKING_KS["topn"]["ndcg"])
    return metrics | {"users": int(len(ranks)), "candidates": int(n_candidates)}
