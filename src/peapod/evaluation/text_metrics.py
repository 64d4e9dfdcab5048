"""Explanation metrics as the paper reports them: BLEU-4 (corpus level, no smoothing) and
ROUGE-1/2/L F1, all x100, on whitespace tokens."""

from __future__ import annotations

from typing import Sequence

from nltk.translate.bleu_score import corpus_bleu
from rouge_score import rouge_scorer


class WhitespaceTokenizer:
    """rouge-score's tokenizer interface, splitting on whitespace only (no lower-casing, no
    punctuation stripping), so ROUGE and BLEU see the same tokens."""

    def tokenize(self, text: str) -> list[str]:
        return text.split()


def bleu4(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus BLEU-4 x100 with uniform weights and no smoothing (nltk)."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    refs = [[r.split()] for r in references]
    hyps = [h.split() for h in hypotheses]
    return 100.0 * corpus_bleu(refs, hyps, weights=(0.25, 0.25, 0.25, 0.25))


def rouge_f1(references: Sequence[str], hypotheses: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-1/2/L F1 x100 over pairs (rouge-score), as {"rouge1", "rouge2", "rougel"}."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=WhitespaceTokenizer())
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougel": 0.0}
    for ref, hyp in zip(references, hypotheses):
        scores = scorer.score(ref, hyp)
        totals["rouge1"] += scores["rouge1"].fmeasure
        totals["rouge2"] += scores["rouge2"].fmeasure
        totals["rougel"] += scores["rougeL"].fmeasure
    n = max(1, len(references))
    return {key: 100.0 * value / n for key, value in totals.items()}


def per_pair_rouge(references: Sequence[str], hypotheses: Sequence[str]) -> list[dict[str, float]]:
    """ROUGE-1/2/L F1 x100 per pair, for per-user results."""
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=WhitespaceTokenizer())
    out = []
    for ref, hyp in zip(references, hypotheses):
        s = scorer.score(ref, hyp)
        out.append({"rouge1": 100 * s["rouge1"].fmeasure, "rouge2": 100 * s["rouge2"].fmeasure, "rougel": 100 * s["rougeL"].fmeasure})
    return out
