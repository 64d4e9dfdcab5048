"""One `snakemake recommendations` request: what it asks for, and the name its outputs go under.

Each request writes under ``results/<dataset>/recommendations/<name>/`` (peapod.paths), so a new
request never replaces, and a failed one never removes, the files of another. The name is
``recommend.label`` when set, else a short hash of what was asked: the settings that change the
files and the *content* of the users and pairs files. A label already recorded for a different
request is refused rather than overwritten. No torch here: the workflow calls this while parsing.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from peapod.io import file_sha256

NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"  # a label, or the hash; one directory level
HASH_CHARS = 10
# What changes the written files (batch_size does not: it only groups the prompts).
SETTINGS = ("top_k", "beams", "history", "exclude_history")
EXPLANATION_SETTINGS = ("explanation_beams", "explanation_min_length", "explanation_max_length")


def _file(path: str | None, dataset: str) -> dict[str, Any] | None:
    """A users or pairs file ({dataset} filled) with the SHA-256 of its bytes (None while missing:
    the job then stops on the missing input)."""
    if path is None:
        return None
    path = path.format(dataset=dataset)
    return {"path": path, "sha256": file_sha256(path) if Path(path).is_file() else None}


def asked(recommend: dict, evaluation: dict, dataset: str) -> dict[str, Any]:
    """What the ``recommend:`` section (and, with pairs, the evaluation's explanation search)
    asks of one dataset."""
    record = {"settings": {key: recommend[key] for key in SETTINGS},
              "users": _file(recommend["users"], dataset), "pairs": _file(recommend["pairs"], dataset)}
    if record["pairs"]:
        record["explanation"] = {key: evaluation[key] for key in EXPLANATION_SETTINGS}
    return record


def fingerprint(request: dict[str, Any]) -> str:
    """SHA-256 of what an :func:`asked` record asks: files by content, not by path."""
    content = {**request}
    for key, everything in (("users", "all users"), ("pairs", "no pairs")):
        entry = request[key]
        content[key] = everything if entry is None else entry["sha256"] or f"missing {entry['path']}"
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def request_name(label: str | None, request: dict[str, Any]) -> str:
    if label is not None:
        if not re.fullmatch(NAME, label):
            raise ValueError(f"recommend.label {label!r} is not a name of letters, digits, '_', '.' and '-'")
        return label
    return fingerprint(request)[:HASH_CHARS]


def conflict(record_path: str | Path, request: dict[str, Any]) -> str | None:
    """Why ``request`` may not write under the name whose request.json is ``record_path``: that
    name already holds a different request (a label used again). None when it may."""
    path = Path(record_path)
    if not path.is_file():
        return None
    earlier = json.loads(path.read_text(encoding="utf-8"))
    if earlier.get("fingerprint") == fingerprint(request):
        return None
    return (f"{path.parent} holds an earlier request ({path} says what it asked), and the config asks "
            f"something else under the same name {earlier.get('request')!r} (recommend.label): set another "
            "label (or none, for a name from what is asked), or move that directory away")


def request_record(name: str, label: str | None, dataset: str, request: dict[str, Any],
                   variants: list[str], seeds: list[int]) -> dict[str, Any]:
    """What request.json says: the name and why, what was asked, and the runs asked for."""
    return {"request": name, "label": label, "dataset": dataset, "fingerprint": fingerprint(request),
            **request, "variants": list(variants), "seeds": [int(s) for s in seeds]}


def check_files(record: dict[str, Any]) -> None:
    """Stop when a users or pairs file changed since the workflow read it (the name hashes what it
    read then)."""
    for key in ("users", "pairs"):
        entry = record.get(key)
        if entry and file_sha256(entry["path"]) != entry["sha256"]:
            raise ValueError(f"{entry['path']} changed while the workflow ran: run it again")


def stamped(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "written": datetime.now(timezone.utc).isoformat(timespec="seconds")}
