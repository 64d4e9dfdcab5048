"""Your own data (``source: interactions``): a table of time-stamped (user, item) interactions in
CSV, TSV (either optionally gzip-compressed) or Parquet, turned into P5 sequences the P5 way
(peapod.data.p5_sequences). docs/own-data.md documents the format and every error.

Columns (names configurable): user, item, timestamp required; rating and text optional. A
timestamp is unix seconds (an integer or a decimal number) or an ISO-8601 date or date-time (no
time zone means UTC). Rows are checked before anything is built:

- the same (user, item, timestamp) twice is an error naming both lines (``duplicates: drop``
  keeps the first line instead);
- the same (user, item) at different times is kept once, at its earliest time (the P5 datasets
  hold one review per user and item; a repeat would make a held-out item also a training item),
  and the dataset's notes count what was dropped.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from peapod.data.p5_sequences import Interaction, Locate, as_line, build_p5_dataset, place
from peapod.data.raw import RawDataset
from peapod.data.textfiles import numbered_lines
from peapod.errors import InputError

REQUIRED_COLUMNS = ("user", "item", "timestamp")
OPTIONAL_COLUMNS = ("rating", "text")
DELIMITERS = {".csv": ",", ".tsv": "\t"}
SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".parquet")


@dataclass(frozen=True)
class InteractionsSpec:
    """How to read one interactions file (the dataset's config entry, less what is the P5 way's)."""

    columns: dict[str, str] = field(default_factory=dict)  # role -> the file's column name, if not the role's
    duplicates: str = "error"  # an exact duplicate row: "error" or "drop" (keep the first line)

    def __post_init__(self):
        if self.duplicates not in ("error", "drop"):
            raise ValueError(f"duplicates must be 'error' or 'drop', not {self.duplicates!r}")
        unknown = set(self.columns) - set(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
        if unknown:
            raise ValueError(f"columns: unknown role(s) {sorted(unknown)}")

    def column(self, role: str) -> str:
        return self.columns.get(role, role)


def file_kind(path: Path) -> str:
    """".csv", ".tsv" or ".parquet" (a .gz suffix is read through)."""
    name = path.name.lower()
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return suffix.removesuffix(".gz")
    raise InputError(path, f"unknown interactions format: the file name must end in {', '.join(SUFFIXES)}")


def parse_time(value: Any) -> float | None:
    """Seconds since the epoch from unix seconds (a number or its text) or ISO-8601 text (UTC when
    it names no zone), or a Parquet timestamp; None when it is none of these."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        number = float(text)
        return number if math.isfinite(number) else None
    except ValueError:
        pass
    try:
        return parse_time(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def parse_rating(value: Any) -> float | None:
    """The rating as a float, None when empty; ValueError when it is not a finite number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    rating = float(value)  # ValueError (or TypeError, made ValueError) when not a number
    if not math.isfinite(rating):
        raise ValueError(value)
    return rating


def pick_columns(path: Path, found: list[str], spec: InteractionsSpec, where: int | None) -> dict[str, int]:
    """role -> position of its column; a missing required column, or an optional one the config
    named, is an error listing the columns found."""
    positions = {}
    for role in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
        name = spec.column(role)
        if name in found:
            positions[role] = found.index(name)
        elif role in REQUIRED_COLUMNS or role in spec.columns:
            renamed = "" if name == role else f" ({role})"
            raise InputError(
                path, f"no column '{name}'{renamed}; columns found: {', '.join(map(repr, found)) or 'none'} "
                f"(datasets.<name>.columns maps other names){delimiter_hint(path, found)}", where)  # fmt: skip
    return positions


def delimiter_hint(path: Path, header: list[str]) -> str:
    """A hint when the header is one column holding another delimiter (a CSV saved with semicolons,
    as spreadsheets in many locales do), else ""."""
    kind = file_kind(path)
    if kind not in DELIMITERS or len(header) != 1:
        return ""
    for other, name in ((";", "';'"), ("\t", "tabs"), (",", "','"), ("|", "'|'")):
        if other != DELIMITERS[kind] and other in header[0]:
            wanted = "comma-separated" if kind == ".csv" else "tab-separated"
            return (f"; the header is one column holding {name}: a {kind} file is read as {wanted}, so save it "
                    f"{'with commas' if kind == '.csv' else 'with tabs'}"
                    f"{' (or with tabs as .tsv)' if kind == '.csv' else ' (or with commas as .csv)'}")
    return ""


def text_rows(path: Path, kind: str) -> Iterator[tuple[int, list[str]]]:
    """(line, fields) of a CSV or TSV file, the header first; a quoted field may span lines (the
    row is numbered by its first line), blank lines are skipped."""
    # A BOM as spreadsheets write it is not part of the first column's name.
    lines = (text.removeprefix("\ufeff") if n == 1 else text for n, text in numbered_lines(path))
    reader = csv.reader(lines, delimiter=DELIMITERS[kind], strict=True)
    while True:
        start = reader.line_num + 1  # line_num counts the lines read so far
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(path, f"not valid {kind[1:].upper()} ({exc})", start) from None
        if fields:
            yield start, fields


def parquet_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """The column names and (row, values) of a Parquet file, rows numbered from 1."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise InputError(path, f"cannot read as Parquet ({exc})") from None
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return table.column_names, ((n + 1, list(values)) for n, values in enumerate(zip(*columns)))


def raw_rows(path: Path, kind: str) -> tuple[list[str], int | None, Locate, Iterator[tuple[int, list[Any]]]]:
    """The header, where it is, how rows are located in messages, and the data rows of the file."""
    if kind == ".parquet":
        header, rows = parquet_rows(path)
        return header, None, lambda row: f"row {row}", rows
    rows = text_rows(path, kind)
    first = next(rows, None)
    if first is None:
        raise InputError(path, "file is empty")
    header_line, header = first

    def data_rows():
        for line, fields in rows:
            if len(fields) != len(header):
                raise InputError(path, f"{len(fields)} field(s), the header has {len(header)}", line)
            yield line, fields

    return header, header_line, as_line, data_rows()


def to_interaction(
    path: Path, number: int, locate: Locate, values: dict[str, Any], spec: InteractionsSpec
) -> Interaction:
    """One row's values by role, checked (``number``: its line or row, as Interaction.line)."""
    where = locate(number)
    ids = {}
    for role in ("user", "item"):
        value = values[role]
        if value is None or not str(value).strip():
            raise InputError(path, f"empty {role} ('{spec.column(role)}' column)", where)
        ids[role] = str(value).strip()
    time = parse_time(values["timestamp"])
    if time is None:
        raise InputError(
            path, f"timestamp {values['timestamp']!r} ('{spec.column('timestamp')}' column) is neither unix "
            "seconds nor an ISO-8601 date (e.g. 1389571200, 2014-01-13 or 2014-01-13T09:30:00Z)", where)  # fmt: skip
    try:
        rating = parse_rating(values.get("rating"))
    except (TypeError, ValueError):
        column = spec.column("rating")
        raise InputError(path, f"rating {values['rating']!r} ('{column}' column) is not a number", where) from None
    text = values.get("text")
    has_text = isinstance(text, str) and bool(text.strip())
    return Interaction(number, ids["user"], ids["item"], time, text=text if has_text else None, rating=rating)


def drop_repeats(
    path: Path, rows: list[Interaction], duplicates: str, locate: Locate
) -> tuple[list[Interaction], list[str]]:
    """Each (user, item) once, at its earliest time (ties: the first line). The same (user, item,
    timestamp) on two rows is an error naming both, unless ``duplicates`` is "drop"."""
    first_line: dict[tuple[str, str, float], int] = {}
    earliest: dict[tuple[str, str], Interaction] = {}
    exact = 0
    for row in rows:
        key = (row.user, row.item, row.time)
        if key in first_line:
            if duplicates != "drop":
                raise InputError(
                    path, f"duplicate row: user {row.user!r}, item {row.item!r} and timestamp as on "
                    f"{place(locate, first_line[key])} (set duplicates: drop to keep the first)", locate(row.line))  # fmt: skip
            exact += 1
            continue
        first_line[key] = row.line
        pair = (row.user, row.item)
        if pair not in earliest or (row.time, row.line) < (earliest[pair].time, earliest[pair].line):
            earliest[pair] = row
    kept = [row for row in rows if earliest.get((row.user, row.item)) is row]
    notes = []
    if exact:
        notes.append(f"{exact} duplicate row(s) (same user, item and timestamp) dropped (duplicates: drop)")
    repeats = len(rows) - exact - len(kept)
    if repeats:
        notes.append(f"{repeats} repeated (user, item) interaction(s) at a later time dropped: each pair is "
                     "kept once, at its earliest time")
    return kept, notes


def spec_of(dataset: dict[str, Any]) -> InteractionsSpec:
    """The InteractionsSpec of a dataset's config entry (``source: interactions``)."""
    return InteractionsSpec(columns=dict(dataset.get("columns", {})), duplicates=dataset.get("duplicates", "error"))


def checked_interactions(
    path: str | Path, spec: InteractionsSpec = InteractionsSpec(), explanations_from_text: bool | None = None
) -> tuple[list[Interaction], list[str], bool, Locate]:
    """Every row of the file, checked, each (user, item) once: (rows, notes, whether the text
    column makes explanations, how rows are located). Nothing is built, so the workflow can check
    a file when it loads (peapod.preflight) as the data stage will read it."""
    path = Path(path)
    kind = file_kind(path)
    header, header_line, locate, rows = raw_rows(path, kind)
    positions = pick_columns(path, header, spec, header_line)
    if explanations_from_text and "text" not in positions:
        raise InputError(path, f"explanations_from_text is true but there is no column '{spec.column('text')}'; "
                               f"columns found: {', '.join(map(repr, header))}", header_line)  # fmt: skip
    with_text = explanations_from_text is not False and "text" in positions
    records = [
        to_interaction(path, number, locate,
                       {role: fields[i] for role, i in positions.items() if role != "text" or with_text}, spec)
        for number, fields in rows
    ]
    if not records:
        raise InputError(path, "file holds no interactions")
    kept, notes = drop_repeats(path, records, spec.duplicates, locate)
    return kept, [f"interactions read from {kind[1:]}", *notes], with_text, locate


def read_interactions(
    path: str | Path,
    spec: InteractionsSpec = InteractionsSpec(),
    k: int = 0,
    item_numbering: str = "p5",
    explanations_from_text: bool | None = None,
) -> RawDataset:
    """Your own interactions file the P5 way (``k``-core, 0: none). Explanations come from the text
    column when ``explanations_from_text`` is true, or is None and the file has one."""
    kept, notes, with_text, locate = checked_interactions(path, spec, explanations_from_text)
    return build_p5_dataset(Path(path), kept, k=k, item_numbering=item_numbering, with_explanations=with_text,
                            locate=locate, notes=notes)
