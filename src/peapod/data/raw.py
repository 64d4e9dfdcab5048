"""The in-memory form every input format is read into before tables are written."""

from __future__ import annotations

from dataclasses import dataclass, field

SPLITS = ("train", "valid", "test")


@dataclass
class ExplanationRecord:
    split: str  # one of SPLITS
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
