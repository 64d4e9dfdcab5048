"""Small configs and per-run metrics files for the aggregation tests (made here, never read from disk)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from peapod.config import with_defaults

GENERATOR = {
    "user_prompt": "mha", "heads": 4, "prompt_length": 3, "task_prompt_length": 3,
    "neighbors": 20, "cf_model": "pmf", "backbone": "t5-small",
}
VARIANTS = {
    "peapod": {},
    "pod": {"user_prompt": "none"},
    "mlp": {"user_prompt": "mlp"},
    "heads_1": {"heads": 1},
    "heads_8": {"heads": 8},
    "no_task_prompt": {"task_prompt_length": 0},
    "neighbors_5": {"neighbors": 5},
    "neighbors_10": {"neighbors": 10},
    "prompt_5": {"prompt_length": 5},
    "bivae": {"cf_model": "bivae"},
    "lightgcn": {"cf_model": "lightgcn"},
    "base": {"backbone": "t5-base"},
}
ABLATIONS = {
    "task_prompt": {"variants": ["peapod", "no_task_prompt"]},
    "heads": {"variants": ["mlp", "heads_1", "peapod", "heads_8"]},
    "neighbors": {"variants": ["neighbors_5", "neighbors_10", "peapod"]},
    "prompt_length": {"variants": ["peapod", "prompt_5"]},
    "embedding": {"variants": ["peapod", "bivae", "lightgcn"]},
    "model_size": {"variants": ["peapod", "base"]},
}
# Per-variant quality: PeaPOD clearly above POD so paired tests are significant with 3 seeds.
QUALITY = {"pod": 0.80, "peapod": 1.00, "mlp": 0.93, "heads_1": 0.95, "heads_8": 0.99, "no_task_prompt": 0.97,
           "neighbors_5": 0.94, "neighbors_10": 0.98, "prompt_5": 1.0, "bivae": 0.96, "lightgcn": 0.99, "base": 1.05}
BASE = {
    ("sequential", "beam"): {"hr@5": 0.05, "ndcg@5": 0.035, "hr@10": 0.07, "ndcg@10": 0.045},
    ("topn", "beam"): {"hr@1": 0.12, "hr@5": 0.26, "ndcg@5": 0.19, "hr@10": 0.36, "ndcg@10": 0.23},
    ("topn", "beam_candidates"): {"hr@1": 0.125, "hr@5": 0.27, "ndcg@5": 0.195, "hr@10": 0.37, "ndcg@10": 0.235},
    ("topn", "scoring"): {"hr@1": 0.13, "hr@5": 0.28, "ndcg@5": 0.2, "hr@10": 0.38, "ndcg@10": 0.24},
    ("explanation", "beam"): {"bleu4": 1.1, "rouge1": 17.0, "rouge2": 2.5, "rougel": 13.0},
    ("explanation", "beam_reference"): {"bleu4": 1.05, "rouge1": 16.0, "rouge2": 2.4, "rougel": 12.5},
}


# Beam diagnostics (peapod.metrics.BEAM_DIAGNOSTICS) of the beam methods' runs.
BEAM_DIAGNOSTIC_VALUES = {
    ("sequential", "beam"): {"share_finished": 0.99, "share_ids": 0.98, "share_catalogue": 0.97},
    ("topn", "beam"): {"share_finished": 0.99, "share_ids": 0.98, "share_catalogue": 0.97, "share_candidates": 0.9,
                       "top1_in_candidates": 0.95},
}


def make_config(datasets=("sports", "beauty"), seeds=(1, 2, 3), ablations=ABLATIONS) -> dict:
    """A validated config with the schema's defaults filled in, as the workflow passes it."""
    return with_defaults({
        "datasets": {d: {"source": "demo"} for d in datasets},
        "seeds": list(seeds),
        "generator": dict(GENERATOR),
        "variants": {k: dict(v) for k, v in VARIANTS.items()},
        "ablations": {k: {"variants": list(v["variants"]), "datasets": list(datasets)} for k, v in ablations.items()},
        "aggregate": {"labels": {"peapod": "PeaPOD", "pod": "POD"}},
    })


def run_metrics(variant: str, seed: int, dataset: str = "sports") -> pd.DataFrame:
    """Deterministic metrics of one run: base x quality x (1 + small seed noise)."""
    rng = np.random.default_rng([seed, sum(map(ord, variant)), sum(map(ord, dataset))])
    rows = []
    for (task, method), metrics in BASE.items():
        for metric, base in metrics.items():
            for split in ("test", "valid"):
                value = base * QUALITY[variant] * (1 + 0.02 * rng.standard_normal())
                rows.append((task, method, split, metric, float(value)))
    for (task, method), shares in BEAM_DIAGNOSTIC_VALUES.items():  # the same for every run
        rows += [(task, method, split, metric, share) for metric, share in shares.items() for split in ("test", "valid")]
    return pd.DataFrame(rows, columns=["task", "method", "split", "metric", "value"])


def write_runs(root: Path, config: dict, skip: set = frozenset()) -> dict:
    """Write every planned run's metrics.parquet under ``root``; ``skip`` holds (dataset, variant, seed) left out."""
    from peapod.aggregate.settings import make_plan
    from peapod.generator.runs import run_path
    from peapod.paths import RUN_METRICS

    paths = {}
    for key in make_plan(config).runs():
        path = Path(run_path(RUN_METRICS, config, *key, root=root))
        paths[key] = str(path)
        if key in skip:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        run_metrics(key[1], key[2], key[0]).to_parquet(path, index=False)
    return paths
