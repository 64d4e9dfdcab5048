"""Numbered UTF-8 lines of a plain or gzip-compressed text file, for the line-based raw formats
(Amazon reviews, your own CSV/TSV interactions)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Iterator

from peapod.data.p5 import decode_utf8
from peapod.errors import InputError


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
