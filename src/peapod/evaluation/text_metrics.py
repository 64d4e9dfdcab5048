"""Explanation metrics as the paper reports them: BLEU-4 (corpus level, no smoothing) and
ROUGE-1/2/L F1, all x100, on whitespace tokens."""

from __future__ import annotations

from typing import Sequence

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
    from nltk.translate.bleu_score import corpus_bleu  # imported here: nltk pulls in scipy.stats (seconds)

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


# ---- the released code's scoring ------------------------------------------------------------------
# The reference's hand-written ROUGE (inherited from PETER/NRT) counts n-gram *sets*, not counts,
# and weights ROUGE-L's F by beta = P / R; its BLEU-4 is corpus-level without smoothing, as above.
# The targets it scores against are the training targets: cut to 20 backbone tokens, then decoded.


def _ngram_set(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _lcs_length(a: list[str], b: list[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def set_rouge_n(reference: str, hypothesis: str, n: int) -> float:
    """The reference's ROUGE-n F1 of one pair: overlap of the n-gram sets, F = 2PR / (P + R)."""
    ref, hyp = _ngram_set(reference.split(), n), _ngram_set(hypothesis.split(), n)
    overlap = len(ref & hyp)
    precision = overlap / len(hyp) if hyp else 0.0
    recall = overlap / len(ref) if ref else 0.0
    return 2.0 * precision * recall / (precision + recall + 1e-8)


def beta_rouge_l(reference: str, hypothesis: str) -> float:
    """The reference's ROUGE-L of one pair: LCS precision P and recall R, beta = P / R,
    F = (1 + beta^2) P R / (R + beta^2 P) (with the reference's 1e-12 guards)."""
    ref, hyp = reference.split(), hypothesis.split()
    if not ref or not hyp:
        return 0.0
    lcs = _lcs_length(hyp, ref)
    recall, precision = lcs / len(ref), lcs / len(hyp)
    beta = precision / (recall + 1e-12)
    return (1 + beta**2) * recall * precision / (recall + beta**2 * precision + 1e-12)


def reference_style_rouge(references: Sequence[str], hypotheses: Sequence[str]) -> list[dict[str, float]]:
    """ROUGE-1/2/L x100 per pair as the released code computed them (``set_rouge_n``, ``beta_rouge_l``)."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    return [{"rouge1": 100 * set_rouge_n(r, h, 1), "rouge2": 100 * set_rouge_n(r, h, 2),
             "rougel": 100 * beta_rouge_l(r, h)} for r, h in zip(references, hypotheses)]


def mean_rows(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """Key-wise mean of per-pair scores (0 for every key when there are none)."""
    keys = ("rouge1", "rouge2", "rougel")
    return {k: sum(r[k] for r in rows) / max(1, len(rows)) for k in keys}
