"""Leave-two-out, the P5 split: the one home of which items of a user's time-ordered sequence each
split holds out. test = the last item, valid = the second to last, train = every item before them.

The data stage writes these roles into sequences.parquet and the candidate targets; the generator's
training and validation prompts, the evaluation and the baselines read them through this module.
"""

from __future__ import annotations

from typing import Sequence

EVAL_SPLITS = ("test", "valid")  # the held-out splits, each one item per user
EXPLANATION_SPLITS = ("train", "valid", "test")  # the splits of an explanations file
_FROM_END = {"test": 1, "valid": 2}  # position of the held-out item, counted from the end
N_HELD_OUT = len(_FROM_END)  # items per user that training never sees


def held_out_offset(split: str) -> int:
    """Where ``split``'s target sits, counted from the end of a sequence (test 1, valid 2)."""
    if split not in _FROM_END:
        raise ValueError(f"split must be one of {EVAL_SPLITS}, not {split!r}")
    return _FROM_END[split]


def held_out_target(items: Sequence[int], split: str):
    """The item ``split`` holds out of one user's sequence."""
    return items[len(items) - held_out_offset(split)]


def history_before(items: Sequence[int], split: str):
    """The items before ``split``'s target (test: all but the last; valid: all but the last two)."""
    return items[: len(items) - held_out_offset(split)]


def training_items(items: Sequence[int]):
    """The items training may use: all but the held-out ones."""
    return items[: len(items) - N_HELD_OUT]


def held_out_items(items: Sequence[int]):
    """The items of every held-out split (valid, then test)."""
    return items[len(items) - N_HELD_OUT :]


def role_of(position: int, length: int) -> str:
    """The split (train, valid or test) of the item at ``position`` in a sequence of ``length``."""
    from_end = length - position
    return next((split for split, offset in _FROM_END.items() if offset == from_end), "train")
