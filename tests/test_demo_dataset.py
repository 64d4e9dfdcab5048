"""The demo's planted structure is present in the Parquet output, and the demo is deterministic."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from peapod.data.demo import DemoConfig
from tests.helpers import SMALL_DEMO, make_demo


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    demo = make_demo(tmp_path_factory.mktemp("demo"), SMALL_DEMO)
    return demo.tables, demo.truth


def test_deterministic_for_a_seed(tmp_path):
    a = make_demo(tmp_path / "a", SMALL_DEMO).files
    b = make_demo(tmp_path / "b", SMALL_DEMO).files
    c = make_demo(tmp_path / "c", DemoConfig(**{**SMALL_DEMO.__dict__, "seed": 4})).files
    for key in a:
        assert a[key].read_bytes() == b[key].read_bytes(), key
    assert a["sequences"].read_bytes() != c["sequences"].read_bytes()


def test_users_prefer_their_groups_items(small):
    tables, truth = small
    seq = tables["sequences"].to_pandas()
    same = (seq.user_id.map(truth["user_group"]) == seq.item_id.map(truth["item_group"])).mean()
    # Planted: 85% from the own group plus chain steps (within group); chance is 1/4.
    assert same > 0.8, same


def test_sequences_follow_the_item_chains(small):
    tables, truth = small
    seq = tables["sequences"].to_pandas().sort_values(["user_id", "position"])
    follows = []
    for _, group in seq.groupby("user_id"):
        items = group.item_id.tolist()
        follows += [truth["chain_successor"][a] == b for a, b in zip(items, items[1:])]
    # p_follow_chain = 0.6; a random next item would be the successor ~1/160 of the time.
    assert np.mean(follows) > 0.45, np.mean(follows)


def test_explanations_name_the_items_feature_and_reflect_the_group(small):
    tables, truth = small
    exp = tables["explanations"].to_pandas()
    assert len(exp) > 0.6 * tables["sequences"].num_rows
    assert (exp.feature == exp.item_id.map(truth["item_feature"])).all()
    assert all(f in text for f, text in zip(exp.feature, exp.explanation))
    in_group = exp.user_id.map(truth["user_group"]) == exp.item_id.map(truth["item_group"])
    assert (exp.rating[in_group] >= 4).all() and (exp.rating[~in_group] <= 3).all()


def test_explanation_split_is_8_1_1_with_every_user_and_item_in_train(small):
    tables, _ = small
    exp = tables["explanations"].to_pandas()
    shares = exp.split.value_counts(normalize=True)
    assert abs(shares["valid"] - 0.1) < 0.02 and abs(shares["test"] - 0.1) < 0.02
    train = exp[exp.split == "train"]
    assert set(exp.user_id) == set(train.user_id)
    assert set(exp.item_id) == set(train.item_id)


def test_p5_style_item_numbering(small):
    """Items are numbered by first appearance along users 1..N, as in P5."""
    tables, _ = small
    seq = tables["sequences"].to_pandas().sort_values(["user_id", "position"])
    first_seen = list(dict.fromkeys(seq.item_id.tolist()))
    assert first_seen == list(range(1, len(first_seen) + 1))
    assert Counter(seq.groupby("user_id").size()).keys() <= set(range(SMALL_DEMO.min_length, SMALL_DEMO.max_length + 1))
