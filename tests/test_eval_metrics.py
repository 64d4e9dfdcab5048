"""Metric functions against hand-computed cases, and the text metrics against nltk / rouge-score."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from nltk.translate.bleu_score import corpus_bleu
from rouge_score import rouge_scorer

from peapod.evaluation.text_metrics import WhitespaceTokenizer, bleu4, per_pair_rouge, rouge_f1
from peapod.evaluation.trie import ItemTrie
from peapod.metrics import (
    mean_ranking_metrics,
    random_ranking_metrics,
    rank_from_scores,
    rank_in_list,
    ranking_metrics,
    ranks_from_score_matrix,
)


def test_hand_computed_ranks():
    assert rank_in_list([5, 7, 9], 5) == 0
    assert rank_in_list([5, 7, 9], 9) == 2
    assert rank_in_list([5, 7, 9], 4) is None
    m = ranking_metrics(2, (1, 5, 10))
    assert m == {"hr@1": 0.0, "ndcg@1": 0.0, "hr@5": 1.0, "ndcg@5": 0.5, "hr@10": 1.0, "ndcg@10": 0.5}
    m = ranking_metrics(0, (1, 5))
    assert m["hr@1"] == 1.0 and m["ndcg@1"] == 1.0 and m["ndcg@5"] == 1.0
    m = ranking_metrics(6, (5, 10))
    assert m["hr@5"] == 0.0 and m["ndcg@5"] == 0.0
    assert m["hr@10"] == 1.0 and m["ndcg@10"] == pytest.approx(1 / math.log2(8)) == pytest.approx(1 / 3)


def test_miss_and_k_larger_than_the_list():
    assert ranking_metrics(None, (5, 10)) == {"hr@5": 0.0, "ndcg@5": 0.0, "hr@10": 0.0, "ndcg@10": 0.0}
    # Only 3 items returned, k = 10: a hit at rank 1 still counts; the list length does not matter.
    assert ranking_metrics(rank_in_list([4, 8, 1], 8), (10,)) == {"hr@10": 1.0, "ndcg@10": pytest.approx(1 / math.log2(3))}


def test_mean_over_users():
    mean = mean_ranking_metrics([0, 1, None, 9], (1, 10))
    assert mean["hr@1"] == 0.25
    assert mean["hr@10"] == 0.75
    assert mean["ndcg@10"] == pytest.approx((1 + 1 / math.log2(3) + 0 + 1 / math.log2(11)) / 4)


def test_ties_count_against_the_truth():
    assert rank_from_scores([0.1, 0.5, 0.3], 1) == 0
    assert rank_from_scores([0.1, 0.5, 0.3], 0) == 2
    # The truth (index 0) ties with two others: all placed ahead of it.
    assert rank_from_scores([0.4, 0.4, 0.9, 0.4], 0) == 3
    # All equal: last place.
    assert rank_from_scores([1.0] * 100, 42) == 99
    with pytest.raises(ValueError):
        rank_from_scores([float("nan"), 1.0], 1)


# One row a user; the truth's column in TARGETS. Row 0: truth first; row 1: truth last; row 2: the
# truth ties with one other candidate; row 3: every candidate ties.
SCORES = np.array([[0.9, 0.5, 0.5, 0.1], [0.9, 0.5, 0.5, 0.1], [0.9, 0.5, 0.5, 0.1], [0.2, 0.2, 0.2, 0.2]])
TARGETS = np.array([0, 3, 1, 2])


def test_score_matrix_ranks_by_hand():
    pessimistic = ranks_from_score_matrix(SCORES, TARGETS)
    assert pessimistic.dtype == np.int64 and pessimistic.tolist() == [0, 3, 2, 3]
    half = ranks_from_score_matrix(SCORES, TARGETS, ties="half")
    assert half.dtype == np.float64 and half.tolist() == [0.0, 3.0, 1.5, 1.5]
    assert ranks_from_score_matrix(np.zeros((0, 4)), np.zeros(0, dtype=int)).tolist() == []
    with pytest.raises(ValueError, match="NaN"):
        ranks_from_score_matrix([[0.1, float("nan")]], [0])
    with pytest.raises(ValueError, match="ties"):
        ranks_from_score_matrix(SCORES, TARGETS, ties="optimistic")
    with pytest.raises(ValueError, match="target_index"):
        ranks_from_score_matrix(SCORES, TARGETS[:3])


def test_mean_metrics_of_score_matrix_ranks_by_hand():
    # 4 candidates, k = 10 > 4: every rank is a hit.
    m = mean_ranking_metrics(ranks_from_score_matrix(SCORES, TARGETS), (1, 10))
    assert m == {"hr@1": 0.25, "hr@10": 1.0, "ndcg@1": 0.25,
                 "ndcg@10": pytest.approx((1 + 1 / math.log2(5) + 1 / math.log2(4) + 1 / math.log2(5)) / 4)}
    m = mean_ranking_metrics(ranks_from_score_matrix(SCORES, TARGETS, ties="half"), (1, 10))
    assert m == {"hr@1": 0.25, "hr@10": 1.0, "ndcg@1": 0.25,
                 "ndcg@10": pytest.approx((1 + 1 / math.log2(5) + 2 / math.log2(3.5)) / 4)}
    # Separate NDCG cut-offs, as for the top-n task.
    m = mean_ranking_metrics(np.array([0, 3, 7, 50]), (1, 5, 10), (5, 10))
    assert m == {"hr@1": 0.25, "hr@5": 0.5, "hr@10": 0.75, "ndcg@5": pytest.approx((1 + 1 / math.log2(5)) / 4),
                 "ndcg@10": pytest.approx((1 + 1 / math.log2(5) + 1 / math.log2(9)) / 4)}
    with pytest.raises(ValueError, match="no users"):
        mean_ranking_metrics(np.array([]), (10,))


def test_score_matrix_ranks_agree_with_the_scalar_rank():
    rng = np.random.default_rng(0)
    for users, width, levels in [(50, 100, 3), (40, 7, 2), (30, 20, 1000), (5, 1, 1)]:
        scores = rng.integers(0, levels, size=(users, width)).astype(np.float64)  # few levels: many ties
        if levels == 1000:
            scores = rng.normal(size=(users, width))
        targets = rng.integers(0, width, size=users)
        pessimistic = ranks_from_score_matrix(scores, targets)
        assert pessimistic.tolist() == [rank_from_scores(row, t) for row, t in zip(scores, targets)]
        # Half ties sit midway between the pessimistic rank and the optimistic one (the truth nudged
        # just above its ties).
        optimistic = []
        for row, t in zip(scores, targets):
            nudged = row.copy()
            nudged[t] = np.nextafter(row[t], np.inf)
            optimistic.append(rank_from_scores(nudged, t))
        half = ranks_from_score_matrix(scores, targets, ties="half")
        assert half.tolist() == [(p + o) / 2 for p, o in zip(pessimistic, optimistic)]
        # float32 scores (as from the models) rank the same.
        assert ranks_from_score_matrix(scores.astype(np.float32), targets).tolist() == pessimistic.tolist()
        for ks in [(1, 5, 10), (3, 200)]:
            rows = [ranking_metrics(int(r), ks) for r in pessimistic]
            m = mean_ranking_metrics(pessimistic, ks)
            assert m == pytest.approx({key: np.mean([row[key] for row in rows]) for key in rows[0]})


def test_random_expectation():
    m = random_ranking_metrics(100, (1, 5, 10))
    assert m["hr@1"] == 0.01 and m["hr@5"] == 0.05 and m["hr@10"] == pytest.approx(0.1)
    for k in (1, 5, 10):
        assert m[f"ndcg@{k}"] == pytest.approx(sum(1 / math.log2(r + 2) for r in range(k)) / 100)
    assert random_ranking_metrics(4, (10,)) == {"hr@10": 1.0, "ndcg@10": pytest.approx(
        (1 + 1 / math.log2(3) + 1 / math.log2(4) + 1 / math.log2(5)) / 4)}


REFS = ["the scent is lovely and soft", "great brush for the price", "the color fades fast"]
HYPS = ["the scent is lovely", "great brush for this price", "color is dull"]


def test_bleu_equals_nltk_on_whitespace_tokens():
    expected = 100 * corpus_bleu([[r.split()] for r in REFS], [h.split() for h in HYPS])
    assert bleu4(REFS, HYPS) == pytest.approx(expected)
    assert bleu4(REFS, REFS) == pytest.approx(100.0)


def test_rouge_equals_rouge_score():
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=WhitespaceTokenizer())
    pairs = [scorer.score(r, h) for r, h in zip(REFS, HYPS)]
    got = rouge_f1(REFS, HYPS)
    assert got["rouge1"] == pytest.approx(100 * sum(p["rouge1"].fmeasure for p in pairs) / 3)
    assert got["rouge2"] == pytest.approx(100 * sum(p["rouge2"].fmeasure for p in pairs) / 3)
    assert got["rougel"] == pytest.approx(100 * sum(p["rougeL"].fmeasure for p in pairs) / 3)
    # Hand case: "the scent is lovely" vs the 6-token reference: P = 4/4, R = 4/6, F1 = 0.8.
    assert per_pair_rouge(REFS[:1], HYPS[:1])[0]["rouge1"] == pytest.approx(80.0)


def test_trie_only_ever_yields_valid_items():
    rng = random.Random(0)
    items = {i: [rng.randrange(3, 12) for _ in range(rng.randrange(1, 4))] for i in range(1, 300)}
    # Make token sequences unique (two items must not tokenize alike).
    seen, unique = set(), {}
    for item, toks in items.items():
        if tuple(toks) not in seen:
            seen.add(tuple(toks))
            unique[item] = toks
    trie = ItemTrie(unique, eos_token_id=1)
    for _ in range(2000):  # random walks through the allowed tokens always end on a real item
        path = []
        while True:
            token = rng.choice(trie.allowed(path))
            path.append(token)
            if token == 1:
                break
        assert trie.item_of(path) in unique
    assert trie.allowed([99]) == [1]
    with pytest.raises(ValueError, match="tokenize identically"):
        ItemTrie({1: [5, 6], 2: [5, 6]}, eos_token_id=1)


def test_history_buckets_and_summaries():
    import pandas as pd

    from peapod.evaluation.results import bucket_summary, metrics_table
    from peapod.sampling import history_bucket_labels

    assert history_bucket_labels([1, 5, 6, 10, 11, 60], (5, 10)) == ["1-5", "1-5", "6-10", "6-10", ">10", ">10"]
    per_user = pd.DataFrame(
        {
            "user_id": [1, 2, 3, 4],
            "task": ["topn"] * 4,
            "method": ["scoring"] * 4,
            "split": ["test"] * 4,
            "rank": [0, 3, None, 12],
            "history_length": [3, 4, 8, 30],
            "hr@1": [1.0, 0.0, 0.0, 0.0],
            "hr@10": [1.0, 1.0, 0.0, 0.0],
        }
    )
    tidy = metrics_table(per_user)
    assert dict(zip(tidy.metric, tidy.value)) == {"hr@1": 0.25, "hr@10": 0.5}
    summary = bucket_summary(per_user, edges=(5, 10))
    assert summary.history_bucket.tolist() == ["1-5", "6-10", ">10"]
    assert summary.users.tolist() == [2, 1, 1]
    assert summary["hr@10"].tolist() == [1.0, 0.0, 0.0]


def test_task_metrics_are_the_papers_columns():
    from peapod.metrics import task_ranking_metrics

    assert set(task_ranking_metrics(0, "sequential")) == {"hr@5", "hr@10", "ndcg@5", "ndcg@10"}
    assert set(task_ranking_metrics(3, "topn")) == {"hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10"}


def test_reference_style_rouge_on_a_hand_computed_case():
    """The released code's ROUGE: n-gram sets, ROUGE-L weighted by beta = P/R. Reference "the cat
    sat on the mat" (unigram set of 5), hypothesis "the cat on the mat" (set of 4, all shared):
    ROUGE-1 P 1, R 4/5, F 8/9; ROUGE-2 3 of 4 and 3 of 5 bigrams, F 2/3; ROUGE-L: LCS 5, R 5/6,
    P 1, beta 6/5, F = RP(R^2 + P^2) / (R^3 + P^3) = 305/341. rouge-score (counts, beta 1) gives
    10/11 for both ROUGE-1 and ROUGE-L."""
    from peapod.evaluation.text_metrics import beta_rouge_l, reference_style_rouge, set_rouge_n

    ref, hyp = "the cat sat on the mat", "the cat on the mat"
    assert set_rouge_n(ref, hyp, 1) == pytest.approx(8 / 9, rel=1e-6)
    assert set_rouge_n(ref, hyp, 2) == pytest.approx(2 / 3, rel=1e-6)
    assert beta_rouge_l(ref, hyp) == pytest.approx(305 / 341, rel=1e-6)
    row = reference_style_rouge([ref], [hyp])[0]
    assert row == pytest.approx({"rouge1": 800 / 9, "rouge2": 200 / 3, "rougel": 30500 / 341}, rel=1e-6)
    standard = per_pair_rouge([ref], [hyp])[0]
    assert standard["rouge1"] == pytest.approx(1000 / 11) and standard["rougel"] == pytest.approx(1000 / 11)
    # Degenerate pairs score 0, as in the reference code.
    assert reference_style_rouge(["a b"], [""])[0] == {"rouge1": 0.0, "rouge2": 0.0, "rougel": 0.0}
