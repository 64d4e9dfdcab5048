"""Raw interactions to a :class:`RawDataset` the P5 way: the one procedure behind every format of
time-stamped interactions (Amazon 2014 and 2023 reviews, your own CSV/TSV/Parquet).

P5's procedure (for the Amazon 2014 5-core files): an iterative k-core filter; each user's
interactions sorted by time (stable, so same-time interactions keep file order); users shuffled
with seed 2022 and numbered 1..N in that order; items numbered 1..M by first appearance while
walking those sequences. That item numbering leaks (a user's next item often has the next id), so
``item_numbering="random"`` offers a seeded random numbering to measure the leak.

Review text, where a format has it, can become explanation splits. P5's splits are a random 8:1:1
split of the reviews with a Sentires feature and the sentence that mentions it; Sentires is not
available here, so the rule is simpler and recorded in the dataset's notes: the explanation is the
review's first sentence, the feature is None (the generator never reads it), and the reviews with
text are split 8:1:1 at random with a fixed seed.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from peapod.data.raw import ExplanationRecord, RawDataset, renumber_items_at_random
from peapod.errors import InputError
from peapod.splits import N_HELD_OUT

P5_USER_SHUFFLE_SEED = 2022
ITEM_RENUMBERING_SEED = P5_USER_SHUFFLE_SEED + 1  # the same for P5 files and raw interactions
EXPLANATION_SPLIT_SEED = P5_USER_SHUFFLE_SEED + 2
EXPLANATION_SHARES = (("train", 0.8), ("valid", 0.1))  # test takes the rest: P5's 8:1:1
MIN_ITEMS_PER_USER = N_HELD_OUT + 1  # leave-two-out: at least one training item, valid, test


@dataclass(frozen=True, slots=True)
class Interaction:
    """One time-stamped (user, item) interaction as a raw file gives it."""

    line: int  # 1-based place in the file: a line of a text file, a row of a Parquet file
    user: str  # the file's user id
    item: str  # the file's item id
    time: float  # seconds since the epoch; only the order matters (ties keep file order)
    text: str | None = None  # review text, when the format has one and explanations are wanted
    rating: float | None = None


Locate = Callable[[int], "int | str"]  # an Interaction.line to an InputError's ``where``


def as_line(line: int) -> int:
    return line


def place(locate: Locate, line: int) -> str:
    """An Interaction.line as a person reads it in a message: "line 7" or "row 6"."""
    where = locate(line)
    return f"line {where}" if isinstance(where, int) else where


def k_core(pairs: list[tuple[str, str]], k: int = 5) -> set[tuple[str, str]]:
    """Users and items with at least k interactions, applied until nothing changes; returns kept pairs."""
    kept = set(range(len(pairs)))
    while True:
        user_count = Counter(pairs[i][0] for i in kept)
        item_count = Counter(pairs[i][1] for i in kept)
        drop = {i for i in kept if user_count[pairs[i][0]] < k or item_count[pairs[i][1]] < k}
        if not drop:
            return {pairs[i] for i in kept}
        kept -= drop


def first_sentence(text: str) -> str:
    """The text up to its first '.', '!' or '?' followed by a space (or the end), with HTML line
    breaks and runs of white space made single spaces; the whole text when it has no such end.
    A regex, not nltk's punkt (not installed): "Mr. Smith" ends a sentence after "Mr."."""
    flat = " ".join(re.sub(r"<br\s*/?>", " ", text, flags=re.IGNORECASE).split())
    match = re.match(r"(.+?[.!?])(?=\s|$)", flat)
    return match.group(1) if match else flat


def explanations_from_text(
    kept: list[Interaction], user_id: dict[str, int], item_id: dict[str, int], seed: int
) -> tuple[list[ExplanationRecord], str]:
    """Explanation records (first sentence, no feature) from the kept interactions that have text,
    split 8:1:1 at random (seeded, over the records in file order), and the note saying so."""
    records = [r for r in kept if r.text and r.text.strip()]
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    split_of = [""] * len(records)
    start = 0
    for split, share in EXPLANATION_SHARES:
        for position in order[start : start + int(share * len(records))]:
            split_of[position] = split
        start += int(share * len(records))
    for position in order[start:]:
        split_of[position] = "test"
    explanations = [
        ExplanationRecord(split=split_of[n], user_id=user_id[r.user], item_id=item_id[r.item],
                          explanation=first_sentence(r.text), feature=None, rating=r.rating,
                          timestamp=int(r.time))
        for n, r in enumerate(records)
    ]  # fmt: skip
    note = (f"explanations: the first sentence of each of the {len(records)} reviews with text (no "
            f"Sentires feature: feature is empty), split 8:1:1 at random (seed {seed})")
    return explanations, note


def check_sequence_lengths(path: Path, by_user: dict[str, list[Interaction]], locate: Locate, k: int) -> None:
    """Every user needs MIN_ITEMS_PER_USER items for leave-two-out; the error names the first such
    user by the file's id, at their first line."""
    for user, history in by_user.items():
        if len(history) < MIN_ITEMS_PER_USER:
            lines = sorted(r.line for r in history)
            remedy = "" if k >= MIN_ITEMS_PER_USER else (
                f"; remove them, or set k_core: {MIN_ITEMS_PER_USER} (or more) to drop such users and rare items")
            raise InputError(
                path,
                f"user {user!r} has {len(history)} item(s) ({', '.join(place(locate, n) for n in lines)}); "
                f"leave-two-out needs at least {MIN_ITEMS_PER_USER} (training, validation, test){remedy}",
                locate(lines[0]),
            )


def build_p5_dataset(
    path: str | Path,
    interactions: list[Interaction],
    *,
    k: int = 5,
    item_numbering: str = "p5",
    with_explanations: bool = False,
    locate: Locate = as_line,
    notes: list[str] | None = None,
    seed: int = P5_USER_SHUFFLE_SEED,
) -> RawDataset:
    """Sequences, users and items (the file's ids kept) from ``interactions`` the P5 way, with a
    ``k``-core filter (0: none) and, with ``with_explanations``, explanations from review text."""
    if item_numbering not in ("p5", "random"):
        raise ValueError(f"item_numbering must be 'p5' or 'random', not {item_numbering!r}")
    path = Path(path)
    kept_pairs = k_core([(r.user, r.item) for r in interactions], k)
    kept = [r for r in interactions if (r.user, r.item) in kept_pairs]
    if not kept:
        raise InputError(path, f"no user and item survive the {k}-core filter")
    by_user: dict[str, list[Interaction]] = defaultdict(list)  # first appearance in the file
    for record in kept:
        by_user[record.user].append(record)
    check_sequence_lengths(path, by_user, locate, k)

    user_order = list(by_user)
    random.Random(seed).shuffle(user_order)
    users = {uid: raw for uid, raw in enumerate(user_order, start=1)}
    item_ids: dict[str, int] = {}
    sequences: dict[int, list[int]] = {}
    for uid, raw_user in users.items():
        history = sorted(by_user[raw_user], key=lambda r: (r.time, r.line))  # stable: ties keep file order
        for record in history:
            item_ids.setdefault(record.item, len(item_ids) + 1)
        sequences[uid] = [item_ids[r.item] for r in history]
    core = f"{k}-core" if k else "no k-core filter"
    all_notes = [*(notes or []), f"sequences built from {path.name}: {core}, users shuffled with seed {seed}"]
    explanations = None
    if with_explanations:
        explanations, note = explanations_from_text(
            kept, {raw: uid for uid, raw in users.items()}, item_ids, EXPLANATION_SPLIT_SEED)
        all_notes.append(note)
        if not explanations:
            explanations = None
            all_notes.append("no kept interaction has review text: the explanation task is off")
    raw = RawDataset(users, {iid: item for item, iid in item_ids.items()}, sequences, None, explanations, all_notes)
    if item_numbering == "random":
        return renumber_items_at_random(raw, seed + 1)  # ITEM_RENUMBERING_SEED with P5's seed
    raw.notes.append("items numbered by first appearance (P5 numbering)")
    return raw
