"""What every embedding source returns: vectors keyed by the dataset's own ids."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class CFEmbeddings:
    user_ids: np.ndarray  # (N,) int64, the dataset's user ids, sorted
    user_vectors: np.ndarray  # (N, d) float32, row i belongs to user_ids[i]
    item_ids: np.ndarray | None = None  # (I,) int64, sorted; None for sources without item vectors
    item_vectors: np.ndarray | None = None  # (I, d) float32; scores are user . item dot products
    info: dict = field(default_factory=dict)  # settings and notes for the log / metrics file

    def __post_init__(self) -> None:
        self.user_ids = np.asarray(self.user_ids, dtype=np.int64)
        self.user_vectors = np.ascontiguousarray(self.user_vectors, dtype=np.float32)
        if self.user_vectors.ndim != 2 or len(self.user_vectors) != len(self.user_ids):
            raise ValueError(f"user vectors {self.user_vectors.shape} do not match {len(self.user_ids)} user ids")
        if self.item_vectors is not None:
            self.item_ids = np.asarray(self.item_ids, dtype=np.int64)
            self.item_vectors = np.ascontiguousarray(self.item_vectors, dtype=np.float32)
            if self.item_vectors.shape != (len(self.item_ids), self.user_vectors.shape[1]):
                raise ValueError(f"item vectors {self.item_vectors.shape} do not match ids/dimension")

    @property
    def dim(self) -> int:
        return self.user_vectors.shape[1]

    def get_user_vectors(self) -> np.ndarray:
        """cornac-style accessor: (N, d), row order of ``user_ids``."""
        return self.user_vectors

    def get_item_vectors(self) -> np.ndarray | None:
        return self.item_vectors
