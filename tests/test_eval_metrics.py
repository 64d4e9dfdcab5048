"""Metric functions against hand-computed cases, and the text metrics against nltk / rouge-score."""

from __future__ import annotations

import math
import random

import pytest
from nltk.translate.bleu_score import corpus_bleu
from rouge_score import rouge_scorer

from peapod.evaluation.metrics import mean_ranking_metrics, rank_from_scores, rank_in_list, ranking_metrics
from peapod.evaluation.text_metrics import WhitespaceTokenizer, bleu4, per_pair_rouge, rouge_f1
from peapod.evaluation.trie import ItemTrie


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

    from peapod.evaluation.results import bucket_summary, history_bucket_labels, metrics_table

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
    from peapod.evaluation.metrics import task_ranking_metrics

    assert set(task_ranking_metrics(0, "sequential")) == {"hr@5", "hr@10", "ndcg@5", "ndcg@10"}
    assert set(task_ranking_metrics(3, "topn")) == {"hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10"}
