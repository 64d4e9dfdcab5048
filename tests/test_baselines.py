"""The baselines on exactly our split: the id-order probes (hand-computed cases), the RecBole
sequential and top-n models (RecBole's held-out items are our table's, training never sees them),
the workflow's settings and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from peapod.baselines import id_order


def sequences_frame(seqs: dict[int, list[int]]) -> pd.DataFrame:
    """A sequences table (user_id, position, item_id, role) with the leave-two-out roles."""
    from peapod.splits import role_of

    rows = [(u, pos, item, role_of(pos, len(items))) for u, items in seqs.items() for pos, item in enumerate(items)]
    return pd.DataFrame(rows, columns=["user_id", "position", "item_id", "role"])


# ---------------------------------------------------------------------------------------------
# The id-order probe


def test_sequential_id_order_ranks_hand_computed():
    # catalogue 1..9. Test: user 1 history ends 5, target 6 -> rank 0; user 2 ends 3, target 7 ->
    # items 4, 5, 6 ahead -> rank 3; user 3 ends 8, target 2 (below) -> last of 9 items, rank 8.
    seqs = {1: [1, 4, 5, 6], 2: [9, 8, 3, 7], 3: [1, 2, 8, 2]}
    frame = sequences_frame(seqs)
    ranks = id_order.sequential_ranks(frame, "test").set_index("user_id")["rank"].to_dict()
    assert ranks == {1: 0, 2: 3, 3: 8}
    # valid: user 1 history ends 4, target 5 -> 0; user 2 ends 8, target 3 -> 8; user 3 ends 2, target 8 ->
    # 3, 4, 5, 6, 7 ahead -> 5
    assert id_order.sequential_ranks(frame, "valid").set_index("user_id")["rank"].to_dict() == {1: 0, 2: 8, 3: 5}
    m = id_order.sequential_metrics(frame, "test")
    assert m["hr@5"] == pytest.approx(2 / 3) and m["hr@10"] == pytest.approx(1.0)
    assert m["ndcg@5"] == pytest.approx((1 + 1 / np.log2(5)) / 3)


def test_sequential_id_order_skips_ids_missing_from_the_catalogue():
    # catalogue {1, 2, 5, 10, 11}: after 2 the probe proposes 5 (3 and 4 do not exist), then 10
    frame = sequences_frame({1: [1, 2, 10], 2: [11, 5, 1]})
    assert id_order.sequential_ranks(frame, "test").set_index("user_id")["rank"].to_dict() == {1: 1, 2: 4}


def test_topn_id_order_ranks_by_distance_to_the_last_training_item():
    seqs = {1: [3, 10, 20, 30], 2: [7, 8, 1, 2]}  # last training items: 10 and 8
    frame = sequences_frame(seqs)
    users = np.array([1, 2])
    targets = np.array([11, 2])
    negatives = np.array([[9, 40, 100], [9, 7, 5]])
    # user 1: 11 and 9 both at distance 1 -> tie counts against the target: rank 1.
    # user 2: 2 at distance 6; 9 and 7 (1), 5 (3) ahead: rank 3
    assert id_order.topn_ranks(frame, users, targets, negatives).tolist() == [1, 3]


def test_stats_share_of_test_items_after_the_last_training_id():
    from peapod.data.tables import id_order_shares

    seqs = {1: [1, 2, 3, 4], 2: [5, 6, 9, 7], 3: [2, 1, 5, 6]}
    # last training item + 1 == test item: user 2 (6 -> 7); previous (valid) + 1 == test: users 1, 3
    assert id_order_shares(seqs) == {"test_is_last_train_plus_1": round(1 / 3, 4),
                                     "test_is_previous_plus_1": round(2 / 3, 4)}
