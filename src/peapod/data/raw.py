"""The in-memory form every input format is read into before tables are written."""

from __future__ import annotations

from dataclasses import dataclass, field



@dataclass
class ExplanationRecord:
    split: str  # one of peapod.splits.EXPLANATION_SPLITS
    user_id: int  # the dataset's 1-based user id
    item_id: int  # the dataset's 1-based item id
    explanation: str
    feature: str | None = None
    rating: float | None = None
    timestamp: int | None = None


@dataclass
class RawDataset:
    """A dataset in P5's id space, validated against itself.

    ``sequences`` maps each user id to its items in time order; ``users``/``items`` map ids to the
    raw reviewer ids / ASINs. ``test_negatives`` is None when the input had none.
    """

    users: dict[int, str]
    items: dict[int, str]
    sequences: dict[int, list[int]]
    test_negatives: dict[int, list[int]] | None = None
    explanations: list[ExplanationRecord] | None = None
    notes: list[str] = field(default_factory=list)  # provenance worth recording in the statistics


def renumber_items_at_random(raw: RawDataset, seed: int) -> RawDataset:
    """The same dataset with item ids permuted at random (seeded) in sequences, negatives,
    explanations and the id map. P5 numbers items by first appearance along the users'
    sequences, so a user's next item often has the next id; this measures how much a model
    gains from that leak."""
    import random

    n = len(raw.items)
    new_ids = list(range(1, n + 1))
    random.Random(seed).shuffle(new_ids)
    remap = dict(zip(sorted(raw.items), new_ids))
    explanations = None
    if raw.explanations is not None:
        explanations = [ExplanationRecord(**{**vars(r), "item_id": remap[r.item_id]}) for r in raw.explanations]
    return RawDataset(
        users=raw.users,
        items={remap[i]: asin for i, asin in raw.items.items()},
        sequences={u: [remap[i] for i in seq] for u, seq in raw.sequences.items()},
        test_negatives=None if raw.test_negatives is None
        else {u: [remap[i] for i in negs] for u, negs in raw.test_negatives.items()},
        explanations=explanations,
        notes=[*raw.notes, f"items numbered at random (seed {seed}) instead of by first appearance"],
    )
