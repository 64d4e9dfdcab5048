"""Text input primitives: UTF-8 that names the bad byte's line, ASCII id tokens, JSON that keeps
repeated keys visible, and numbered lines of a plain or gzip-compressed text file, for the
line-based raw formats (P5 files, Amazon reviews, your own CSV/TSV interactions)."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import Any, Iterator

from peapod.errors import InputError


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


def is_gzip_name(path: Path) -> bool:
    return path.suffix == ".gz"


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, text with its line ending) for every line; bytes that are not
    UTF-8 and a truncated or corrupt gzip stream stop with an InputError at their line."""
    number = 0
    with (gzip.open(path, "rb") if is_gzip_name(path) else open(path, "rb")) as handle:
        try:
            for number, raw in enumerate(handle, start=1):
                yield number, decode_utf8(path, raw, number)
        except (OSError, EOFError, zlib.error) as exc:  # truncated or corrupt gzip
            raise InputError(path, f"cannot be read to the end ({exc})", number + 1) from None
