"""The data stage on the real P5 Beauty sequences (skipped where ../shared is absent)."""

from __future__ import annotations

import pytest

from peapod.data.p5 import read_p5_directory
from peapod.data.tables import build_tables, sequences_from_table
from tests.helpers import SHARED_BEAUTY

pytestmark = pytest.mark.skipif(not SHARED_BEAUTY.exists(), reason="real P5 Beauty data not beside the repo")


def test_beauty_counts_and_round_trip():
    raw = read_p5_directory(SHARED_BEAUTY)
    tables = build_tables(raw, "beauty")
    assert (tables.stats["users"], tables.stats["items"], tables.stats["reviews"]) == (22_363, 12_101, 198_502)
    assert sequences_from_table(tables.tables["sequences"]) == raw.sequences
    # The file itself, line by line (it has CRLF endings).
    lines = (SHARED_BEAUTY / "sequential_data.txt").read_bytes().decode().splitlines()
    from_file = {int(line.split()[0]): [int(x) for x in line.split()[1:]] for line in lines}
    assert sequences_from_table(tables.tables["sequences"]) == from_file
    assert tables.stats["test_negatives_source"].startswith("sampled")
    assert tables.stats["explanation_task"] is False
