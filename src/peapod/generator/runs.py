"""Where a generator run lives: one folder per run's settings, so that a run never resumes from,
nor overwrites, a run trained with other settings.

A run's folder (peapod.paths.RUN_DIR, ``results/<dataset>/runs/<variant>/<run_key>/seed<k>``) is
keyed by a short hash of everything in the config that its training reads: its generator settings,
the dataset's entry and the data stage's settings (which make its tables), and the settings of the
CF model whose files it reads (for its user prompt or its item tokens). Two studies whose runs
agree on all of these share the runs (neither retrains the other's); a changed setting
(``epochs: 8``) gives a new folder and leaves the old one as it was. Settings that do not change
what is trained (the evaluation's, the device's, the number of neighbours the index stores beyond
those a run reads) are not in the key.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from peapod import paths
from peapod.config import with_defaults
from peapod.embeddings import dataset_settings as embedding_settings
from peapod.generator.config import settings_of_run

KEY_LENGTH = 10  # hex digits: a collision among one dataset's variants is out of reach
# Keys of a dataset's entry that other stages read, not the data stage (nor a run through its tables).
NOT_DATA_KEYS = ("embeddings", "baselines", "twin_of", "generator", "variants")


def run_identity(config: dict[str, Any], dataset: str, variant: str) -> dict[str, Any]:
    """What one (dataset, variant) run's training depends on, from a config with the schema's
    defaults filled (peapod.config.with_defaults), so that a value left to its default and the same
    value written out give one key."""
    settings = settings_of_run(config, dataset, variant)
    spec = config["datasets"][dataset] or {}
    identity = {
        "generator": settings.to_dict(),
        "data": {k: v for k, v in spec.items() if k not in NOT_DATA_KEYS},
        "preprocess": config.get("preprocess") or {},
    }
    # The CF model's files: a user prompt reads its user vectors, item_init: cf its item factors.
    if settings.user_prompt != "none" or identity["generator"].get("item_init") == "cf":
        identity["cf"] = embedding_settings(config["embeddings"], spec.get("embeddings"), settings.cf_model, dataset)
    return identity


def run_keys(config: dict[str, Any]) -> dict[tuple[str, str], str]:
    """The short hash that names the run folder of every (dataset, variant) pair the config defines."""
    filled = with_defaults(config)
    return {(d, v): _digest(run_identity(filled, d, v)) for d in filled["datasets"] for v in filled.get("variants") or {}}


def run_key(config: dict[str, Any], dataset: str, variant: str) -> str:
    """The run key of one (dataset, variant)."""
    return run_keys(config)[dataset, variant]


def _digest(identity: dict[str, Any]) -> str:
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def run_path(pattern: str, config: dict[str, Any], dataset: str, variant: str, seed: int,
             root: str | Path = paths.RESULTS) -> str:
    """``pattern`` (paths.RUN_METRICS, paths.run_file(...)) of one run, its run key filled from
    ``config``, under ``root``."""
    return paths.located(pattern, root, dataset=dataset, variant=variant, seed=seed,
                         run_key=run_key(config, dataset, variant))


def run_folders(config_files: list[str | Path], twins: bool = False) -> list[str]:
    """One line per (dataset, variant) of the merged config files, as the workflow merges them:
    ``<dataset> <variant> results/<dataset>/runs/<variant>/<run_key>/``; to name one run as a target.
    ``twins``: as with ``--config id_order_twins=True`` (each P5 dataset's renumbered twin listed too)."""
    import yaml

    from peapod.config import merge_configs, with_twins

    merged = merge_configs(*(yaml.safe_load(Path(f).read_text(encoding="utf-8")) for f in config_files))
    merged = with_twins({**merged, "id_order_twins": True} if twins else merged)
    folders = {run: Path(paths.located(paths.RUN_DIR, dataset=run[0], variant=run[1], run_key=key, seed=0)).parent
               for run, key in run_keys(merged).items()}
    return [f"{d} {v} {folder}/" for (d, v), folder in folders.items()]


if __name__ == "__main__":  # python -m peapod.generator.runs [--twins] CONFIG [OVERLAY ...]
    import sys

    args = sys.argv[1:]
    twins = "--twins" in args
    files = [a for a in args if a != "--twins"]
    if not files:
        sys.exit("usage: python -m peapod.generator.runs [--twins] CONFIG [OVERLAY ...]: each run's folder under "
                 "results/ (--twins: with each P5 dataset's renumbered twin, as --config id_order_twins=True)")
    print("\n".join(run_folders(files, twins)))
