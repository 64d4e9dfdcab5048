"""Per-user results and their summaries: the tidy per-run metrics file, and a breakdown by how
much history a user has (cold to warm; the buckets are peapod.sampling's)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from peapod.sampling import DEFAULT_HISTORY_EDGES, history_bucket_labels


def metrics_table(per_user: pd.DataFrame) -> pd.DataFrame:
    """Per-user wide results (user_id, task, method, split, <metric columns>) to the tidy per-run
    table: task, method, split, metric, value (the mean over users)."""
    id_cols = ["task", "method", "split"]
    metric_cols = [c for c in per_user.columns if c not in id_cols + ["user_id", "rank", "history_length"]]
    long = per_user.melt(id_vars=id_cols, value_vars=metric_cols, var_name="metric", value_name="value")
    long = long.dropna(subset=["value"])
    out = long.groupby(id_cols + ["metric"], sort=True)["value"].mean().reset_index()
    return out.astype({"value": np.float64})


def bucket_summary(per_user: pd.DataFrame, edges: Sequence[int] = DEFAULT_HISTORY_EDGES) -> pd.DataFrame:
    """Mean of every metric per (task, method, split, history bucket), with the number of users."""
    df = per_user.copy()
    df["history_bucket"] = history_bucket_labels(df["history_length"].tolist(), edges)
    id_cols = ["task", "method", "split", "history_bucket"]
    metric_cols = [c for c in df.columns if c not in id_cols + ["user_id", "rank", "history_length"]]
    grouped = df.groupby(id_cols, sort=False)
    summary = grouped[metric_cols].mean()
    summary.insert(0, "users", grouped.size())
    order = {label: i for i, label in enumerate(history_bucket_labels([1] + [e + 1 for e in sorted(edges)], edges))}
    summary = summary.reset_index()
    summary["_order"] = summary["history_bucket"].map(order)
    return summary.sort_values(["task", "method", "split", "_order"]).drop(columns="_order").reset_index(drop=True)
