"""A fixed, seeded sample of users stratified by history length: the same users for every run
(variant, seed) that uses the same sample size and seed, and each history bucket kept in its share.
Stage-independent: the generator's validation and the evaluation both draw their users here, and
the history buckets (edges and labels) are the evaluation's per-bucket breakdown too.

Allocation is proportional with largest remainders (each stratum gets floor(n * N_s / N), the
strata with the largest fractional parts one more, ties to the colder bucket); within a stratum
the users are drawn without replacement by ``default_rng([seed, stratum index])``. Only the users,
their history lengths, ``n`` and ``seed`` decide the sample: nothing about the model does.

``evaluation_sample`` is the one home of the evaluation's users (evaluation.sample_users and
sample_seed): the evaluation stage draws its users with it, and the baseline rows of the tables
(peapod.aggregate.baselines) restrict themselves to the same users with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from peapod.splits import history_before

# Edges of the history-length buckets (number of items before the target), cold to warm.
DEFAULT_HISTORY_EDGES = (5, 10, 20, 50)


def history_bucket_labels(lengths: Sequence[int], edges: Sequence[int] = DEFAULT_HISTORY_EDGES) -> list[str]:
    """Label each length with its bucket: "1-5", "6-10", ..., ">50"."""
    edges = sorted(edges)
    labels = []
    for n in lengths:
        lower = 1
        for edge in edges:
            if n <= edge:
                labels.append(f"{lower}-{edge}")
                break
            lower = edge + 1
        else:
            labels.append(f">{edges[-1]}")
    return labels


@dataclass
class UserSample:
    users: np.ndarray  # sampled user ids, sorted
    total: int  # users sampled from
    seed: int
    strata: dict[str, tuple[int, int]]  # history bucket -> (sampled, available)

    def to_dict(self) -> dict:
        return {"users": int(len(self.users)), "of": self.total, "seed": self.seed,
                "strata": {k: {"sampled": a, "available": b} for k, (a, b) in self.strata.items()}}


def stratified_sample(users: Sequence[int], history_lengths: Sequence[int], n: int, seed: int,
                      edges: Sequence[int] = DEFAULT_HISTORY_EDGES) -> UserSample:
    """``n`` of ``users`` (all of them when n >= len(users)), stratified by history bucket."""
    users = np.asarray(users, np.int64)
    lengths = np.asarray(history_lengths, np.int64)
    if len(users) != len(lengths):
        raise ValueError("users and history_lengths differ in length")
    if n < 1:
        raise ValueError(f"sample size must be >= 1, not {n}")
    order = np.argsort(users, kind="stable")
    users, lengths = users[order], lengths[order]
    labels = np.asarray(history_bucket_labels(lengths.tolist(), edges))
    strata = list(dict.fromkeys(history_bucket_labels([1] + [e + 1 for e in sorted(edges)], edges)))
    sizes = np.array([(labels == s).sum() for s in strata], np.int64)
    N = int(sizes.sum())
    n = min(int(n), N)
    exact = n * sizes / max(N, 1)
    quota = np.floor(exact).astype(np.int64)
    remainder = exact - quota
    for i in sorted(range(len(strata)), key=lambda i: (-remainder[i], i))[: n - int(quota.sum())]:
        quota[i] += 1
    chosen = []
    for i, stratum in enumerate(strata):
        members = users[labels == stratum]
        if quota[i]:
            chosen.append(np.random.default_rng([seed, i]).choice(members, size=int(quota[i]), replace=False))
    picked = np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)
    info = {s: (int(q), int(z)) for s, q, z in zip(strata, quota, sizes) if z}
    return UserSample(picked, N, int(seed), info)


def split_history_lengths(sequences: Mapping[int, Sequence[int]], users, split: str) -> np.ndarray:
    """Items before ``split``'s held-out target for each of ``users`` (test: all but the last; valid:
    all but two), from {user id: items in time order}."""
    return np.asarray([len(history_before(sequences[int(u)], split)) for u in users], np.int64)


def evaluation_sample(sequences: Mapping[int, Sequence[int]], split: str, n: int, seed: int) -> UserSample:
    """The users an evaluation of ``split`` with ``sample_users=n`` and ``sample_seed=seed`` sees:
    ``n`` of every user of ``sequences`` ({user id: items in time order}), stratified by the history
    before ``split``'s target."""
    users = np.asarray(sorted(sequences), np.int64)
    return stratified_sample(users, split_history_lengths(sequences, users, split), n, seed)
