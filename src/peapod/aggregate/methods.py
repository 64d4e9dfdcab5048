"""Which of our evaluation methods stands for the paper's numbers: the one home of that mapping.

Per-run metrics carry a ``method`` per task (peapod.evaluation). Only the method listed first here
that a run has is compared with reported numbers (one-sample t-tests, *, verdicts); every other
method of that task is shown as our own extra row, labelled with METHOD_LABELS.

  sequential   beam             beam search over the catalogue (the paper's)
  topn         beam             unrestricted beam, the 100 candidates only in the prompt (the paper's)
               beam_candidates  beam restricted to the user's 100 candidates (ours)
               scoring          exact likelihood ranking of all 100 candidates (ours)
               scoring_blind    the same under another user's prompt (ours: a control for item priors)
  explanation  beam_reference   beam search scored as the reference code scores (compared when present)
               beam             beam search, standard scoring (rouge-score F1 on the full text)
"""

from __future__ import annotations

from typing import Iterable

# The headline metrics of each task: the ablation figures' panels and the claims' comparisons.
HEADLINE_METRICS = (
    ("sequential", "hr@10"), ("sequential", "ndcg@10"), ("topn", "hr@10"), ("topn", "ndcg@10"),
    ("explanation", "bleu4"), ("explanation", "rougel"),
)
# task -> methods that may stand for the paper's numbers, in order of preference.
COMPARED_METHODS: dict[str, tuple[str, ...]] = {
    "sequential": ("beam",),
    "topn": ("beam",),
    "explanation": ("beam_reference", "beam"),
}
METHOD_LABELS = {
    "beam": "beam",
    "beam_candidates": "beam over candidates",
    "scoring": "exact scoring",
    "scoring_blind": "exact scoring, prompt-blind control",
    "beam_reference": "reference scoring",
}
# Where a method's name means something else on one task (explanation's beam is scored the standard way).
TASK_METHOD_LABELS = {"explanation": {"beam": "standard scoring"}}
# Order of extra rows (unknown methods last, by name).
METHOD_ORDER = {"beam": 0, "beam_reference": 1, "beam_candidates": 2, "scoring": 3, "scoring_blind": 4}


def compared_method(task: str, available: Iterable[str]) -> str:
    """The method compared with the paper for ``task`` among the ``available`` ones (the first of
    COMPARED_METHODS[task] present; the first listed when none is)."""
    available = set(available)
    preferred = COMPARED_METHODS[task]
    return next((m for m in preferred if m in available), preferred[0])


def ordered_methods(task: str, available: Iterable[str]) -> list[str]:
    """The compared method first, then the others in METHOD_ORDER."""
    available = set(available)
    first = compared_method(task, available)
    rest = sorted(available - {first}, key=lambda m: (METHOD_ORDER.get(m, len(METHOD_ORDER)), m))
    return [first, *rest]


def method_label(method: str, task: str | None = None) -> str:
    return TASK_METHOD_LABELS.get(task, {}).get(method) or METHOD_LABELS.get(method, method)
