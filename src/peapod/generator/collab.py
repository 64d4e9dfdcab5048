"""Collaborative inputs of the user prompt: CF user embeddings and their nearest neighbours, read
from the embeddings and neighbours stages' Parquet files into dense tables indexed by user id."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from peapod.embeddings.io import read_user_embeddings
from peapod.errors import InputError
from peapod.io import file_sha256
from peapod.neighbors import read_neighbors


def load_collaborative_inputs(
    embeddings_path: str | Path, neighbors_path: str | Path, n_neighbors: int, n_users: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings (U+1, d) float32, neighbours (U+1, n) int64), row = user id, row 0 unused.

    Uses the first ``n_neighbors`` of the stored k (stored by similarity, descending). Every user
    1..``n_users`` (default: the largest id present) must have an embedding and neighbours. The
    files are read by their own stages' readers (one set of format checks each); what is checked
    here is what the dense tables need.
    """
    emb_path, nbr_path = Path(embeddings_path), Path(neighbors_path)
    emb_ids, vectors = read_user_embeddings(emb_path)
    nbr_ids, neighbors, _ = read_neighbors(nbr_path)
    for path, ids in ((emb_path, emb_ids), (nbr_path, nbr_ids)):
        if len(ids) == 0:
            raise InputError(path, "no rows")
        if ids[0] < 1:  # ids are strictly increasing (checked by the readers)
            raise InputError(path, f"user ids must be positive (found {ids[0]})")

    n_users = int(n_users if n_users is not None else max(emb_ids.max(), nbr_ids.max()))
    if neighbors.shape[1] < n_neighbors:
        raise InputError(nbr_path, f"stores {neighbors.shape[1]} neighbours per user, {n_neighbors} are configured")
    for path, ids in ((emb_path, emb_ids), (nbr_path, nbr_ids)):
        missing = np.setdiff1d(np.arange(1, n_users + 1), ids)
        if len(missing):
            raise InputError(path, f"{len(missing)} user(s) missing (first: user {missing[0]})")
    if not np.isfinite(vectors).all():
        raise InputError(emb_path, "embeddings contain NaN or infinite values")

    table = np.zeros((n_users + 1, vectors.shape[1]), dtype=np.float32)
    keep = emb_ids <= n_users
    table[emb_ids[keep]] = vectors[keep]
    neighbors = neighbors[:, :n_neighbors]
    bad = (neighbors < 1) | (neighbors > n_users)
    if bad.any():
        row = int(np.argwhere(bad)[0, 0])
        raise InputError(nbr_path, f"neighbour id out of range 1..{n_users}", f"user {nbr_ids[row]}")
    self_hits = neighbors == nbr_ids[:, None]
    if self_hits.any():
        row = int(np.argwhere(self_hits)[0, 0])
        raise InputError(nbr_path, "a user is listed as its own neighbour", f"user {nbr_ids[row]}")
    nbr_table_dense = np.zeros((n_users + 1, n_neighbors), dtype=np.int64)
    keep = nbr_ids <= n_users
    nbr_table_dense[nbr_ids[keep]] = neighbors[keep]
    return table, nbr_table_dense


@dataclass(frozen=True)
class CollabSource:
    """Where a run's CF tables come from, by path and content hash. A trained run records this
    instead of a copy of the tables (79 MB per checkpoint on Sports), and loading checks the hash,
    so a model is never paired with embeddings it was not trained with."""

    embeddings: str  # user embeddings Parquet (the embeddings stage's output)
    neighbors: str  # neighbours Parquet (the neighbour stage's output)
    n_neighbors: int  # neighbours read per user (a prefix of those stored)
    n_users: int  # table rows 1..n_users
    embeddings_sha256: str
    neighbors_sha256: str

    @classmethod
    def of(cls, embeddings: str | Path, neighbors: str | Path, n_neighbors: int, n_users: int) -> "CollabSource":
        return cls(str(embeddings), str(neighbors), int(n_neighbors), int(n_users),
                   file_sha256(embeddings), file_sha256(neighbors))

    def load(self, embeddings: str | Path | None = None, neighbors: str | Path | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
        """The dense tables, from the recorded paths or the given ones; either way the files must
        hash to the recorded values."""
        paths = {"embeddings": Path(embeddings or self.embeddings), "neighbors": Path(neighbors or self.neighbors)}
        expected = {"embeddings": self.embeddings_sha256, "neighbors": self.neighbors_sha256}
        for role, path in paths.items():
            if not path.exists():
                raise InputError(path, f"the CF {role} this model was trained with are missing")
            if file_sha256(path) != expected[role]:
                raise InputError(path, f"differs from the CF {role} this model was trained with "
                                       f"(sha256 {expected[role][:12]}...); retrain the run")
        return load_collaborative_inputs(paths["embeddings"], paths["neighbors"], self.n_neighbors, self.n_users)

    def to_dict(self) -> dict:
        return asdict(self)


def declared_cf_files(inputs) -> tuple[str, str] | None:
    """(embeddings, neighbours) of a generator rule's inputs, or None for a run without a user prompt
    (POD): the workflow declares both only when the variant reads them."""
    return (inputs["embeddings"], inputs["neighbors"]) if "embeddings" in inputs.keys() else None
