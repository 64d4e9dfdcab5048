"""The preprocess step: read one dataset from its source and write its tables and statistics."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from peapod.data.amazon import read_amazon_reviews
from peapod.data.interactions import read_interactions, spec_of
from peapod.data.p5 import read_p5_files
from peapod.data.p5_explanations import read_explanations
from peapod.data.p5_sequences import ITEM_RENUMBERING_SEED
from peapod.data.raw import RawDataset, renumber_items_at_random
from peapod.data.tables import DatasetTables, TooFewNegatives, build_tables, write_dataset
from peapod.errors import InputError
from peapod.provenance import provenance

log = logging.getLogger(__name__)

AMAZON_K_CORE = 5  # P5's 5-core; own interactions are filtered only when k_core is set
INPUT_ROLES = ("sequences", "reviews", "interactions")  # the file a dataset-wide problem is reported against


def read_source(spec: dict[str, Any], inputs: dict[str, str], n_negatives: int) -> RawDataset:
    """``spec`` is the dataset's config entry; ``inputs`` its files by role (see the workflow)."""
    if spec["source"] in ("demo", "p5"):
        raw = read_p5_files(**inputs, n_negatives=n_negatives)
        if spec.get("item_numbering", "p5") == "random":
            return renumber_items_at_random(raw, ITEM_RENUMBERING_SEED)
        return raw
    if spec["source"] == "interactions":
        return read_interactions(
            inputs["interactions"],
            spec_of(spec),
            k=spec.get("k_core", 0),
            item_numbering=spec.get("item_numbering", "p5"),
            explanations_from_text=spec.get("explanations_from_text"),
        )
    if spec["source"] == "amazon_reviews":
        raw = read_amazon_reviews(
            inputs["reviews"],
            item_numbering=spec.get("item_numbering", "p5"),
            core=spec.get("k_core", AMAZON_K_CORE),
            explanations_from_text=spec.get("explanations_from_text", False),
        )
        if "explanations" in inputs:
            raw.explanations = read_explanations(inputs["explanations"], raw.users, raw.items)
            raw.notes.append(f"explanations read from {Path(inputs['explanations']).name}")
        return raw
    raise ValueError(f"unknown source {spec['source']!r}")


def preprocess_dataset(
    name: str,
    spec: dict[str, Any],
    inputs: dict[str, str],
    outputs: dict[str, str],
    n_negatives: int = 99,
    negative_seed: int = 2022,
) -> DatasetTables:
    """Read, validate and write one dataset; ``outputs`` maps table names and "stats" to paths."""
    log.info("dataset %s: reading %s input %s", name, spec["source"], inputs)
    raw = read_source(spec, inputs, n_negatives)
    if raw.explanations is None:
        log.warning(
            "dataset %s: no explanation splits (exp_splits.pkl, explanation.json or review text); "
            "the explanation task is switched off for this dataset",
            name,
        )
    try:
        tables = build_tables(raw, name, n_negatives=n_negatives, negative_seed=negative_seed)
    except TooFewNegatives as exc:
        source = next((inputs[role] for role in INPUT_ROLES if role in inputs), name)
        raise InputError(source, str(exc), f"user {exc.user}") from None
    tables.stats["config"] = {"source": spec, "n_negatives": n_negatives, "negative_seed": negative_seed}
    tables.stats["provenance"] = provenance()
    write_dataset(tables, outputs, outputs["stats"])
    stats = tables.stats
    log.info(
        "dataset %s: %d users, %d items, %d interactions, explanations %s",
        name, stats["users"], stats["items"], stats["reviews"], stats["explanations"],
    )  # fmt: skip
    for note in stats["notes"]:
        log.info("dataset %s: %s", name, note)
    return tables
