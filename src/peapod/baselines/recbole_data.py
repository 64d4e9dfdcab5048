"""Our sequences table as RecBole input, split by RecBole itself, checked against our split.

Sequential models get one atomic file ``peapod.inter`` (user, item, timestamp = position in the
user's sequence) holding every user's whole sequence, and RecBole's own leave-one-out split
(``eval_args.split = {LS: valid_and_test}``, order by time, grouped by user): RecBole augments each
sequence into (prefix, next item) rows and holds out each user's last row for test and the one before
for validation. That is the P5 split (peapod.splits): the test row's target is the last item and its
prefix every item before it; the validation row's target is the second to last. Every training row's
target and prefix come from the train role only. :func:`check_split` proves it on the built data
before any model trains, and the tests prove it against our tables.

Top-n models get the training pairs alone (role train) as a pre-split benchmark file, like LightGCN
in peapod.embeddings.lightgcn: RecBole never sees a validation or test item.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from peapod.splits import EVAL_SPLITS, held_out_offset

DATASET_NAME = "peapod"
ITEM_LIST = "item_id_list"  # RecBole's names: ITEM_ID_FIELD + LIST_SUFFIX, ITEM_LIST_LENGTH_FIELD
ITEM_LENGTH = "item_length"


class SplitMismatch(AssertionError):
    """RecBole's held-out items are not our table's (the run must not go on)."""


def write_sequence_file(sequences: pd.DataFrame, directory: Path) -> Path:
    """``directory/peapod/peapod.inter`` with every interaction (timestamp = position); returns
    the data_path to give RecBole."""
    folder = directory / DATASET_NAME
    folder.mkdir(parents=True, exist_ok=True)
    ordered = sequences.sort_values(["user_id", "position"], kind="stable")
    with open(folder / f"{DATASET_NAME}.inter", "w", encoding="utf-8") as f:
        f.write("user_id:token\titem_id:token\ttimestamp:float\n")
        f.writelines(f"{u}\t{i}\t{p}\n" for u, i, p in zip(ordered["user_id"].tolist(), ordered["item_id"].tolist(),
                                                          ordered["position"].tolist()))
    return directory


def sequential_config(data_path: Path, workdir: Path, max_seq_length: int) -> dict:
    """The RecBole settings that fix data and split (model settings are added by the caller)."""
    from peapod.embeddings.recbole_compat import base_config

    return {
        **base_config(data_path, workdir),
        "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "MAX_ITEM_LIST_LENGTH": int(max_seq_length),
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "group_by": "user", "mode": "full"},
        "train_neg_sample_args": None,
    }


@dataclass
class HeldOut:
    """One held-out split as RecBole built it, in our ids."""

    users: np.ndarray  # (U,) our user ids
    targets: np.ndarray  # (U,) our item ids
    history_lengths: np.ndarray  # (U,) items before the target (RecBole's list is cut to its max length)


def our_ids(dataset, field: str, internal) -> np.ndarray:
    """RecBole internal ids of ``field`` back to our integer ids."""
    return np.asarray(dataset.id2token(field, np.asarray(internal)), dtype=np.int64)


def held_out(dataset, part) -> HeldOut:
    """The users, targets and history lengths of a built validation or test dataset."""
    feat = part.inter_feat
    return HeldOut(our_ids(dataset, dataset.uid_field, feat[dataset.uid_field].numpy()),
                   our_ids(dataset, dataset.iid_field, feat[dataset.iid_field].numpy()),
                   feat[ITEM_LENGTH].numpy().astype(np.int64))


def expected_targets(sequences: pd.DataFrame, split: str) -> pd.Series:
    """{user id: our ``split`` item} from the sequences table's roles."""
    rows = sequences[sequences["role"] == split]
    return rows.set_index("user_id")["item_id"].astype(np.int64).sort_index()


def training_view(dataset, train) -> pd.DataFrame:
    """What RecBole trains on, in our ids: one row per (user, target, prefix) training sample."""
    feat = train.inter_feat
    users = our_ids(dataset, dataset.uid_field, feat[dataset.uid_field].numpy())
    targets = our_ids(dataset, dataset.iid_field, feat[dataset.iid_field].numpy())
    lists, lengths = feat[ITEM_LIST].numpy(), feat[ITEM_LENGTH].numpy()
    prefixes = [tuple(our_ids(dataset, dataset.iid_field, row[:n]).tolist()) for row, n in zip(lists, lengths)]
    return pd.DataFrame({"user_id": users, "target": targets, "prefix": prefixes}).sort_values(
        ["user_id", "target", "prefix"], kind="stable").reset_index(drop=True)


def check_split(dataset, parts, sequences: pd.DataFrame) -> None:
    """Raise SplitMismatch unless RecBole's validation and test items are ours for every user, each
    held-out history is every item before the target, and no training sample touches a held-out item."""
    train, valid, test = parts
    lengths = sequences.groupby("user_id")["position"].max() + 1
    for split, part in (("valid", valid), ("test", test)):
        got = held_out(dataset, part)
        want = expected_targets(sequences, split)
        ours = pd.Series(got.targets, index=got.users).sort_index()
        if not ours.index.equals(want.index) or not (ours.to_numpy() == want.to_numpy()).all():
            bad = (ours.reindex(want.index) != want)
            raise SplitMismatch(f"RecBole's {split} items differ from ours for {int(bad.sum())} user(s), "
                                f"e.g. user {bad[bad].index[:3].tolist()}")
        full = (lengths.reindex(got.users).to_numpy() - held_out_offset(split))
        if not (got.history_lengths == np.minimum(full, dataset.config["MAX_ITEM_LIST_LENGTH"])).all():
            raise SplitMismatch(f"RecBole's {split} histories are not every item before the target")
    held = sequences[sequences["role"].isin(EVAL_SPLITS)]
    held_positions = set(zip(held["user_id"], held["position"]))
    feat = train.inter_feat
    # a training row's target position is its prefix length (+ the rows cut to the max length)
    users = our_ids(dataset, dataset.uid_field, feat[dataset.uid_field].numpy())
    order = feat["timestamp"].numpy().astype(np.int64)  # the target's position
    leaked = [(u, p) for u, p in zip(users.tolist(), order.tolist()) if (u, p) in held_positions]
    if leaked:
        raise SplitMismatch(f"{len(leaked)} RecBole training sample(s) target a held-out item, e.g. {leaked[:3]}")
