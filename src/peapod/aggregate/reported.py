"""The papers' reported numbers (config/reported.yaml): loaded, validated, as a long table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from peapod.aggregate.collect import METRICS, TASKS
from peapod.errors import InputError

ROW_KEYS = {"model", "reproduced_by", "backbone", "dataset", "task", "method", "source", "values"}
REQUIRED = {"model", "dataset", "task", "method", "source", "values"}
SOURCE_KEYS = {"paper", "table", "read_from", "note"}
COLUMNS = ["model", "reproduced_by", "backbone", "dataset", "task", "method", "metric", "value", "source", "paper", "table", "read_from"]


def load_reported(path: str | Path) -> pd.DataFrame:
    """One row per reported number, with its source's paper, table and where it was read."""
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    sources = doc.get("sources") or {}
    for sid, src in sources.items():
        if not isinstance(src, dict) or not {"paper", "table", "read_from"} <= set(src) or set(src) - SOURCE_KEYS:
            raise InputError(path, "a source needs paper, table and read_from (and optionally note)", where=f"sources.{sid}")
    rows = []
    for i, entry in enumerate(doc.get("rows") or []):
        where = f"rows[{i}]"
        if not isinstance(entry, dict):
            raise InputError(path, "a row must be a mapping", where=where)
        if REQUIRED - set(entry):
            raise InputError(path, f"missing key(s) {', '.join(sorted(REQUIRED - set(entry)))}", where=where)
        if set(entry) - ROW_KEYS:
            raise InputError(path, f"unknown key(s) {', '.join(sorted(set(entry) - ROW_KEYS))}", where=where)
        if entry["source"] not in sources:
            raise InputError(path, f"source {entry['source']!r} is not defined under sources:", where=where)
        if entry["task"] not in TASKS:
            raise InputError(path, f"task {entry['task']!r} is not one of {', '.join(TASKS)}", where=where)
        src = sources[entry["source"]]
        for metric, value in (entry["values"] or {}).items():
            if metric not in METRICS:
                raise InputError(path, f"metric {metric!r} is not one of {', '.join(METRICS)}", where=where)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise InputError(path, f"{metric}: value {value!r} is not a number", where=where)
            upper = 1.0 if metric.startswith(("hr", "ndcg")) else 100.0
            if not 0 <= value <= upper:
                raise InputError(path, f"{metric}: value {value} outside [0, {upper:g}]", where=where)
            rows.append(
                {
                    "model": str(entry["model"]),
                    "reproduced_by": entry.get("reproduced_by"),
                    "backbone": entry.get("backbone", "t5-small"),
                    "dataset": entry["dataset"],
                    "task": entry["task"],
                    "method": entry["method"],
                    "metric": metric,
                    "value": float(value),
                    "source": entry["source"],
                    "paper": src["paper"],
                    "table": src["table"],
                    "read_from": src["read_from"],
                }
            )
    df = pd.DataFrame(rows, columns=COLUMNS)
    dup = df.duplicated(["model", "backbone", "dataset", "task", "method", "metric"], keep=False)
    if dup.any():
        r = df[dup].iloc[0]
        raise InputError(path, f"{r.model} {r.dataset} {r.task} {r.metric} is given more than once")
    return df
