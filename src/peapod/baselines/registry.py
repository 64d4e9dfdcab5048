"""The one list of baselines: each model the config may name (the reported method name), its task
and what trains it; and the reported baseline rows no configured model can reproduce, with why."""

from __future__ import annotations

from dataclasses import dataclass

from peapod.baselines import sequential, topn


@dataclass(frozen=True)
class Baseline:
    name: str  # the papers' method name (paper_tables.csv), also the {baseline} wildcard
    task: str  # sequential | topn
    method: str  # how it ranks (the method column of its metrics): catalogue | candidates
    recbole_model: str


BASELINES = {
    **{m: Baseline(m, "sequential", "catalogue", m) for m in sequential.MODELS},
    **{m: Baseline(m, "topn", "candidates", recbole) for m, (recbole, _) in topn.MODELS.items()},
}
NAMES = tuple(BASELINES)
# Reported baseline rows this project does not train, and why (the tables say so beside the row).
NOT_TRAINED = {
    "FDSA": "needs item attributes (categories, brands), which the P5 files do not carry",
    "S3-Rec": "needs item attributes for its self-supervised pre-training, which the P5 files do not carry",
}
