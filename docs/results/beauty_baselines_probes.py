"""Protocol probes for docs/results/beauty-baselines.md, read from the data stage's tables: how much
the model-free rows move with the two protocol choices that the reported baseline rows leave open.

  history exclusion   sequential most-popular over the whole catalogue, with the user's earlier
                      items removed from the ranking (the S3-Rec line's full ranking, our default
                      for the trained baselines) and without (RecBole's own evaluation, beam search)
  candidate sampling  top-n most-popular and the id-order probe on our candidates (99 negatives
                      drawn uniformly from the items the user never rated) and on 99 negatives drawn
                      in proportion to the items' training counts (the other common protocol)

    python docs/results/beauty_baselines_probes.py [results/beauty/data]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from peapod.aggregate.baselines import popularity_sequential, training_counts
from peapod.baselines import id_order
from peapod.embeddings.evaluate import candidate_arrays
from peapod.metrics import RANKING_KS, mean_ranking_metrics, ranks_from_score_matrix

SHOWN = ["hr@5", "ndcg@5", "hr@10", "ndcg@10"]


def popularity_ranks_without_history(counts: pd.Series, sequences: pd.DataFrame) -> np.ndarray:
    """0-based rank of each user's test item in the catalogue ordered by training count (ties
    against the target), the user's earlier items not ranked (peapod.aggregate.baselines'
    popularity_sequential ranks them)."""
    items = counts.index.to_numpy()
    column = pd.Series(np.arange(len(items)), index=items)
    scores = counts.to_numpy().astype(np.float64)
    ordered = sequences.sort_values(["user_id", "position"], kind="stable")
    ranks = []
    for _, user in ordered.groupby("user_id", sort=True):
        history, target = user["item_id"].to_numpy()[:-1], int(user["item_id"].to_numpy()[-1])  # test: the last item
        score = scores[column[target]]
        ahead = int((scores >= score).sum()) - 1  # every other item with at least the target's count
        earlier = np.unique(history[history != target])
        ranks.append(ahead - int((scores[column[earlier].to_numpy()] >= score).sum()))
    return np.asarray(ranks, dtype=np.int64)


def popularity_negatives(counts: pd.Series, sequences: pd.DataFrame, users: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` negatives per user drawn without replacement in proportion to training count (+1),
    never an item the user rated."""
    rng = np.random.default_rng(seed)
    items = counts.index.to_numpy()
    weights = (counts.to_numpy() + 1.0) / (counts.to_numpy() + 1.0).sum()
    rated = sequences.groupby("user_id")["item_id"].agg(set)
    out = np.empty((len(users), n), dtype=np.int64)
    for row, user in enumerate(users):
        seen, chosen = rated[user], []
        while len(chosen) < n:
            for item in rng.choice(items, size=2 * n, p=weights):
                if item not in seen and item not in chosen:
                    chosen.append(int(item))
                    if len(chosen) == n:
                        break
        out[row] = chosen
    return out


def main() -> None:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else "results/beauty/data")
    sequences = pd.read_parquet(data / "sequences.parquet")
    candidates = pq.read_table(data / "candidates.parquet")
    counts = training_counts(sequences)
    seq_ks = RANKING_KS["sequential"]
    excluded = popularity_ranks_without_history(counts, sequences)
    rows = [{"task": "sequential", "row": "most popular", "protocol": "history excluded",
             **mean_ranking_metrics(excluded, seq_ks["hr"], seq_ks["ndcg"])},
            {"task": "sequential", "row": "most popular", "protocol": "history ranked",
             **popularity_sequential(counts, sequences, "test")}]
    users, targets, negatives = candidate_arrays(candidates, "test")
    sampled = popularity_negatives(counts, sequences, users, negatives.shape[1], seed=2022)
    topn_ks = RANKING_KS["topn"]
    for name, negs in (("uniform negatives (ours)", negatives), ("popularity-sampled negatives", sampled)):
        rows.append({"task": "topn", "row": "most popular", "protocol": name,
                     **mean_ranking_metrics(popularity_ranks(counts, targets, negs), topn_ks["hr"], topn_ks["ndcg"])})
        rows.append({"task": "topn", "row": "id order", "protocol": name,
                     **id_order.topn_metrics(sequences, users, targets, negs)})
    frame = pd.DataFrame(rows)
    print(frame[["task", "row", "protocol", *SHOWN]].to_markdown(index=False, floatfmt=".4f"))


def popularity_ranks(counts: pd.Series, targets: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """Rank of each target among target + negatives by training count (ties against the target)."""
    scores = counts.reindex(np.concatenate([targets[:, None], negatives], axis=1).ravel(), fill_value=0)
    scores = scores.to_numpy().astype(np.float64).reshape(len(targets), -1)
    return ranks_from_score_matrix(scores, np.zeros(len(targets), dtype=np.int64))


if __name__ == "__main__":
    main()
