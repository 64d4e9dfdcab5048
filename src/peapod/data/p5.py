"""Readers for the P5 / POD file formats.

Files (all in one directory):
  sequential_data.txt (P5) or sequential.txt (POD)   ``uid iid iid ...``, LF or CRLF
  negative_samples.txt (P5) or negative.txt (POD)    ``uid n1 ... n99``             optional
  datamaps.json                                     user2id/item2id and/or id2user/id2item
  exp_splits.pkl (P5) or explanation.json (POD)     explanation splits             optional

Every reader validates as it goes and raises :class:`InputError` naming file, line/record, problem.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterator

from peapod.data.raw import ExplanationRecord, RawDataset
from peapod.data.safe_pickle import load_plain_pickle
from peapod.errors import InputError
from peapod.splits import EXPLANATION_SPLITS

SEQUENCE_FILES = ("sequential_data.txt", "sequential.txt")
NEGATIVE_FILES = ("negative_samples.txt", "negative.txt")
DATAMAPS_FILE = "datamaps.json"
EXPLANATION_FILES = ("exp_splits.pkl", "explanation.json")
MIN_SEQUENCE_LENGTH = 3  # leave-two-out needs at least one training item

# Split names as the two explanation formats spell them, mapped to ours.
_SPLIT_ALIASES = {"train": "train", "val": "valid", "valid": "valid", "validation": "valid", "test": "test"}


def find_first(directory: str | Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        candidate = Path(directory) / name
        if candidate.exists():
            return candidate
    return None


def decode_utf8(path: str | Path, data: bytes, where: int | str | None = None) -> str:
    """``data`` as text, or an InputError saying why it is not UTF-8, at ``where`` or else at the
    line of the first bad byte. NUL bytes are refused too: UTF-8 allows them, but in a text file
    they mean UTF-16 or binary data."""
    offset = data.find(b"\x00")
    if offset >= 0:
        reason, hint = "NUL byte", "; UTF-16 or binary data?"
    else:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            offset, reason, hint = exc.start, exc.reason, ""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        hint = "; it starts with a UTF-16 byte-order mark: save it as UTF-8"
    if where is None:
        where = data.count(b"\n", 0, offset) + 1
        offset -= data.rfind(b"\n", 0, offset) + 1
    raise InputError(path, f"not UTF-8 text ({reason} at byte {offset}{hint})", where)


def is_id_token(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` alone also accepts '²' (which ``int`` rejects) and other
    scripts' digits."""
    return text.isascii() and text.isdigit()


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) for non-empty lines, accepting LF or CRLF; a blank line inside the
    file or a last line without its line ending is an error, trailing blank lines are not."""
    data = path.read_bytes()
    if not data.strip():
        raise InputError(path, "file is empty")
    raw_lines = data.split(b"\n")
    while raw_lines and not raw_lines[-1].strip():
        raw_lines.pop()
    # Every writer ends its last line; a file cut short mid-line often still parses as a shorter,
    # valid-looking sequence, so a last line without its line ending is refused.
    unterminated = not data.rstrip(b" \t\r").endswith(b"\n")
    for number, raw in enumerate(raw_lines, start=1):
        if unterminated and number == len(raw_lines):
            raise InputError(
                path,
                "the last line has no line ending, so the file looks truncated "
                "(if that line is complete, end it with a newline)",
                number,
            )
        text = decode_utf8(path, raw, number).rstrip("\r")
        if not text.strip():
            raise InputError(path, "empty line", number)
        yield number, text


class JSONObject(dict):
    """A JSON object that gave some key more than once (``json`` silently keeps the last value)."""

    duplicates: list[str]


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        obj = JSONObject(pairs)
        seen: set[str] = set()
        obj.duplicates = []
        for key, _ in pairs:
            if key in seen:
                obj.duplicates.append(key)
            seen.add(key)
    return obj


def duplicate_keys(obj: Any) -> list[str]:
    """The keys a JSON object read by :func:`read_json` gave more than once."""
    return getattr(obj, "duplicates", [])


def read_json(path: Path) -> Any:
    """Parse a UTF-8 JSON file; objects with a repeated key come back as :class:`JSONObject`, for
    the caller to refuse where a repeat would lose data."""
    data = path.read_bytes()
    if not data.strip():
        raise InputError(path, "file is empty")
    try:
        return json.loads(decode_utf8(path, data), object_pairs_hook=_object_pairs)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None


def _parse_id_line(path: Path, number: int, text: str) -> list[int]:
    ids = []
    for token in text.split():
        if not is_id_token(token) or int(token) < 1:
            raise InputError(path, f"{token!r} is not a positive integer id", number)
        ids.append(int(token))
    return ids


def read_sequences(path: str | Path, min_length: int = MIN_SEQUENCE_LENGTH) -> dict[int, list[int]]:
    """Read ``uid iid iid ...`` lines into {user id: items in time order}."""
    path = Path(path)
    sequences: dict[int, list[int]] = {}
    first_line: dict[int, int] = {}
    for number, text in _lines(path):
        ids = _parse_id_line(path, number, text)
        user, items = ids[0], ids[1:]
        if user in sequences:
            raise InputError(path, f"user {user} appears again (first on line {first_line[user]})", number)
        if len(items) < min_length:
            raise InputError(
                path,
                f"user {user} has {len(items)} item(s); leave-two-out splitting needs at least {min_length}",
                number,
            )
        sequences[user] = items
        first_line[user] = number
    return sequences


def read_negatives(
    path: str | Path,
    sequences: dict[int, list[int]],
    n_negatives: int,
    catalogue: dict[int, str] | None = None,
) -> dict[int, list[int]]:
    """Read ``uid n1 ... nK`` lines; each user of ``sequences`` needs exactly one line of K distinct
    items, none of them in that user's sequence and, given the ``catalogue``, all of them in it."""
    path = Path(path)
    negatives: dict[int, list[int]] = {}
    first_line: dict[int, int] = {}
    for number, text in _lines(path):
        ids = _parse_id_line(path, number, text)
        user, items = ids[0], ids[1:]
        if user not in sequences:
            raise InputError(path, f"user {user} has no sequence in the sequence file", number)
        if user in negatives:
            raise InputError(path, f"user {user} appears again (first on line {first_line[user]})", number)
        if len(items) != n_negatives:
            raise InputError(path, f"user {user} has {len(items)} negatives, expected {n_negatives}", number)
        if len(set(items)) != len(items):
            duplicate = next(i for i in items if items.count(i) > 1)
            raise InputError(path, f"user {user}: negative item {duplicate} is listed twice", number)
        unknown = [i for i in items if catalogue is not None and i not in catalogue]
        if unknown:
            raise InputError(path, f"user {user}: negative item {unknown[0]} is not a known item id", number)
        history = set(sequences[user])
        inside = [i for i in items if i in history]
        if inside:
            raise InputError(
                path, f"user {user}: negative item {inside[0]} is in the user's own history", number
            )
        negatives[user] = items
        first_line[user] = number
    missing = [u for u in sequences if u not in negatives]
    if missing:
        raise InputError(path, f"{len(missing)} user(s) have no negatives line (first: user {missing[0]})")
    return negatives


def _invert(path: Path, forward: dict[str, str], name: str) -> dict[str, str]:
    inverse: dict[str, str] = {}
    for key, value in forward.items():
        if value in inverse:
            raise InputError(path, f"{name} maps both '{inverse[value]}' and '{key}' to {value}", name)
        inverse[value] = key
    return inverse


def _id_map(path: Path, maps: dict[str, Any], kind: str) -> dict[int, str]:
    """Return {numeric id: raw id} for ``kind`` in (user, item) from whichever maps are present."""
    to_id, from_id = f"{kind}2id", f"id2{kind}"
    forward, backward = maps.get(to_id), maps.get(from_id)
    for name, table in ((to_id, forward), (from_id, backward)):
        if table is not None and not isinstance(table, dict):
            raise InputError(path, f"'{name}' must be an object, not {type(table).__name__}", name)
        repeated = duplicate_keys(table)
        if repeated:
            key = repeated[0]
            raise InputError(
                path, f"'{name}' lists '{key}' twice (JSON readers keep only the last)", f"{name}['{key}']"
            )
    if forward is None and backward is None:
        raise InputError(path, f"neither '{to_id}' nor '{from_id}' is present")
    if backward is None:
        backward = _invert(path, {str(k): str(v) for k, v in forward.items()}, to_id)
    else:
        backward = {str(k): str(v) for k, v in backward.items()}
        if forward is None:
            _invert(path, backward, from_id)  # two ids for one raw id: a duplicated user or item
        else:
            if len(forward) != len(backward):
                raise InputError(
                    path, f"'{to_id}' has {len(forward)} entries but '{from_id}' has {len(backward)}", to_id
                )
            for raw, numeric in forward.items():
                if backward.get(str(numeric)) != raw:
                    raise InputError(
                        path,
                        f"mismatched maps: {to_id}['{raw}'] = {numeric} but "
                        f"{from_id}['{numeric}'] = {backward.get(str(numeric))!r}",
                        f"{to_id}['{raw}']",
                    )
    result: dict[int, str] = {}
    for numeric, raw in backward.items():
        if not is_id_token(numeric) or int(numeric) < 1:
            where = f"{from_id}['{numeric}']" if from_id in maps else f"{to_id}['{raw}']"
            raise InputError(path, f"id '{numeric}' is not a positive integer", where)
        result[int(numeric)] = raw
    return result


def read_datamaps(path: str | Path) -> tuple[dict[int, str], dict[int, str]]:
    """Return ({user id: reviewer id}, {item id: ASIN}); either direction of each map suffices."""
    path = Path(path)
    maps = read_json(path)
    if not isinstance(maps, dict):
        raise InputError(path, f"top level must be an object, not {type(maps).__name__}")
    repeated = duplicate_keys(maps)
    if repeated:
        key = repeated[0]
        raise InputError(path, f"'{key}' is given twice (JSON readers keep only the last)", key)
    return _id_map(path, maps, "user"), _id_map(path, maps, "item")


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


def check_ids_known(
    path: Path, sequences: dict[int, list[int]], users: dict[int, str], items: dict[int, str]
) -> None:
    """Every user and item of the sequences must be in the maps, and every mapped user must have a
    sequence (the maps and the sequences describe the same users)."""
    for user, seq in sequences.items():
        if user not in users:
            raise InputError(path, f"user {user} is not in datamaps.json", f"user {user}")
        for item in seq:
            if item not in items:
                raise InputError(path, f"user {user}: item {item} is not in datamaps.json", f"user {user}")
    absent = [u for u in users if u not in sequences]
    if absent:
        raise InputError(
            path,
            f"datamaps.json lists {len(absent)} user(s) with no sequence (first: user {absent[0]})",
        )


def discover_p5_files(directory: str | Path) -> dict[str, str]:
    """The P5/POD files present in ``directory``, by role (sequences, datamaps, negatives,
    explanations). The sequence file is always listed, under its P5 name if absent, so that a
    workflow reports it as the missing input."""
    directory = Path(directory)
    found = {"sequences": find_first(directory, SEQUENCE_FILES) or directory / SEQUENCE_FILES[0]}
    for role, names in (("datamaps", (DATAMAPS_FILE,)), ("negatives", NEGATIVE_FILES), ("explanations", EXPLANATION_FILES)):
        path = find_first(directory, names)
        if path is not None:
            found[role] = path
    return {role: str(path) for role, path in found.items()}


def missing_p5_data(datasets: dict[str, dict]) -> str | None:
    """A message naming every ``source: p5`` dataset whose sequence file is missing (and where the
    docs say how to get the files), or None when each has one. A directory read by several datasets
    (an id-order twin reads its dataset's) is named once, under the first."""
    missing, seen = [], set()
    for name, spec in datasets.items():
        if spec.get("source") != "p5" or Path(spec["path"]) in seen:
            continue
        seen.add(Path(spec["path"]))
        if find_first(Path(spec["path"]), SEQUENCE_FILES) is None:
            missing.append(f"  {name}: {Path(spec['path']) / SEQUENCE_FILES[0]} (or {SEQUENCE_FILES[1]}), "
                           f"with {DATAMAPS_FILE} beside it")
    if not missing:
        return None
    return ("The P5 files of {} dataset(s) are missing:\n{}\nGet them as docs/paper-study.md says (section "
            "\"Data: the P5 files\"), or point datasets.<name>.path at a directory that has them.").format(
        len(missing), "\n".join(missing))


def read_p5_files(
    sequences: str | Path,
    datamaps: str | Path | None = None,
    negatives: str | Path | None = None,
    explanations: str | Path | None = None,
    n_negatives: int = 99,
) -> RawDataset:
    """Read P5/POD files; all but the sequence file are optional."""
    seq_path = Path(sequences)
    if not seq_path.exists():
        raise InputError(seq_path, "sequence file does not exist")
    notes: list[str] = [f"sequences read from {seq_path.name}"]
    seqs = read_sequences(seq_path)

    if datamaps is not None:
        users, items = read_datamaps(datamaps)
        check_ids_known(seq_path, seqs, users, items)
        unused = len(items) - len({i for seq in seqs.values() for i in seq})
        if unused:
            notes.append(f"{unused} item(s) in datamaps.json never occur in a sequence; kept in the catalogue")
    else:
        users = {u: str(u) for u in seqs}
        items = {i: str(i) for i in sorted({i for seq in seqs.values() for i in seq})}
        notes.append("no datamaps.json: raw ids are the numeric ids")

    test_negatives = None
    if negatives is not None:
        test_negatives = read_negatives(negatives, seqs, n_negatives, items)
        notes.append(f"test negatives read from {Path(negatives).name}")

    records = None
    if explanations is not None:
        if Path(explanations).suffix == ".pkl" and datamaps is None:
            raise InputError(explanations, "needs datamaps.json to map reviewerID/asin to ids, and there is none")
        records = read_explanations(explanations, users, items)
        notes.append(f"explanations read from {Path(explanations).name}")
    return RawDataset(users, items, seqs, test_negatives, records, notes)


def read_p5_directory(directory: str | Path, n_negatives: int = 99) -> RawDataset:
    """Read a P5 or POD data directory. Negatives and explanations are optional."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(directory, "data directory does not exist")
    return read_p5_files(**discover_p5_files(directory), n_negatives=n_negatives)
