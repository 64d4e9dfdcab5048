"""Recommendations out of a trained run: the top-k next items of users, and generated explanations
of given (user, item) pairs, in the dataset's original ids.

* Next items: the sequential task's prompt over the user's history, beam search restricted to the
  catalogue (a prefix trie of the item ids, so every returned sequence is a distinct real item),
  ``beams`` wide, the ``top_k`` best kept. With ``exclude_history`` the trie also leaves out the
  items of the history itself. ``history: all`` prompts with every known item (what comes next
  after the data); ``test`` / ``valid`` with the items before that split's held-out target, as
  the evaluation does, to look at what it scored. Each item gets ``score``, its exact log-likelihood
  under the prompt (item tokens and end token, teacher-forced); the list is ordered by that score,
  and ``beam_rank`` keeps the beam's own order (the one the evaluation's metrics read).
* Explanations: the evaluation's explanation beam search for each pair of a file.

Users and items are named by the original ids (the ``raw_id`` columns of users.parquet and
items.parquet) in the files read and written; the dataset's numeric ids travel beside them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from peapod.evaluation.evaluate import EvalSettings, RunEvaluator
from peapod.evaluation.request_files import IdMap, read_pairs, read_user_list
from peapod.generator.data import fill
from peapod.generator.runtime import autocast
from peapod.splits import history_before

log = logging.getLogger(__name__)

HISTORIES = ("all", "test", "valid")  # the items a next-item prompt is built on


@dataclass
class RecommendSettings:
    top_k: int = 10  # items per user
    beams: int = 20  # beam width (at least top_k)
    history: str = "all"  # HISTORIES
    exclude_history: bool = True  # never recommend an item of the prompt's history
    batch_size: int = 32  # prompts per batch
    progress_seconds: float = 30.0  # a progress line at least this often

    def __post_init__(self) -> None:
        if self.history not in HISTORIES:
            raise ValueError(f"history must be one of {list(HISTORIES)}, not {self.history!r}")
        if not 1 <= self.top_k <= self.beams:
            raise ValueError(f"top_k must be between 1 and beams ({self.beams}), not {self.top_k}")


def recommend_next_items(evaluator: RunEvaluator, sequences: dict[int, np.ndarray], users: list[int],
                         settings: RecommendSettings, items: IdMap, user_ids: IdMap) -> pd.DataFrame:
    """One row per (user, recommended item): user, user_id, rank, item, item_id, score, beam_rank."""
    max_history = evaluator.cfg.max_history
    histories = [sequences[u] if settings.history == "all" else history_before(sequences[u], settings.history)
                 for u in users]
    prompts = [fill(evaluator.templates.eval["sequential"], "sequential", u, items=h[-max_history:])
               for u, h in zip(users, histories)]
    encoded = evaluator._encode(prompts)
    trie = evaluator.catalogue_trie
    rows_out = []
    for rows, batch in evaluator._batches("sequential", users, encoded, "recommend next items"):
        if settings.exclude_history:
            tries = [trie.excluding(histories[i].tolist()) for i in rows]
            beams = evaluator._beam_lists(batch, lambda r, tries=tries: tries[r])
        else:
            beams = evaluator._beam_lists(batch, lambda r: trie)
        found = beams.ids  # (batch, top_k): item ids; the trie makes every beam a distinct item
        labels = evaluator.item_labels[torch.as_tensor(np.clip(found, 0, None))]
        with autocast(evaluator.device):
            scores = evaluator.model.score_candidates(batch, labels.to(evaluator.device)).cpu().numpy()
        for j, i in enumerate(rows):
            positions = np.flatnonzero(found[j] >= 0)  # fewer items than top_k left: a shorter list
            by_score = positions[np.argsort(-scores[j][positions], kind="stable")]
            rows_out += [(i, rank, int(found[j][p]), float(scores[j][p]), int(p) + 1)
                         for rank, p in enumerate(by_score, start=1)]
    rows_out.sort(key=lambda r: (r[0], r[1]))
    frame = pd.DataFrame(rows_out, columns=["row", "rank", "item_id", "score", "beam_rank"])
    frame.insert(0, "user_id", [users[r] for r in frame.pop("row")])
    frame.insert(0, "user", frame["user_id"].map(user_ids.raw_of))
    frame.insert(3, "item", frame["item_id"].map(items.raw_of))
    return frame.astype({"user_id": "int32", "rank": "int16", "item_id": "int32", "beam_rank": "int16"})


def explain_pairs(evaluator: RunEvaluator, user_list: list[int], item_list: list[int], items: IdMap,
                  user_ids: IdMap) -> pd.DataFrame:
    """One row per pair, in the file's order: user, user_id, item, item_id, explanation."""
    generated = evaluator.generate_explanations(user_list, item_list)
    return pd.DataFrame({"user": [user_ids.raw_of[u] for u in user_list], "user_id": user_list,
                         "item": [items.raw_of[i] for i in item_list], "item_id": item_list,
                         "explanation": generated}).astype({"user_id": "int32", "item_id": "int32"})


def require_task(meta: dict, task: str, where: str | Path) -> None:
    """Stop when the run at ``where`` did not learn ``task`` (its checkpoint's ``tasks_trained``;
    a checkpoint from before that record counts its configured tasks)."""
    trained = meta.get("tasks_trained", meta["generator"]["tasks"])
    if task not in trained:
        raise ValueError(f"{where}: this run did not learn the {task} task (it trained {', '.join(trained)}; "
                         f"its data had no {task} samples or its config left the task out), so it cannot "
                         f"generate {'explanations' if task == 'explanation' else task + ' recommendations'}")


def _load(run: dict[str, str | Path], tables: dict[str, str | Path], templates_path: str | Path,
          settings: EvalSettings, device, cf_files, with_sequences: bool = True, task: str = "sequential"):
    """(evaluator, sequences or None, user IdMap, item IdMap) of a trained run and its dataset's
    tables (users, items and, ``with_sequences``, sequences); stops if the run did not learn
    ``task``."""
    from peapod.data.tables import item_catalogue, read_tables, user_sequences
    from peapod.generator.checkpoint import load_model_files
    from peapod.generator.data import Templates
    from peapod.generator.runtime import describe_precision, pick_device

    dev = pick_device(str(device) if device else None)
    model, tokenizer, meta = load_model_files(run, dev, cf_files)
    require_task(meta, task, Path(run["model"]).parent)
    log.info("loaded %s: %s", Path(run["model"]).parent, describe_precision(dev))
    names = ("users", "items", "sequences") if with_sequences else ("users", "items")
    data = read_tables({name: tables[name] for name in names})
    evaluator = RunEvaluator(model, tokenizer, Templates.load(templates_path), settings,
                             item_catalogue(data["items"]), dev, phase="recommend")
    return (evaluator, user_sequences(data["sequences"]) if with_sequences else None, IdMap(data["users"].to_pandas(), "user_id", "user"),
            IdMap(data["items"].to_pandas(), "item_id", "item"))


def write_recommendations(run: dict[str, str | Path], tables: dict[str, str | Path], templates_path: str | Path,
                          settings: RecommendSettings, outputs: dict[str, str | Path],
                          users_path: str | Path | None = None, device=None,
                          cf_files: tuple[str | Path, str | Path] | None = None) -> pd.DataFrame:
    """The top-k next items of every user (or those of ``users_path``, see read_user_list),
    written atomically to ``outputs`` parquet and csv."""
    eval_settings = EvalSettings(beams=settings.beams, top_k=settings.top_k, batch_size=settings.batch_size,
                                 progress_seconds=settings.progress_seconds)
    evaluator, sequences, users, items = _load(run, tables, templates_path, eval_settings, device, cf_files)
    chosen = sorted(sequences) if users_path is None else read_user_list(users_path, users)
    log.info("recommending %d items to each of %d users (history %s%s)", settings.top_k, len(chosen),
             settings.history, ", its items excluded" if settings.exclude_history else "")
    frame = recommend_next_items(evaluator, sequences, chosen, settings, items, users)
    _write(frame, outputs)
    return frame


def write_explanations(run: dict[str, str | Path], tables: dict[str, str | Path], templates_path: str | Path,
                       settings: EvalSettings, pairs_path: str | Path, outputs: dict[str, str | Path],
                       device=None, cf_files: tuple[str | Path, str | Path] | None = None) -> pd.DataFrame:
    """The generated explanation of every (user, item) pair of ``pairs_path`` (see read_pairs),
    by the evaluation's explanation beam search (``settings``), written atomically to ``outputs``."""
    evaluator, _, users, items = _load(run, tables, templates_path, settings, device, cf_files, with_sequences=False,
                                       task="explanation")
    user_list, item_list = read_pairs(pairs_path, users, items)
    log.info("explaining %d (user, item) pairs", len(user_list))
    frame = explain_pairs(evaluator, user_list, item_list, items, users)
    _write(frame, outputs)
    return frame


def _write(frame: pd.DataFrame, outputs: dict[str, str | Path]) -> None:
    from peapod.io import atomic_path

    with atomic_path(outputs["parquet"]) as tmp:
        frame.to_parquet(tmp, index=False)
    with atomic_path(outputs["csv"]) as tmp:
        frame.to_csv(tmp, index=False)
