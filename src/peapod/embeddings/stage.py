"""The train_embeddings step: fit (or load) one source's user vectors, write them and its metrics."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from peapod.data.tables import read_table
from peapod.embeddings import SOURCES, fit_embeddings, settings_for
from peapod.embeddings.evaluate import candidate_ranks, metrics_of_ranks
from peapod.embeddings.interactions import read_train_interactions
from peapod.embeddings.io import write_item_embeddings, write_user_embeddings
from peapod.embeddings.user_file import load_user_file
from peapod.io import write_json
from peapod.provenance import provenance

log = logging.getLogger(__name__)


def train_embeddings(
    dataset: str,
    cf_model: str,
    tables: dict[str, str | Path],
    outputs: dict[str, str | Path],
    config: dict[str, Any],
) -> dict[str, Any]:
    """``tables``: paths of sequences, users, items, candidates; ``outputs``: embeddings, metrics and
    item_embeddings (the item factors, for generator.item_init: cf; optional); ``config``: the
    workflow's ``embeddings`` section. Returns the metrics record: the test metrics under ``test``
    and, for a source with item vectors, each user's test rank under ``per_user``
    ({split, user_id: [...], rank: [...]})."""
    if cf_model not in SOURCES:
        raise ValueError(f"unknown embedding source {cf_model!r}; expected one of {SOURCES}")
    interactions = read_train_interactions(tables["sequences"], tables["users"], tables["items"])
    log.info(
        "dataset %s: %d users, %d items, %d training pairs (validation and test items withheld)",
        dataset, interactions.n_users, interactions.n_items, len(interactions.users),
    )  # fmt: skip
    dim = int(config["dim"])
    start = time.perf_counter()
    if cf_model == "file":
        spec = config.get("file", {})
        if not spec.get("path"):
            raise ValueError("embeddings.file.path is not set: the file source needs a path")
        path = spec["path"].format(dataset=dataset)
        ids_path = spec.get("ids_path")
        embeddings = load_user_file(path, interactions.user_ids, dim, ids_path.format(dataset=dataset) if ids_path else None)
    else:
        settings = settings_for(cf_model, dim, int(config["seed"]), config.get(cf_model, {}))
        embeddings = fit_embeddings(cf_model, interactions, settings)
    seconds = time.perf_counter() - start
    log.info("%s: %d users x %d dims in %.1f s", cf_model, len(embeddings.user_ids), embeddings.dim, seconds)

    write_user_embeddings(embeddings.user_ids, embeddings.user_vectors, outputs["embeddings"], source=cf_model,
                          record={"dataset": dataset, "cf_model": cf_model, "config": config})
    if outputs.get("item_embeddings"):
        write_item_embeddings(embeddings.item_ids, embeddings.item_vectors, outputs["item_embeddings"], dim,
                              source=cf_model, record={"dataset": dataset, "cf_model": cf_model, "config": config})
    record: dict[str, Any] = {
        "dataset": dataset,
        "cf_model": cf_model,
        "seed": int(config["seed"]),
        "config": config,
        "users": int(len(embeddings.user_ids)),
        "dim": int(embeddings.dim),
        "fit_seconds": round(seconds, 3),
        "protocol": "test split; target ranked among target + negatives by user.item score; "
        "ties pessimistic (rank = negatives scoring >= target)",
        "info": embeddings.info,
    }
    if embeddings.item_vectors is not None:
        candidates = read_table(tables["candidates"], "candidates")
        users, ranks, n_candidates = candidate_ranks(
            embeddings.user_vectors, embeddings.user_ids, embeddings.item_vectors, embeddings.item_ids, candidates, "test"
        )
        record["test"] = metrics_of_ranks(ranks, n_candidates)
        per_user = {"split": "test", "user_id": users.tolist(), "rank": ranks.tolist()}
        log.info("%s test metrics: %s", cf_model, record["test"])
    else:
        record["test"] = None
        record["note"] = "no item vectors from this source: no top-n metrics"
        per_user = None
    record["provenance"] = provenance()
    if per_user is not None:  # last, so the file opens on its metrics: each user's rank, so the tables
        record["per_user"] = per_user  # can restrict this row to the users the runs were evaluated on
    write_json(record, outputs["metrics"])
    return record
