"""The one input every CF model gets: training interactions only, plus the dataset's id universe.

A user's validation and test items (roles ``valid`` and ``test`` in ``sequences.parquet``) are
dropped here, before any model sees the data; :class:`TrainInteractions` cannot be built from
anything but ``role == "train"`` rows of a sequences table (or from explicit train pairs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import scipy.sparse as sp

from peapod.data.tables import read_table
from peapod.errors import InputError


@dataclass(frozen=True)
class TrainInteractions:
    user_ids: np.ndarray  # (N,) int64, every dataset user, sorted ascending
    item_ids: np.ndarray  # (I,) int64, every catalogue item, sorted ascending
    users: np.ndarray  # (M,) int64, user id of each training pair
    items: np.ndarray  # (M,) int64, item id of each training pair

    def __post_init__(self) -> None:
        for name in ("user_ids", "item_ids"):
            ids = getattr(self, name)
            if ids.ndim != 1 or len(ids) == 0 or np.any(np.diff(ids) <= 0):
                raise ValueError(f"{name} must be a non-empty, strictly increasing 1-d array")
        if self.users.shape != self.items.shape:
            raise ValueError("users and items must have the same length")
        if not np.isin(self.users, self.user_ids).all():
            raise ValueError("training pairs name users outside user_ids")
        if not np.isin(self.items, self.item_ids).all():
            raise ValueError("training pairs name items outside item_ids")

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def user_index(self) -> np.ndarray:
        """Row index (0..N-1) of each pair's user."""
        return np.searchsorted(self.user_ids, self.users)

    def item_index(self) -> np.ndarray:
        """Column index (0..I-1) of each pair's item."""
        return np.searchsorted(self.item_ids, self.items)

    def matrix(self) -> sp.csr_matrix:
        """Binary N x I interaction matrix (rows in user_ids order, columns in item_ids order);
        a pair that occurs twice counts once."""
        data = np.ones(len(self.users), dtype=np.float32)
        m = sp.csr_matrix((data, (self.user_index(), self.item_index())), shape=(self.n_users, self.n_items))
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    def unique_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(users, items) with duplicates removed, sorted by user then item."""
        coo = self.matrix().tocoo()
        order = np.lexsort((coo.col, coo.row))
        return self.user_ids[coo.row[order]], self.item_ids[coo.col[order]]


def read_train_interactions(sequences_path: str | Path, users_path: str | Path, items_path: str | Path) -> TrainInteractions:
    """Training pairs (``role == "train"`` rows only) and the dataset's user and item ids."""
    sequences = read_table(sequences_path, "sequences")
    users = read_table(users_path, "users")
    items = read_table(items_path, "items")
    train = sequences.filter(pc.equal(sequences["role"], "train"))
    user_ids = np.sort(users["user_id"].to_numpy().astype(np.int64))
    item_ids = np.sort(items["item_id"].to_numpy().astype(np.int64))
    interactions = TrainInteractions(
        user_ids=user_ids,
        item_ids=item_ids,
        users=train["user_id"].to_numpy().astype(np.int64),
        items=train["item_id"].to_numpy().astype(np.int64),
    )
    without = np.setdiff1d(user_ids, interactions.users)
    if len(without):
        raise InputError(
            sequences_path,
            f"{len(without)} users have no training interaction (e.g. user {int(without[0])}); "
            "every user needs at least one item before its last two",
        )
    return interactions
