"""Model-free probes of P5's id-order leak: items are numbered by first appearance while walking the
users' sequences, so a user's next item often has the next id (P5 pull request 3).

  sequential  the catalogue ranked "last item's id + 1, + 2, ...": every catalogue item with an id
              above the last item of the history before the target, nearest first; every other
              item ties below them (ties count against the target, so a target at or below the
              last id is ranked last). History items are not removed.
  topn        the 100 candidates ranked by |id - id of the user's last training item| (the last item
              of role train: what a top-n model trains on), nearest first; ties against the target.

Ranks and metrics come from peapod.metrics, so the probe's numbers sit beside the trained baselines'.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from peapod.metrics import RANKING_KS, mean_ranking_metrics, ranks_from_score_matrix
from peapod.splits import held_out_offset

MODEL = "id_order"


def previous_items(sequences: pd.DataFrame, split: str) -> pd.DataFrame:
    """Per user (sorted): the ``split`` target and the item just before it (the history's last)."""
    offset = held_out_offset(split)
    frame = sequences[["user_id", "position", "item_id"]]
    from_end = frame.groupby("user_id")["position"].transform("max") + 1 - frame["position"]  # last item: 1
    target = frame[from_end == offset].set_index("user_id")["item_id"].rename("target")
    previous = frame[from_end == offset + 1].set_index("user_id")["item_id"].rename("previous")
    out = pd.concat([target, previous], axis=1, join="inner").sort_index()
    return out.reset_index().astype(np.int64)


def last_training_items(sequences: pd.DataFrame) -> pd.Series:
    """{user id: the last item of role train} (sorted by user)."""
    train = sequences[sequences["role"] == "train"].sort_values(["user_id", "position"], kind="stable")
    return train.groupby("user_id", sort=True)["item_id"].last()


def sequential_ranks(sequences: pd.DataFrame, split: str) -> pd.DataFrame:
    """user_id, target, rank (0-based over the whole catalogue) of the "+1, +2, ..." ranking."""
    frame = previous_items(sequences, split)
    catalogue = np.sort(sequences["item_id"].unique())
    above_previous = np.searchsorted(catalogue, frame["previous"].to_numpy(), side="right")
    target_position = np.searchsorted(catalogue, frame["target"].to_numpy(), side="left")
    hit = frame["target"].to_numpy() > frame["previous"].to_numpy()
    # a target above the last id: the catalogue items strictly between them are ahead of it;
    # otherwise every other item is ahead or tied (pessimistic)
    ranks = np.where(hit, target_position - above_previous, len(catalogue) - 1)
    return frame[["user_id", "target"]].assign(rank=ranks.astype(np.int64))


def topn_ranks(sequences: pd.DataFrame, users: np.ndarray, targets: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """Rank of each target among target + negatives by id distance to the last training item."""
    last = last_training_items(sequences).reindex(users).to_numpy()
    if np.isnan(last.astype(np.float64)).any():
        raise ValueError("a user of the candidates has no training item")
    candidates = np.concatenate([targets[:, None], negatives], axis=1)  # (U, 1 + K), target in column 0
    scores = -np.abs(candidates - last[:, None]).astype(np.float64)
    return ranks_from_score_matrix(scores, np.zeros(len(scores), dtype=np.int64))


def sequential_metrics(sequences: pd.DataFrame, split: str) -> dict[str, float]:
    ks = RANKING_KS["sequential"]
    return mean_ranking_metrics(sequential_ranks(sequences, split)["rank"].to_numpy(), ks["hr"], ks["ndcg"])


def topn_metrics(sequences: pd.DataFrame, users: np.ndarray, targets: np.ndarray, negatives: np.ndarray) -> dict[str, float]:
    ks = RANKING_KS["topn"]
    return mean_ranking_metrics(topn_ranks(sequences, users, targets, negatives), ks["hr"], ks["ndcg"])
