"""Issue 38's recipe routes, each a switch off in the paper's config: every training prefix as a
sequential sample (generator.sequential_units: prefixes), the item tokens started from the CF
item factors (generator.item_init: cf), the CF stage's item factors file, and the probe's
prompt-blind validation control."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest
import torch

from peapod.embeddings.io import read_item_embeddings, write_item_embeddings
from peapod.errors import InputError
from peapod.generator.data import Batches, fill
from peapod.generator.item_init import init_item_embeddings, principal_projection
from peapod.generator.train import fresh_model
from peapod.splits import training_items
from tests.generator_helpers import small_generator_inputs, small_model, templates


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return small_generator_inputs(tmp_path_factory.mktemp("routes"))


def prefix_batches(small, **overrides):
    _, tok, cfg = small_model(small, item_tokens="independent", user_prompt="none", **overrides)
    return Batches(small[0], tok, templates(), cfg, seed=0), tok, cfg


# ---- sequential_units: prefixes ----------------------------------------------------------------------
def test_prefix_units_are_every_training_prefix_once(small):
    data = small[0]
    b, _, _ = prefix_batches(small, sequential_units="prefixes")
    expected = sorted((u, e) for u, s in data.sequences.items() if len(s) >= 4
                      for e in range(1, len(training_items(s))))
    units = sorted(zip(b.prefix_users.tolist(), b.prefix_ends.tolist()))
    assert units == expected and b.units["sequential"] == len(expected)
    # one epoch's plan visits each prefix exactly once (the sequential stream is one permutation)
    plan = b.epoch_plan(0)
    seen = Counter(j for batch in plan for t, j in batch if t == 1)
    n_batches = len(expected) // b.cfg.batch_size
    assert len(seen) == n_batches * b.cfg.batch_size and set(seen.values()) == {1}


def test_prefix_schedule_gives_each_task_its_own_batches_spread_evenly(small):
    b, _, cfg = prefix_batches(small, sequential_units="prefixes")
    schedule = b.task_schedule()
    per_task = b.batches_per_task()
    assert Counter(schedule) == per_task and per_task["sequential"] > per_task["topn"]
    # evenly spread: every quarter of the epoch holds about a quarter of the top-n batches
    quarters = np.array_split(np.array(schedule), 4)
    assert all(abs(int((q == "topn").sum()) - per_task["topn"] / 4) <= 1 for q in quarters)
    # the paper's windows keep the strict rotation
    windows, _, _ = prefix_batches(small)
    rotation = windows.task_schedule()
    assert all(a != c for a, c in zip(rotation, rotation[1:]))


def test_a_prefix_sample_is_the_items_before_its_target(small):
    data = small[0]
    b, tok, cfg = prefix_batches(small, sequential_units="prefixes", max_history=3)
    rng = np.random.default_rng(0)
    for unit in (0, 5, len(b.prefix_users) - 1):
        user, end = int(b.prefix_users[unit]), int(b.prefix_ends[unit])
        got_user, prompt, target, _ = b.training_sample(1, unit, rng)
        items = data.sequences[user]
        history = items[max(0, end - 3) : end]
        assert got_user == user and target.tolist() == b.item_target[int(items[end])].tolist()
        # the prompt names exactly the history, in order, and not the target
        named = [int(n) for n in re.findall(r"item_(\d+)", prompt)]
        assert named == [int(i) for i in history]


# ---- item_init: cf -----------------------------------------------------------------------------------
def planted_item_factors(catalogue: np.ndarray, dim: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, vectors, cluster) with items in 3 clusters far apart in factor space."""
    rng = np.random.default_rng(seed)
    cluster = np.arange(len(catalogue)) % 3
    centres = 4.0 * rng.standard_normal((3, dim))
    return catalogue.astype(np.int64), (centres[cluster] + 0.3 * rng.standard_normal((len(catalogue), dim))), cluster


def mean_cosine(rows: torch.Tensor, a: np.ndarray, b: np.ndarray) -> float:
    unit = torch.nn.functional.normalize(rows.double(), dim=1).numpy()
    return float((unit[a] @ unit[b].T).mean())


def test_item_tokens_start_from_the_cf_factors_and_other_rows_do_not_move(small):
    data = small[0]
    _, tok, cfg = small_model(small, item_tokens="independent", user_prompt="none")
    ids, vectors, cluster = planted_item_factors(data.catalogue)
    model, tok = fresh_model(cfg.with_overrides({"item_init": "cf"}), data, templates(), 0, None, None, "resources",
                             (ids, vectors))
    plain, _ = fresh_model(cfg, data, templates(), 0, None, None, "resources")
    table, before = model.t5.get_input_embeddings().weight.detach(), plain.t5.get_input_embeddings().weight.detach()
    tokens = np.asarray(tok.convert_tokens_to_ids([f"item_{i}" for i in ids]))
    rows = table[torch.as_tensor(tokens)]
    same = [mean_cosine(rows, np.flatnonzero(cluster == c), np.flatnonzero(cluster == c)) for c in range(3)]
    across = mean_cosine(rows, np.flatnonzero(cluster == 0), np.flatnonzero(cluster == 1))
    assert min(same) > 0.8 and across < 0.2, (same, across)
    # the rows keep the table's spread, and no other row (words, user ids, specials) changed
    assert float(rows.std()) == pytest.approx(float(before[torch.as_tensor(tokens)].std()), rel=1e-3)
    others = torch.ones(len(table), dtype=torch.bool)
    others[torch.as_tensor(tokens)] = False
    assert torch.equal(table[others], before[others])
    # the random start has no such structure (the control)
    plain_rows = before[torch.as_tensor(tokens)]
    assert mean_cosine(plain_rows, np.flatnonzero(cluster == 0), np.flatnonzero(cluster == 0)) < 0.2


def test_principal_projection_keeps_the_leading_directions_by_hand():
    # points on a line along (1, 1, 0) plus a small wiggle along (0, 0, 1), uncorrelated with the
    # line (both centred, dot product 0): one component keeps the line
    t = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    wiggle = np.array([0.1, -0.2, 0.2, -0.2, 0.1])
    vectors = np.stack([t, t, wiggle], axis=1)
    rows, kept = principal_projection(vectors, 1)
    expected = t * np.sqrt(2.0)  # the coordinate along the unit direction (1, 1, 0) / sqrt(2)
    assert np.allclose(np.abs(rows[:, 0]), np.abs(expected), atol=1e-6)
    assert kept == pytest.approx(20.0 / (20.0 + 0.14), rel=1e-9)
    wide, all_kept = principal_projection(vectors, 5)  # wider than the factors: zero-padded
    assert wide.shape == (5, 5) and np.allclose(wide[:, 3:], 0.0) and all_kept == pytest.approx(1.0)


def test_item_init_cf_needs_item_tokens_and_factors(small):
    data = small[0]
    with pytest.raises(ValueError, match="item_init: cf needs item_tokens: independent"):
        small_model(small, item_init="cf")
    _, _, cfg = small_model(small, item_tokens="independent", user_prompt="none")
    with pytest.raises(ValueError, match="item factors"):
        fresh_model(cfg.with_overrides({"item_init": "cf"}), data, templates(), 0, None, None, "resources")
    table = torch.nn.Embedding(10, 4)
    _, tok, _ = small_model(small)  # digits: no item_N token of its own
    with pytest.raises(ValueError, match="no item tokens"):
        init_item_embeddings(table, tok, np.array([1, 2]), np.ones((2, 3)))


def test_item_factors_file_round_trips_and_a_source_without_them_says_so(tmp_path):
    ids, vectors = np.array([3, 1, 2]), np.arange(6, dtype=np.float32).reshape(3, 2)
    path = tmp_path / "item_embeddings.parquet"
    write_item_embeddings(ids, vectors, path, 2, source="pmf")
    got_ids, got = read_item_embeddings(path)
    assert got_ids.tolist() == [1, 2, 3] and got.tolist() == vectors[[1, 2, 0]].tolist()
    empty = tmp_path / "none.parquet"
    write_item_embeddings(None, None, empty, 2, source="file")
    with pytest.raises(InputError, match="file source has no item factors"):
        read_item_embeddings(empty)


# ---- the prompt-blind validation control ---------------------------------------------------------------
def test_blind_validation_prompts_are_the_next_users_with_own_candidates(small):
    from peapod.generator.data import Validation

    b, tok, cfg = prefix_batches(small)
    own = Validation.build(b, 20, ("topn",))
    blind = Validation.build(b, 20, ("topn",), blind=True)
    assert np.array_equal(own.topn_candidates, blind.topn_candidates)
    assert np.array_equal(own.topn_target_index, blind.topn_target_index)
    users = torch.cat([x["user_ids"] for x in own.batches["topn"]]).tolist()
    blind_users = torch.cat([x["user_ids"] for x in blind.batches["topn"]]).tolist()
    assert blind_users == users[1:] + users[:1]
    text = tok.decode(blind.batches["topn"][0]["input_ids"][0], skip_special_tokens=True)
    expected = fill(templates().eval["topn"], "topn", users[1], items=own.topn_candidates[0])
    assert "".join(text.split()) == "".join(expected.split())  # item tokens decode without spaces


# ---- the recipe check's measurements -----------------------------------------------------------------
def test_per_user_hits_and_ndcg_by_hand():
    from peapod.generator.recipe_check import per_user_at_k

    hit, ndcg = per_user_at_k(np.array([0, 1, 9, 10, 57]))
    assert hit.tolist() == [1, 1, 1, 0, 0]
    assert ndcg.tolist() == pytest.approx([1.0, 1 / np.log2(3), 1 / np.log2(11), 0.0, 0.0])


def test_most_popular_on_the_given_users_only_by_hand(small):
    """Twenty users. validation candidates, ranked by training counts computed here by hand."""
    from peapod.generator.data import Validation
    from peapod.generator.recipe_check import most_popular_on

    data = small[0]
    b, _, _ = prefix_batches(small)
    users = Validation.build(b, 20, ("sequential", "topn"))
    counts = Counter(int(i) for s in data.sequences.values() for i in training_items(s))
    expected_hits = []
    for cands, t in zip(users.topn_candidates, users.topn_target_index):
        target_count = counts[int(cands[t])]
        ahead = sum(1 for j, c in enumerate(cands) if j != t and counts[int(c)] >= target_count)
        expected_hits.append(ahead < 10)
    seq_hits = []
    for target in users.targets["sequential"]:
        ahead = sum(1 for i in data.catalogue if int(i) != int(target) and counts[int(i)] >= counts[int(target)])
        seq_hits.append(ahead < 10)
    got = most_popular_on(data, users)
    assert got["topn_hr10"] == pytest.approx(np.mean(expected_hits))
    assert got["sequential_hr10"] == pytest.approx(np.mean(seq_hits))


def test_prompt_signal_pairs_the_same_users_and_is_zero_against_itself(small):
    from peapod.generator.data import Validation
    from peapod.generator.recipe_check import prompt_signal

    model, tok, cfg = small_model(small, user_prompt="mha")
    with torch.no_grad():  # an untrained prompt barely moves the scores: make it dominate the encoder
        model.user_prompt.out.weight.mul_(200.0)
    b = Batches(small[0], tok, templates(), cfg, seed=0)
    own = Validation.build(b, 12, ("topn",))
    same = prompt_signal(model, own, own, torch.device("cpu"))
    assert same["ndcg10_minus_blind"] == 0.0 and same["p_one_sided"] == 1.0
    blind = Validation.build(b, 12, ("topn",), blind=True)
    signal = prompt_signal(model, own, blind, torch.device("cpu"))
    assert signal["topn_ndcg10_scoring"] == same["topn_ndcg10_scoring"]
    # the control's figure is the blind prompts' own ranking, computed here from their scores
    from peapod.generator.train import score_topn

    scores = score_topn(model, blind, torch.device("cpu"))
    target = scores[np.arange(len(scores)), blind.topn_target_index]
    ranks = (scores >= target[:, None]).sum(axis=1) - 1  # pessimistic ties: the target counts itself once
    expected = np.where(ranks < 10, 1 / np.log2(ranks + 2.0), 0.0).mean()
    assert signal["topn_ndcg10_blind"] == pytest.approx(expected)
    assert signal["topn_ndcg10_blind"] != pytest.approx(signal["topn_ndcg10_scoring"])
    assert not np.allclose(scores, score_topn(model, own, torch.device("cpu")))  # another user's prompt
    other = Validation.build(b, 13, ("topn",))
    with pytest.raises(ValueError, match="same users' candidates"):
        prompt_signal(model, own, other, torch.device("cpu"))
