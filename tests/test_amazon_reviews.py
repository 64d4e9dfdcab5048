"""Raw Amazon 5-core reviews are turned into sequences the P5 way."""

from __future__ import annotations

import gzip
import json
import random

from peapod.data.amazon import read_amazon_reviews
from peapod.data.p5_sequences import k_core
from tests.helpers import dense_reviews


def write_reviews(path, records, python_literal=False):
    lines = [repr(r) if python_literal else json.dumps(r) for r in records]
    data = ("\n".join(lines) + "\n").encode()
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def test_k_core_is_iterative():
    # u0..u4 review i0..i4 (5-core). "ux" has 5 reviews, 4 of them on "rare" items that each have
    # one review: dropping those items leaves ux with one review, so ux must go too.
    pairs = [(f"u{u}", f"i{i}") for u in range(5) for i in range(5)]
    pairs += [("ux", "i0")] + [("ux", f"rare{j}") for j in range(4)]
    kept = k_core(pairs, 5)
    assert kept == {(f"u{u}", f"i{i}") for u in range(5) for i in range(5)}


def test_p5_procedure_numbering(tmp_path):
    records = dense_reviews()
    path = write_reviews(tmp_path / "reviews_Test_5.json", records)
    raw = read_amazon_reviews(path)
    # Users numbered in the order of a seed-2022 shuffle of first appearance in the file.
    first_seen = list(dict.fromkeys(r["reviewerID"] for r in records))
    random.Random(2022).shuffle(first_seen)
    assert [raw.users[u] for u in sorted(raw.users)] == first_seen
    # Each sequence in time order; items numbered by first appearance along the users in order.
    expected_ids: dict[str, int] = {}
    for uid in sorted(raw.users):
        mine = sorted(
            ((r["unixReviewTime"], n, r["asin"]) for n, r in enumerate(records) if r["reviewerID"] == raw.users[uid])
        )
        for _, _, asin in mine:
            expected_ids.setdefault(asin, len(expected_ids) + 1)
        assert raw.sequences[uid] == [expected_ids[a] for _, _, a in mine]
    assert {raw.items[i]: i for i in raw.items} == expected_ids
    # P5's numbering: user 1's items are 1..n in order.
    assert raw.sequences[1] == list(range(1, len(raw.sequences[1]) + 1))


def test_random_item_numbering_is_a_relabelling(tmp_path):
    path = write_reviews(tmp_path / "r.json", dense_reviews())
    p5 = read_amazon_reviews(path)
    rnd = read_amazon_reviews(path, item_numbering="random")
    assert p5.users == rnd.users
    for uid in p5.sequences:
        assert [p5.items[i] for i in p5.sequences[uid]] == [rnd.items[i] for i in rnd.sequences[uid]]
    assert p5.sequences != rnd.sequences
    assert any("random" in note for note in rnd.notes)


def test_gzip_and_python_literal_lines(tmp_path):
    records = dense_reviews()
    plain = read_amazon_reviews(write_reviews(tmp_path / "a.json", records))
    gz = read_amazon_reviews(write_reviews(tmp_path / "b.json.gz", records, python_literal=True))
    assert plain.sequences == gz.sequences and plain.items == gz.items
