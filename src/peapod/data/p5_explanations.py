"""The explanation splits of a P5 / POD dataset: P5's ``exp_splits.pkl`` (raw reviewerID/asin,
loaded by the restricted unpickler) or POD's ``explanation.json`` (numeric user/item), each split a
list of records, read into ExplanationRecords in the dataset's id space. Every problem is an
InputError naming the file, the record (``split[index]``) and what is wrong."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from peapod.data.raw import ExplanationRecord
from peapod.data.safe_pickle import load_plain_pickle
from peapod.data.textfiles import duplicate_keys, is_id_token, read_json
from peapod.errors import InputError
from peapod.splits import EXPLANATION_SPLITS

# Split names as the two explanation formats spell them, mapped to ours.
_SPLIT_ALIASES = {"train": "train", "val": "valid", "valid": "valid", "validation": "valid", "test": "test"}


def _load_explanation_splits(path: Path) -> dict[str, tuple[str, list]]:
    """{our split name: (the file's name for it, its records)}."""
    if path.suffix == ".pkl":
        splits = load_plain_pickle(path)
    else:
        splits = read_json(path)
    if not isinstance(splits, dict):
        raise InputError(path, f"expected a mapping of splits, got {type(splits).__name__}")
    repeated = duplicate_keys(splits)
    if repeated:
        raise InputError(path, f"split {repeated[0]!r} is given twice")
    unknown = [k for k in splits if k not in _SPLIT_ALIASES]
    if unknown:
        raise InputError(path, f"unknown split name {unknown[0]!r}; expected train, val and test")
    result: dict[str, tuple[str, list]] = {}
    for key, records in splits.items():
        split = _SPLIT_ALIASES[key]
        if split in result:
            raise InputError(path, f"split {split!r} is given twice")
        if not isinstance(records, list):
            raise InputError(path, f"split {key!r} must be a list, not {type(records).__name__}", key)
        result[split] = (key, records)
    missing = [s for s in EXPLANATION_SPLITS if s not in result]
    if missing:
        raise InputError(path, f"split {missing[0]!r} is missing")
    return result


def _optional_float(path: Path, where: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(path, f"rating {value!r} is not a finite number", where)
    return float(value)


def _optional_int(path: Path, where: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(path, f"timestamp {value!r} is not an integer", where)
    return value


def _numeric_id(path: Path, where: str, field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not is_id_token(str(value)):
        raise InputError(path, f"'{field}' {value!r} is not a positive integer id", where)
    return int(value)


def read_explanations(
    path: str | Path,
    users: dict[int, str],
    items: dict[int, str],
) -> list[ExplanationRecord]:
    """Read P5 ``exp_splits.pkl`` (raw reviewerID/asin) or POD ``explanation.json`` (numeric
    user/item) into records in the dataset's id space."""
    path = Path(path)
    splits = _load_explanation_splits(path)
    raw_format = path.suffix == ".pkl"
    user_of_raw = {raw: uid for uid, raw in users.items()}
    item_of_raw = {raw: iid for iid, raw in items.items()}
    records: list[ExplanationRecord] = []
    for split, (name, entries) in splits.items():
        for index, entry in enumerate(entries):
            where = f"{name}[{index}]"
            if not isinstance(entry, dict):
                raise InputError(path, f"expected a record mapping, got {type(entry).__name__}", where)
            repeated = duplicate_keys(entry)
            if repeated:
                problem = f"field '{repeated[0]}' is given twice (JSON readers keep only the last)"
                raise InputError(path, problem, where)
            if raw_format:
                needed = ("reviewerID", "asin", "explanation")
            else:
                needed = ("user", "item", "explanation")
            for key in needed:
                if key not in entry:
                    raise InputError(path, f"missing field '{key}'", where)
            if raw_format:
                raw_user, raw_item = entry["reviewerID"], entry["asin"]  # only str can match a raw id
                user_id = user_of_raw.get(raw_user) if isinstance(raw_user, str) else None
                if user_id is None:
                    raise InputError(path, f"reviewerID {raw_user!r} is not in datamaps.json", where)
                item_id = item_of_raw.get(raw_item) if isinstance(raw_item, str) else None
                if item_id is None:
                    raise InputError(path, f"asin {raw_item!r} is not in datamaps.json", where)
            else:
                user_id = _numeric_id(path, where, "user", entry["user"])
                item_id = _numeric_id(path, where, "item", entry["item"])
                if user_id not in users:
                    raise InputError(path, f"user {user_id} is not a known user id", where)
                if item_id not in items:
                    raise InputError(path, f"item {item_id} is not a known item id", where)
            text = entry["explanation"]
            if not isinstance(text, str) or not text.strip():
                raise InputError(path, f"explanation must be non-empty text, got {text!r}", where)
            feature = entry.get("feature")
            if feature is not None and not isinstance(feature, str):
                raise InputError(path, f"feature must be text, got {feature!r}", where)
            records.append(
                ExplanationRecord(
                    split=split,
                    user_id=user_id,
                    item_id=item_id,
                    explanation=text.strip(),
                    feature=feature,
                    rating=_optional_float(path, where, entry.get("overall", entry.get("rating"))),
                    timestamp=_optional_int(path, where, entry.get("unixReviewTime", entry.get("time"))),
                )
            )
    return records
