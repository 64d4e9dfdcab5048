"""Readers for the P5 / POD file formats.

Files (all in one directory):
  sequential_data.txt (P5) or sequential.txt (POD)   ``uid iid iid ...``, LF or CRLF
  negative_samples.txt (P5) or negative.txt (POD)    ``uid n1 ... n99``             optional
  datamaps.json                                     user2id/item2id and/or id2user/id2item
  exp_splits.pkl (P5) or explanation.json (POD)     explanation splits             optional

Every reader validates as it goes and raises :class:`InputError` naming file, line/record, problem.
The explanation splits' reader is peapod.data.p5_explanations' (re-exported here), the UTF-8 and
JSON primitives peapod.data.textfiles'.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from peapod.data.p5_explanations import read_explanations
from peapod.data.raw import RawDataset
from peapod.data.textfiles import (  # noqa: F401 (decode_utf8, is_id_token, read_json: re-exported, as before the split)
    decode_utf8, duplicate_keys, is_id_token, read_json,
)
from peapod.errors import InputError

SEQUENCE_FILES = ("sequential_data.txt", "sequential.txt")
NEGATIVE_FILES = ("negative_samples.txt", "negative.txt")
DATAMAPS_FILE = "datamaps.json"
EXPLANATION_FILES = ("exp_splits.pkl", "explanation.json")
MIN_SEQUENCE_LENGTH = 3  # leave-two-out needs at least one training item

def find_first(directory: str | Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        candidate = Path(directory) / name
        if candidate.exists():
            return candidate
    return None


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
