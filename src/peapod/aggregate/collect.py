"""Per-run metrics files -> one tidy table, with every missing run, seed or value reported.

Per-run contract (written by the evaluation stage, at peapod.paths.RUN_METRICS):
  columns task (sequential|topn|explanation), method, split (test|valid), metric (lower case), value (float64)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from peapod.errors import InputError
from peapod.generator.config import TASKS
from peapod.metrics import BEAM_DIAGNOSTICS
from peapod.splits import EVAL_SPLITS

log = logging.getLogger(__name__)

METRICS = ("hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10", "bleu4", "rouge1", "rouge2", "rougel", *BEAM_DIAGNOSTICS)
RUN_COLUMNS = ("task", "method", "split", "metric", "value")
KEY = ["dataset", "variant", "task", "method", "split", "metric"]
TIDY_COLUMNS = ["dataset", "variant", "seed", "task", "method", "split", "metric", "value"]
MISSING_COLUMNS = ["dataset", "variant", "seed", "task", "method", "split", "metric", "reason"]


def read_run_metrics(path: str | Path) -> pd.DataFrame:
    """One run's metrics, checked against the contract; any deviation is an InputError naming the file."""
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 (pyarrow raises several types for unreadable files)
        raise InputError(path, f"not a readable Parquet file ({exc})") from None
    missing = [c for c in RUN_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}; expected {', '.join(RUN_COLUMNS)}")
    df = df[list(RUN_COLUMNS)].copy()
    if not pd.api.types.is_float_dtype(df["value"]):
        raise InputError(path, f"column value has type {df['value'].dtype}, expected float64")
    for column, allowed in (("task", TASKS), ("split", EVAL_SPLITS), ("metric", METRICS)):
        bad = sorted(set(df[column].astype(str)) - set(allowed))
        if bad:
            row = int(np.flatnonzero(df[column].astype(str).isin(bad))[0])
            raise InputError(path, f"{column} {bad[0]!r} is not one of {', '.join(allowed)}", where=f"row {row}")
    for column in ("task", "method", "split", "metric"):
        df[column] = df[column].astype(str)
    dup = df.duplicated(["task", "method", "split", "metric"], keep=False)
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        r = df.iloc[row]
        raise InputError(path, f"{r.task}/{r.method}/{r.split}/{r.metric} appears more than once", where=f"row {row}")
    return df


def collect_runs(
    expected: Iterable[tuple[str, str, int]], paths: dict[tuple[str, str, int], str | Path | None]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read every expected run; return (tidy metrics, missing).

    ``paths`` maps (dataset, variant, seed) to its metrics file; a key that is absent, None, or a file
    that does not exist counts as a missing run. A metric that some seeds of a (dataset, variant) have
    and others lack, or whose value is NaN, is a missing value for that seed. Nothing is dropped
    silently: every gap is a row of ``missing`` and a warning in the log.
    """
    expected = sorted(set(expected))
    frames, missing = [], []
    for dataset, variant, seed in expected:
        path = paths.get((dataset, variant, seed))
        if path is None or not Path(path).exists():
            missing.append((dataset, variant, seed, None, None, None, None, f"metrics file absent: {path}"))
            continue
        df = read_run_metrics(path)
        df.insert(0, "seed", seed)
        df.insert(0, "variant", variant)
        df.insert(0, "dataset", dataset)
        frames.append(df)
    tidy = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=TIDY_COLUMNS)
    tidy = tidy[TIDY_COLUMNS]
    tidy["seed"] = tidy["seed"].astype("int64")
    tidy["value"] = tidy["value"].astype("float64")

    # A metric present for some seeds of a (dataset, variant) but not others; NaN values.
    present_runs = {(d, v, s) for d, v, s in expected} - {(m[0], m[1], m[2]) for m in missing}
    for (dataset, variant), group in tidy.groupby(["dataset", "variant"], sort=True):
        seeds_run = sorted(s for d, v, s in present_runs if d == dataset and v == variant)
        for key, sub in group.groupby(["task", "method", "split", "metric"], sort=True):
            have = set(sub["seed"])
            for seed in seeds_run:
                if seed not in have:
                    missing.append((dataset, variant, seed, *key, "metric absent from this run's metrics file"))
            for seed in sorted(sub.loc[sub["value"].isna(), "seed"]):
                missing.append((dataset, variant, seed, *key, "value is NaN"))
    missing_df = pd.DataFrame(missing, columns=MISSING_COLUMNS)
    if len(missing_df):
        missing_df = missing_df.sort_values(["dataset", "variant", "seed"], kind="stable").reset_index(drop=True)
        for row in missing_df.itertuples(index=False):
            what = "run" if row.task is None else f"{row.task}/{row.method}/{row.split}/{row.metric}"
            log.warning("missing: %s %s seed %s %s: %s", row.dataset, row.variant, row.seed, what, row.reason)
    return tidy.sort_values(TIDY_COLUMNS[:-1], kind="stable").reset_index(drop=True), missing_df


def attach_settings(tidy: pd.DataFrame, settings: pd.DataFrame) -> pd.DataFrame:
    """The tidy table with each variant's resolved settings (the ablation setting) as columns."""
    merged = tidy.merge(settings, on=["dataset", "variant"], how="left", validate="many_to_one")
    setting_cols = [c for c in settings.columns if c not in ("dataset", "variant")]
    return merged[["dataset", "variant", *setting_cols, "seed", "task", "method", "split", "metric", "value"]]
