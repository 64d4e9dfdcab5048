"""Raw Amazon 2014 5-core reviews (``reviews_<Category>_5.json`` or ``.json.gz``) to P5 sequences.

The P5 procedure: iterative 5-core filter; each user's reviews sorted by ``unixReviewTime``
(stable, so same-time reviews keep file order); users shuffled with seed 2022 and numbered 1..N in
that order; items numbered 1..M by first appearance while walking those sequences. That item
numbering leaks (a user's next item often has the next id), so ``item_numbering="random"`` offers a
seeded random numbering to measure the leak.
"""

from __future__ import annotations

import ast
import gzip
import json
import random
import zlib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterator

from peapod.data.p5 import decode_utf8
from peapod.data.raw import RawDataset, renumber_items_at_random
from peapod.errors import InputError

P5_USER_SHUFFLE_SEED = 2022


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def iter_reviews(path: str | Path) -> Iterator[tuple[int, str, str, int]]:
    """Yield (line, reviewerID, asin, unixReviewTime). Lines are strict JSON or, as in older dumps,
    Python literals (parsed with ``ast.literal_eval``, never ``eval``)."""
    path = Path(path)
    empty = True
    number = 0
    with _open_text(path) as handle:
        try:
            for number, raw in enumerate(handle, start=1):
                text = decode_utf8(path, raw, number).strip()
                if not text:
                    continue
                try:
                    record = json.loads(text)
                except json.JSONDecodeError:
                    try:
                        record = ast.literal_eval(text)
                    except (ValueError, SyntaxError):
                        raise InputError(path, "neither JSON nor a Python literal", number) from None
                if not isinstance(record, dict):
                    raise InputError(path, f"expected a review object, got {type(record).__name__}", number)
                for key in ("reviewerID", "asin", "unixReviewTime"):
                    if key not in record:
                        raise InputError(path, f"review lacks '{key}'", number)
                time = record["unixReviewTime"]
                if isinstance(time, bool) or not isinstance(time, int):
                    raise InputError(path, f"unixReviewTime {time!r} is not an integer", number)
                empty = False
                yield number, str(record["reviewerID"]), str(record["asin"]), time
        except (OSError, EOFError, zlib.error) as exc:  # truncated or corrupt gzip
            raise InputError(path, f"cannot be read to the end ({exc})", number + 1) from None
    if empty:
        raise InputError(path, "file holds no reviews")


def k_core(pairs: list[tuple[str, str]], k: int = 5) -> set[tuple[str, str]]:
    """Users and items with at least k reviews, applied until nothing changes; returns kept pairs."""
    kept = set(range(len(pairs)))
    while True:
        user_count = Counter(pairs[i][0] for i in kept)
        item_count = Counter(pairs[i][1] for i in kept)
        drop = {i for i in kept if user_count[pairs[i][0]] < k or item_count[pairs[i][1]] < k}
        if not drop:
            return {pairs[i] for i in kept}
        kept -= drop


def read_amazon_reviews(
    path: str | Path, item_numbering: str = "p5", seed: int = P5_USER_SHUFFLE_SEED, core: int = 5
) -> RawDataset:
    if item_numbering not in ("p5", "random"):
        raise ValueError(f"item_numbering must be 'p5' or 'random', not {item_numbering!r}")
    path = Path(path)
    reviews = list(iter_reviews(path))
    kept = k_core([(u, i) for _, u, i, _ in reviews], core)
    by_user: dict[str, list[tuple[int, int, str]]] = defaultdict(list)  # user -> (time, line, asin)
    for line, user, item, time in reviews:
        if (user, item) in kept:
            by_user[user].append((time, line, item))
    if not by_user:
        raise InputError(path, f"no user and item survive the {core}-core filter")

    user_order = list(by_user)  # first appearance in the file
    random.Random(seed).shuffle(user_order)
    users = {uid: raw for uid, raw in enumerate(user_order, start=1)}
    item_ids: dict[str, int] = {}
    sequences: dict[int, list[int]] = {}
    for uid, raw_user in users.items():
        history = sorted(by_user[raw_user])  # by time, then file line: stable
        seq = []
        for _, _, asin in history:
            if asin not in item_ids:
                item_ids[asin] = len(item_ids) + 1
            seq.append(item_ids[asin])
        sequences[uid] = seq
    notes = [f"sequences built from {path.name}: {core}-core, users shuffled with seed {seed}"]
    items = {iid: asin for asin, iid in item_ids.items()}
    raw = RawDataset(users, items, sequences, None, None, notes)
    if item_numbering == "random":
        return renumber_items_at_random(raw, seed + 1)
    raw.notes.append("items numbered by first appearance (P5 numbering)")
    return raw
