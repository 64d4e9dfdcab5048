"""Raw Amazon reviews to P5 sequences (peapod.data.p5_sequences), in either release's JSON Lines:

- 2014 (McAuley et al.): ``reviews_<Category>_5.json`` or ``.json.gz``, one review per line with
  ``reviewerID``, ``asin``, ``unixReviewTime`` (seconds), ``overall``, ``reviewText``; lines are
  strict JSON or, as in older dumps, Python literals.
- 2023 (Hou et al.): ``<Category>.jsonl`` or ``.jsonl.gz``, with ``user_id``, ``parent_asin`` (the
  item, as the 2023 benchmarks use it), ``timestamp`` (milliseconds), ``rating``, ``text``.

The release is told by the first review's keys, so one source (``amazon_reviews``) reads both;
every later review must have the same release's keys. As in P5, a user's repeated review of an
item stays in the sequence.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peapod.data.p5_sequences import P5_USER_SHUFFLE_SEED, Interaction, build_p5_dataset
from peapod.data.raw import RawDataset
from peapod.data.textfiles import numbered_lines
from peapod.errors import InputError


@dataclass(frozen=True)
class ReviewRelease:
    name: str
    user: str
    item: str
    time: str
    milliseconds: bool  # the time field counts milliseconds, not seconds
    rating: str
    text: str


RELEASES = (
    ReviewRelease("2014", "reviewerID", "asin", "unixReviewTime", False, "overall", "reviewText"),
    ReviewRelease("2023", "user_id", "parent_asin", "timestamp", True, "rating", "text"),
)


def release_of(path: Path, record: dict, line: int) -> ReviewRelease:
    """The release whose user key the first review has."""
    for release in RELEASES:
        if release.user in record:
            return release
    expected = "; ".join(f"{r.name}: {r.user}, {r.item}, {r.time}" for r in RELEASES)
    raise InputError(path, f"review has neither release's keys ({expected})", line)


def parse_review(path: Path, text: str, line: int) -> dict:
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        try:
            record = ast.literal_eval(text)  # never eval: older dumps' Python-literal lines
        except (ValueError, SyntaxError):
            raise InputError(path, "neither JSON nor a Python literal", line) from None
    if not isinstance(record, dict):
        raise InputError(path, f"expected a review object, got {type(record).__name__}", line)
    return record


def _optional_rating(path: Path, value: Any, line: int) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(path, f"rating {value!r} is not a number", line)
    return float(value)


def read_reviews(path: str | Path, with_text: bool = False) -> tuple[ReviewRelease, list[Interaction]]:
    """The file's release and every review as an Interaction (time in seconds); text and rating
    only ``with_text`` (a full 2023 category holds gigabytes of text)."""
    path = Path(path)
    release = None
    reviews = []
    for line, raw in numbered_lines(path):
        text = raw.strip()
        if not text:
            continue
        record = parse_review(path, text, line)
        release = release or release_of(path, record, line)
        for key in (release.user, release.item, release.time):
            if key not in record:
                raise InputError(path, f"review lacks '{key}' (a {release.name} review, as the first)", line)
        time = record[release.time]
        if isinstance(time, bool) or not isinstance(time, int):
            unit = " (milliseconds)" if release.milliseconds else ""
            raise InputError(path, f"{release.time} {time!r} is not an integer{unit}", line)
        reviews.append(Interaction(
            line, str(record[release.user]), str(record[release.item]),
            time / 1000 if release.milliseconds else time,
            text=record.get(release.text) if with_text and isinstance(record.get(release.text), str) else None,
            rating=_optional_rating(path, record.get(release.rating), line) if with_text else None,
        ))  # fmt: skip
    if release is None:
        raise InputError(path, "file holds no reviews")
    return release, reviews


def read_amazon_reviews(
    path: str | Path,
    item_numbering: str = "p5",
    seed: int = P5_USER_SHUFFLE_SEED,
    core: int = 5,
    explanations_from_text: bool = False,
) -> RawDataset:
    """A 2014 or 2023 review file the P5 way (``core``-core); with ``explanations_from_text`` the
    review texts become explanation splits (peapod.data.p5_sequences)."""
    path = Path(path)
    release, reviews = read_reviews(path, with_text=explanations_from_text)
    return build_p5_dataset(
        path, reviews, k=core, item_numbering=item_numbering, with_explanations=explanations_from_text,
        notes=[f"Amazon {release.name} reviews"], seed=seed,
    )  # fmt: skip
