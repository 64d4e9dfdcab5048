"""A small synthetic dataset in the exact P5 file formats, with structure later stages can learn.

Planted structure (all deterministic for a seed):
  * groups: user u and item i belong to one of ``n_groups`` groups; a user draws most of its items
    from its own group (``p_in_group``), so collaborative filtering can recover the groups;
  * sequences: each group's items form a chain; the next item follows the chain from the previous
    one with probability ``p_follow_chain``, so next-item prediction is learnable;
  * explanations: each item has a feature word of its group; the sentence names the item's
    feature and an adjective that is positive when the item is from the user's own group (high
    rating) and negative otherwise (low rating).
The truth is written beside the P5 files as ``planted_structure.json`` for tests and diagnostics.
"""

from __future__ import annotations

import json
import pickle
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from peapod.io import atomic_path, write_json, write_text

FEATURES = (
    "scent", "texture", "color", "bottle", "formula", "brush", "finish", "packaging",
    "shade", "lather", "cap", "pump", "glow", "tint", "grip", "size",
)  # fmt: skip
POSITIVE = ("great", "lovely", "soft", "perfect", "pleasant", "gentle")
NEGATIVE = ("cheap", "harsh", "sticky", "awful", "flimsy", "dull")
TEMPLATES = (
    "the {feature} is {adjective}",
    "i find the {feature} really {adjective}",
    "{adjective} {feature} for the price",
    "this one has a {adjective} {feature}",
)


@dataclass
class DemoConfig:
    n_users: int = 400  # users in the dataset
    n_items: int = 240  # items in the catalogue
    n_groups: int = 8  # user/item groups (planted collaborative structure)
    min_length: int = 6  # shortest user sequence (>= 5, as after a 5-core filter)
    max_length: int = 14  # longest user sequence
    p_in_group: float = 0.85  # chance an item comes from the user's own group
    p_follow_chain: float = 0.6  # chance the next item is the chain successor of the previous one
    explanation_fraction: float = 0.8  # share of interactions that carry an explanation sentence
    n_negatives: int = 99  # negatives per user in negative_samples.txt
    seed: int = 0  # seed for everything above

    def check(self) -> None:
        if self.min_length < 3 or self.max_length < self.min_length:
            raise ValueError("need 3 <= min_length <= max_length")
        if self.n_items // self.n_groups < self.max_length:
            raise ValueError("each item group needs at least max_length items")
        if self.n_items - self.max_length < self.n_negatives:
            raise ValueError("n_items - max_length must be at least n_negatives")
        if self.n_groups > len(FEATURES):
            raise ValueError(f"at most {len(FEATURES)} groups (one feature vocabulary slice each)")


def _raw_ids(rng: np.random.Generator, count: int, prefix: str, width: int) -> list[str]:
    alphabet = np.array(list(string.ascii_uppercase + string.digits))
    ids: set[str] = set()
    ordered: list[str] = []
    while len(ordered) < count:
        candidate = prefix + "".join(rng.choice(alphabet, size=width))
        if candidate not in ids:
            ids.add(candidate)
            ordered.append(candidate)
    return ordered


def _user_sequence(
    rng: np.random.Generator, cfg: DemoConfig, group: int, group_items: list[list[int]], successor: dict[int, int]
) -> list[int]:
    length = int(rng.integers(cfg.min_length, cfg.max_length + 1))
    seq: list[int] = []
    used: set[int] = set()

    def fresh(pool: list[int]) -> int:
        options = [i for i in pool if i not in used]
        return int(options[rng.integers(len(options))])

    all_items = [i for items in group_items for i in items]
    while len(seq) < length:
        if seq and rng.random() < cfg.p_follow_chain and successor[seq[-1]] not in used:
            item = successor[seq[-1]]
        elif rng.random() < cfg.p_in_group:
            item = fresh(group_items[group])
        else:
            item = fresh(all_items)
        seq.append(item)
        used.add(item)
    return seq


def _explanation_splits(rng: np.random.Generator, pairs: list[tuple[int, int]]) -> list[str]:
    """Random 8:1:1 over reviews, with one review per user and per item forced into train."""
    order = rng.permutation(len(pairs))
    forced: set[int] = set()
    seen_users: set[int] = set()
    seen_items: set[int] = set()
    for idx in order.tolist():
        user, item = pairs[idx]
        if user not in seen_users or item not in seen_items:
            forced.add(idx)
        seen_users.add(user)
        seen_items.add(item)
    free = [i for i in order.tolist() if i not in forced]
    n_eval = round(0.1 * len(pairs))
    splits = ["train"] * len(pairs)
    for i in free[:n_eval]:
        splits[i] = "val"
    for i in free[n_eval : 2 * n_eval]:
        splits[i] = "test"
    return splits


@dataclass
class _PlantedWorld:
    """The demo's hidden structure in internal ids 0..n-1 (before P5 numbering)."""

    item_group: list[int]
    group_items: list[list[int]]
    successor: dict[int, int]  # each group's items form one chain
    item_feature: list[str]
    user_group: list[int]
    sequences: list[list[int]]  # per internal user, items in time order


def _plant(rng: np.random.Generator, cfg: DemoConfig) -> _PlantedWorld:
    """Groups by modulo, chains by a permutation of each group's items, a feature word per item
    from its group's slice of the vocabulary, and every user's sequence."""
    item_group = [i % cfg.n_groups for i in range(cfg.n_items)]
    group_items = [[i for i in range(cfg.n_items) if item_group[i] == g] for g in range(cfg.n_groups)]
    successor: dict[int, int] = {}
    for items in group_items:
        chain = rng.permutation(items).tolist()
        for a, b in zip(chain, chain[1:] + chain[:1]):
            successor[a] = b
    per_group = len(FEATURES) // cfg.n_groups  # each group owns its own slice of feature words
    item_feature = [FEATURES[item_group[i] * per_group + int(rng.integers(per_group))] for i in range(cfg.n_items)]
    user_group = [u % cfg.n_groups for u in range(cfg.n_users)]
    sequences = [_user_sequence(rng, cfg, user_group[u], group_items, successor) for u in range(cfg.n_users)]
    return _PlantedWorld(item_group, group_items, successor, item_feature, user_group, sequences)


def _p5_numbering(rng: np.random.Generator, cfg: DemoConfig, sequences: list[list[int]]):
    """P5 numbering: users in shuffled order, items by first appearance along those sequences."""
    user_order = rng.permutation(cfg.n_users).tolist()
    user_id = {internal: number for number, internal in enumerate(user_order, start=1)}
    item_id: dict[int, int] = {}
    for internal_user in user_order:
        for item in sequences[internal_user]:
            item_id.setdefault(item, len(item_id) + 1)
    for item in range(cfg.n_items):  # items nobody bought still belong to the catalogue
        item_id.setdefault(item, len(item_id) + 1)
    return user_id, item_id


def _negative_lines(rng: np.random.Generator, cfg: DemoConfig, sequences: dict[int, list[int]]) -> list[str]:
    catalogue = np.arange(1, cfg.n_items + 1)
    lines = []
    for u in sorted(sequences):
        negatives = rng.choice(np.setdiff1d(catalogue, sequences[u]), size=cfg.n_negatives, replace=False)
        lines.append(f"{u} " + " ".join(map(str, negatives.tolist())))
    return lines


def _exp_splits(rng: np.random.Generator, cfg: DemoConfig, world: _PlantedWorld, raw_user: list[str],
                raw_item: list[str]) -> dict[str, list[dict]]:
    """Reviews with explanations, in P5's exp_splits.pkl record format, split 8:1:1."""
    reviews, pairs = [], []
    base_time = 1_300_000_000
    for u in range(cfg.n_users):
        for position, item in enumerate(world.sequences[u]):
            if rng.random() >= cfg.explanation_fraction:
                continue
            liked = world.item_group[item] == world.user_group[u]
            rating = float(rng.integers(4, 6) if liked else rng.integers(1, 4))
            adjective = (POSITIVE if liked else NEGATIVE)[int(rng.integers(len(POSITIVE)))]
            feature = world.item_feature[item]
            sentence = TEMPLATES[int(rng.integers(len(TEMPLATES)))].format(feature=feature, adjective=adjective)
            reviews.append({"reviewerID": raw_user[u], "asin": raw_item[item], "overall": rating,
                            "unixReviewTime": base_time + 86_400 * (position + 30 * u), "feature": feature,
                            "explanation": sentence})
            pairs.append((u, item))
    splits = _explanation_splits(rng, pairs)
    return {name: [r for r, s in zip(reviews, splits) if s == name] for name in ("train", "val", "test")}


DEMO_FILES = {"sequences": "sequential_data.txt", "negatives": "negative_samples.txt", "datamaps": "datamaps.json",
              "explanations": "exp_splits.pkl", "truth": "planted_structure.json"}  # by role


def demo_paths(out_dir: str | Path) -> dict[str, Path]:
    """{role: path} of the demo's files in ``out_dir``."""
    return {role: Path(out_dir) / name for role, name in DEMO_FILES.items()}


def write_demo_dataset(cfg: DemoConfig, out_dir: str | Path) -> dict[str, Path]:
    """write_demo_files into ``out_dir``; returns their paths."""
    paths = demo_paths(out_dir)
    write_demo_files(cfg, paths)
    return paths


def write_demo_files(cfg: DemoConfig, paths: dict[str, str | Path]) -> None:
    """Write the demo's P5 files (sequences, negatives, datamaps, explanations: sequential_data.txt,
    negative_samples.txt, datamaps.json, exp_splits.pkl) and its truth (planted_structure.json)
    to ``paths`` ({role: path}, the roles of DEMO_FILES), each atomically."""
    cfg.check()
    rng = np.random.default_rng(cfg.seed)  # one stream, drawn in this order
    world = _plant(rng, cfg)
    user_id, item_id = _p5_numbering(rng, cfg, world.sequences)
    raw_user = _raw_ids(rng, cfg.n_users, "A", 13)
    raw_item = _raw_ids(rng, cfg.n_items, "B00", 7)
    sequences = {user_id[u]: [item_id[i] for i in world.sequences[u]] for u in range(cfg.n_users)}
    negative_lines = _negative_lines(rng, cfg, sequences)
    exp_splits = _exp_splits(rng, cfg, world, raw_user, raw_item)

    users, items = range(cfg.n_users), range(cfg.n_items)
    datamaps = {
        "user2id": {raw_user[u]: str(user_id[u]) for u in users},
        "item2id": {raw_item[i]: str(item_id[i]) for i in items},
        "id2user": {str(user_id[u]): raw_user[u] for u in users},
        "id2item": {str(item_id[i]): raw_item[i] for i in items},
    }
    truth = {
        "seed": cfg.seed,
        "n_groups": cfg.n_groups,
        "user_group": {str(user_id[u]): world.user_group[u] for u in users},
        "item_group": {str(item_id[i]): world.item_group[i] for i in items},
        "item_feature": {str(item_id[i]): world.item_feature[i] for i in items},
        "chain_successor": {str(item_id[a]): item_id[b] for a, b in world.successor.items()},
    }
    write_text("".join(f"{u} " + " ".join(map(str, sequences[u])) + "\n" for u in sorted(sequences)), paths["sequences"])
    write_text("\n".join(negative_lines) + "\n", paths["negatives"])
    write_json(datamaps, paths["datamaps"])
    with atomic_path(paths["explanations"]) as tmp:
        tmp.write_bytes(pickle.dumps(exp_splits, protocol=4))
    write_json(truth, paths["truth"])


def read_planted_structure(path: str | Path) -> dict:
    """The truth written by :func:`write_demo_dataset`, with integer keys."""
    truth = json.loads(Path(path).read_text(encoding="utf-8"))
    for key in ("user_group", "item_group", "item_feature", "chain_successor"):
        truth[key] = {int(k): v for k, v in truth[key].items()}
    return truth
