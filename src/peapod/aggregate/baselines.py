"""Baselines computed on exactly our data: most-popular and the CF models' own ranking.

The top-n numbers depend on how the 99 negatives were drawn, so every top-n table also shows models
that rank exactly our candidates; a reader can then tell an easier candidate set from a better model.

  most_popular   items scored by their count in the training part of the sequences (each user's
                 items without the last two). Top-n: the target ranked among its 100 candidates;
                 sequential: the target ranked among the whole catalogue (every item of the
                 sequences table; the user's own history is not removed, as beam search does not
                 remove it either). Ties count against the target (as everywhere in the project).
  id_order       the model-free probes of P5's id-order leak (peapod.baselines.id_order): sequential
                 "the last item's id + 1, + 2, ...", top-n "candidates by id distance to the last
                 training item"; a model that merely learns id order scores like them.
  <cf_model>     the embedding stage's own top-n metrics on the test candidates (metrics.json).

  <baseline>     the RecBole baselines trained on our split (peapod.baselines: SASRec, GRU4Rec,
                 BERT4Rec rank the catalogue, MF and MLP our 100 candidates), one row per seed.

Output (one file per dataset): dataset, model, task, method, seed, split, metric, value (method and
seed empty for the deterministic rows: most popular, the id-order probes, the CF models).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from peapod.baselines import id_order
from peapod.embeddings.evaluate import candidate_arrays
from peapod.embeddings.registry import SOURCE_LABELS
from peapod.metrics import RANKING_KS, mean_ranking_metrics, ranks_from_score_matrix
from peapod.splits import EVAL_SPLITS

COLUMNS = ["dataset", "model", "task", "method", "seed", "split", "metric", "value"]
DETERMINISTIC = ["dataset", "model", "task", "split", "metric", "value"]  # rows without method or seed
LABELS = {"most_popular": "Most popular", id_order.MODEL: "Id order (+1, +2, ...)", **SOURCE_LABELS}


def training_counts(sequences: pd.DataFrame) -> pd.Series:
    """Interactions per item in the training part (role train), 0 for items seen only later."""
    counts = sequences.loc[sequences["role"] == "train", "item_id"].value_counts()
    catalogue = np.sort(sequences["item_id"].unique())
    return counts.reindex(catalogue, fill_value=0).astype(np.int64)


def popularity_topn(counts: pd.Series, candidates: pa.Table, split: str) -> dict[str, float]:
    """HR/NDCG of ranking each user's target among its candidates by training count."""
    _, targets, negatives = candidate_arrays(candidates, split)
    target_counts = counts.reindex(targets, fill_value=0).to_numpy()  # (U,)
    negative_counts = counts.reindex(negatives.ravel(), fill_value=0).to_numpy().reshape(negatives.shape)  # (U, K)
    scores = np.concatenate([target_counts[:, None], negative_counts], axis=1)  # (U, 1 + K), target in column 0
    ranks = ranks_from_score_matrix(scores.astype(np.float64), np.zeros(len(scores), dtype=np.int64))
    return mean_ranking_metrics(ranks, RANKING_KS["topn"]["hr"], RANKING_KS["topn"]["ndcg"])


def popularity_sequential(counts: pd.Series, sequences: pd.DataFrame, split: str) -> dict[str, float]:
    """HR/NDCG of the catalogue ranked by training count, for each user's ``split`` item."""
    targets = sequences.loc[sequences["role"] == split, "item_id"].to_numpy()
    ordered = np.sort(counts.to_numpy())
    target_counts = counts.reindex(targets, fill_value=0).to_numpy()
    # pessimistic: every other item with at least the target's count is ahead of it
    ranks = len(ordered) - np.searchsorted(ordered, target_counts, side="left") - 1
    return mean_ranking_metrics(ranks, RANKING_KS["sequential"]["hr"], RANKING_KS["sequential"]["ndcg"])


def most_popular(sequences: pd.DataFrame, candidates: pa.Table) -> pd.DataFrame:
    """The most-popular baseline's metrics (tasks sequential and topn, splits test and valid)."""
    counts = training_counts(sequences)
    rows = []
    for split in EVAL_SPLITS:
        for task, metrics in (("topn", popularity_topn(counts, candidates, split)),
                              ("sequential", popularity_sequential(counts, sequences, split))):
            rows += [("most_popular", task, split, metric, float(value)) for metric, value in metrics.items()]
    return pd.DataFrame(rows, columns=DETERMINISTIC[1:])


def id_order_probe(sequences: pd.DataFrame, candidates: pa.Table) -> pd.DataFrame:
    """The id-order probes' metrics (tasks sequential and topn, splits test and valid)."""
    rows = []
    for split in EVAL_SPLITS:
        users, targets, negatives = candidate_arrays(candidates, split)
        for task, metrics in (("topn", id_order.topn_metrics(sequences, users, targets, negatives)),
                              ("sequential", id_order.sequential_metrics(sequences, split))):
            rows += [(id_order.MODEL, task, split, metric, float(value)) for metric, value in metrics.items()]
    return pd.DataFrame(rows, columns=DETERMINISTIC[1:])


def cf_rows(metrics_path: str | Path) -> pd.DataFrame:
    """The CF model's own top-n test metrics from its metrics.json (none for a source without item vectors)."""
    record = json.loads(Path(metrics_path).read_text(encoding="utf-8"))
    test = record.get("test") or {}
    rows = [(record["cf_model"], "topn", "test", m, float(v)) for m, v in test.items() if m.startswith(("hr@", "ndcg@"))]
    return pd.DataFrame(rows, columns=DETERMINISTIC[1:])


def trained_rows(runs: dict[tuple[str, int], str | Path]) -> pd.DataFrame:
    """Each trained baseline run's metrics ({(model, seed): metrics.parquet}), one row per seed."""
    from peapod.aggregate.collect import read_run_metrics

    frames = []
    for (model, seed), path in sorted(runs.items()):
        df = read_run_metrics(path)
        frames.append(df.assign(model=model, seed=int(seed)))
    columns = COLUMNS[1:]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def compute_baselines(
    dataset: str, sequences_path: str | Path, candidates_path: str | Path, cf_metrics: dict[str, str | Path],
    runs: dict[tuple[str, int], str | Path] | None = None,
) -> pd.DataFrame:
    """Most-popular and the id-order probes from the data stage's tables, then each CF model's rows,
    as one tidy table."""
    from peapod.data.tables import read_table

    sequences = read_table(sequences_path, "sequences").to_pandas()
    candidates = read_table(candidates_path, "candidates")
    frames = [most_popular(sequences, candidates), id_order_probe(sequences, candidates)] + [cf_rows(path) for _, path in sorted(cf_metrics.items())]
    frames.append(trained_rows(runs or {}))
    out = pd.concat([f for f in frames if len(f)], ignore_index=True)
    out.insert(0, "dataset", dataset)
    for column in ("method", "seed"):
        if column not in out:
            out[column] = pd.NA
    out["seed"] = out["seed"].astype("Int64")
    return out[COLUMNS]


def read_baselines(paths) -> pd.DataFrame:
    """Every dataset's baseline file as one table (empty with the columns when there is none)."""
    frames = [pd.read_csv(p, dtype={"seed": "Int64", "method": "object"}) for p in paths]
    frames = [f.assign(**{c: pd.Series(pd.NA, index=f.index, dtype="Int64" if c == "seed" else "object")
                          for c in ("method", "seed") if c not in f}) for f in frames]  # files of deterministic rows only
    out = pd.concat(frames, ignore_index=True)[COLUMNS] if frames else pd.DataFrame(columns=COLUMNS)
    return out.astype({"seed": "Int64"})


def trained_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The trained baselines' rows (those with a seed) summarised over seeds (peapod.aggregate.stats):
    dataset, model, task, method, split, metric, n_seeds, mean, std, ci_low, ci_high, ..."""
    from peapod.aggregate.stats import summarize

    trained = table[table["seed"].notna()]
    by = ["dataset", "model", "task", "method", "split", "metric"]
    if trained.empty:
        return summarize(pd.DataFrame(columns=[*by, "seed", "value"]), by)
    return summarize(trained.astype({"seed": "int64", "value": "float64"}), by)


def trained_tidy(table: pd.DataFrame) -> pd.DataFrame:
    """The trained baselines' seed rows in the aggregation's tidy layout (variant = the model)."""
    trained = table[table["seed"].notna()].rename(columns={"model": "variant"})
    return trained[["dataset", "variant", "seed", "task", "method", "split", "metric", "value"]].astype(
        {"seed": "int64", "value": "float64", "method": "object"})


def baseline_label(model: str) -> str:
    return LABELS.get(model, model)
