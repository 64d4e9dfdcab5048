"""Large synthetic P5 data for scale benchmarks (Sports size and beyond), written fast with numpy.

Unlike the demo, nothing here is meant to be learnt: item popularity is Zipf-like and sequence
lengths are 5 + geometric, which gives the skew of the real Amazon 5-core data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from peapod.io import atomic_path

SPORTS = {"users": 35_598, "items": 18_357, "interactions": 296_337}


def write_synthetic_p5(out_dir: str | Path, n_users: int, n_items: int, n_interactions: int, seed: int = 0) -> Path:
    """Write sequential_data.txt and datamaps.json with about ``n_interactions`` interactions."""
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    extra_mean = max(n_interactions / n_users - 5, 0.1)
    lengths = 5 + rng.geometric(1 / (1 + extra_mean), size=n_users) - 1
    lengths = np.minimum(lengths, n_items - 200)  # leave room for 2 x 99 negatives
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    popularity /= popularity.sum()
    # rng.choice(p=...) rebuilds this CDF on every call (quadratic over users); the same draws, once.
    cdf = np.cumsum(popularity)
    cdf /= cdf[-1]
    with atomic_path(out_dir / "sequential_data.txt") as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for user, length in enumerate(lengths.tolist(), start=1):
            # Distinct items per user: oversample by popularity, keep first occurrences.
            draw = np.searchsorted(cdf, rng.random(2 * length + 10), side="right") + 1
            _, first = np.unique(draw, return_index=True)
            items = draw[np.sort(first)][:length]
            while len(items) < length:  # rare: top up uniformly
                more = rng.integers(1, n_items + 1, size=length)
                merged = np.concatenate([items, more])
                _, first = np.unique(merged, return_index=True)
                items = merged[np.sort(first)][:length]
            handle.write(f"{user} {' '.join(map(str, items.tolist()))}\n")
    maps = {
        "id2user": {str(u): f"U{u:09d}" for u in range(1, n_users + 1)},
        "id2item": {str(i): f"I{i:09d}" for i in range(1, n_items + 1)},
    }
    with atomic_path(out_dir / "datamaps.json") as tmp:
        tmp.write_text(json.dumps(maps), encoding="utf-8")
    return out_dir
