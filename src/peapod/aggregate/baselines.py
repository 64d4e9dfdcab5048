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
  <cf_model>     the embedding stage's own top-n ranks on the test candidates (metrics.json).

  <baseline>     the RecBole baselines trained on our split (peapod.baselines: SASRec, GRU4Rec,
                 BERT4Rec rank the catalogue, MF and MLP our 100 candidates), one row per seed.

Every row is on the users the runs were evaluated on (RunUsers: evaluation.sample_users and
sample_seed, drawn by peapod.sampling.evaluation_sample, the function the evaluation draws with;
every user when the evaluation is not sampled): each source's per-user ranks are restricted to them
before the means. A CF metrics.json written before the embedding stage kept per-user ranks has only
its means over every user; such a row says so in its ``users`` column ("all").

Output (one file per dataset): dataset, model, task, method, seed, split, metric, value, users
(method and seed empty for the deterministic rows: most popular, the id-order probes, the CF models;
users: "all", or "sample <n>, seed <seed>": the users the row's means are over).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

from peapod.baselines import id_order
from peapod.embeddings.evaluate import candidate_arrays
from peapod.embeddings.registry import SOURCE_LABELS
from peapod.metrics import RANKING_KS, mean_ranking_metrics, ranks_from_score_matrix
from peapod.sampling import evaluation_sample
from peapod.splits import EVAL_SPLITS

COLUMNS = ["dataset", "model", "task", "method", "seed", "split", "metric", "value", "users"]
DETERMINISTIC = ["dataset", "model", "task", "split", "metric", "value", "users"]  # rows without method or seed
LABELS = {"most_popular": "Most popular", id_order.MODEL: "Id order (+1, +2, ...)", **SOURCE_LABELS}
ALL_USERS = "all"  # the users column of a row over every user of the split
PER_USER_COLUMNS = {"user_id", "task", "method", "split", "rank"}  # of a baseline run's per_user.parquet (and metrics)


def user_set_name(evaluation: Mapping[str, Any] | None) -> str:
    """The users an evaluation section (sample_users, sample_seed) evaluates, as the baselines file's
    users column names them: "all", or "sample <n>, seed <seed>"."""
    n = (evaluation or {}).get("sample_users")
    if n is None:
        return ALL_USERS
    if evaluation.get("sample_seed") is None:
        raise ValueError("evaluation.sample_users is set but evaluation.sample_seed is not")
    return f"sample {int(n)}, seed {int(evaluation['sample_seed'])}"


@dataclass(frozen=True)
class RunUsers:
    """The users the runs were evaluated on: per split, the sorted sampled user ids, or None for
    every user of the split (an evaluation that is not sampled)."""

    name: str  # user_set_name of the evaluation settings
    by_split: dict[str, np.ndarray | None]

    @classmethod
    def of(cls, sequences: pa.Table, evaluation: Mapping[str, Any] | None) -> "RunUsers":
        """From the data stage's sequences table and the config's evaluation section (the same
        sample the evaluation draws: peapod.sampling.evaluation_sample)."""
        from peapod.data.tables import user_sequences

        name = user_set_name(evaluation)
        if name == ALL_USERS:
            return cls.every()
        by_user = user_sequences(sequences)
        n, seed = int(evaluation["sample_users"]), int(evaluation["sample_seed"])
        return cls(name, {split: evaluation_sample(by_user, split, n, seed).users for split in EVAL_SPLITS})

    @classmethod
    def every(cls) -> "RunUsers":
        """Every user of each split (an evaluation that is not sampled)."""
        return cls(ALL_USERS, dict.fromkeys(EVAL_SPLITS))

    def kept(self, split: str, users: np.ndarray) -> np.ndarray:
        """Which of ``users`` (a boolean mask) the runs were evaluated on in ``split``."""
        chosen = self.by_split[split]
        return np.ones(len(users), bool) if chosen is None else np.isin(users, chosen)

    def kept_rows(self, frame: pd.DataFrame) -> np.ndarray:
        """Which rows of a per-user frame (user_id, split, ...) are the runs' users (a boolean mask)."""
        mask = np.zeros(len(frame), bool)
        for split in EVAL_SPLITS:
            rows = (frame["split"] == split).to_numpy()
            mask[rows] = self.kept(split, frame.loc[rows, "user_id"].to_numpy(np.int64))
        return mask


@dataclass(frozen=True)
class UserRanks:
    """One source's 0-based target rank per user, for one task and split."""

    users: np.ndarray  # (U,) user ids
    ranks: np.ndarray  # (U,) aligned with users

    def on(self, run_users: RunUsers, split: str) -> "UserRanks":
        keep = run_users.kept(split, self.users)
        return UserRanks(self.users[keep], self.ranks[keep])

    def metrics(self, task: str) -> dict[str, float]:
        ks = RANKING_KS[task]
        return mean_ranking_metrics(self.ranks, ks["hr"], ks["ndcg"])


def training_counts(sequences: pd.DataFrame) -> pd.Series:
    """Interactions per item in the training part (role train), 0 for items seen only later."""
    counts = sequences.loc[sequences["role"] == "train", "item_id"].value_counts()
    catalogue = np.sort(sequences["item_id"].unique())
    return counts.reindex(catalogue, fill_value=0).astype(np.int64)


def popularity_topn_ranks(counts: pd.Series, candidates: pa.Table, split: str) -> UserRanks:
    """Each user's target ranked among its candidates by training count."""
    users, targets, negatives = candidate_arrays(candidates, split)
    target_counts = counts.reindex(targets, fill_value=0).to_numpy()  # (U,)
    negative_counts = counts.reindex(negatives.ravel(), fill_value=0).to_numpy().reshape(negatives.shape)  # (U, K)
    scores = np.concatenate([target_counts[:, None], negative_counts], axis=1)  # (U, 1 + K), target in column 0
    return UserRanks(users, ranks_from_score_matrix(scores.astype(np.float64), np.zeros(len(scores), dtype=np.int64)))


def popularity_sequential_ranks(counts: pd.Series, sequences: pd.DataFrame, split: str) -> UserRanks:
    """Each user's ``split`` item ranked in the catalogue (``counts``' items) by training count."""
    held_out = sequences[sequences["role"] == split]
    ordered = np.sort(counts.to_numpy())
    target_counts = counts.reindex(held_out["item_id"].to_numpy(), fill_value=0).to_numpy()
    # pessimistic: every other item with at least the target's count is ahead of it
    ranks = len(ordered) - np.searchsorted(ordered, target_counts, side="left") - 1
    return UserRanks(held_out["user_id"].to_numpy(np.int64), ranks.astype(np.int64))


def popularity_topn(counts: pd.Series, candidates: pa.Table, split: str) -> dict[str, float]:
    """HR/NDCG of ranking each user's target among its candidates by training count."""
    return popularity_topn_ranks(counts, candidates, split).metrics("topn")


def popularity_sequential(counts: pd.Series, sequences: pd.DataFrame, split: str) -> dict[str, float]:
    """HR/NDCG of the catalogue ranked by training count, for each user's ``split`` item."""
    return popularity_sequential_ranks(counts, sequences, split).metrics("sequential")


def id_order_ranks(sequences: pd.DataFrame, candidates: pa.Table, task: str, split: str) -> UserRanks:
    """The id-order probe's rank per user (peapod.baselines.id_order)."""
    if task == "sequential":
        frame = id_order.sequential_ranks(sequences, split)
        return UserRanks(frame["user_id"].to_numpy(np.int64), frame["rank"].to_numpy(np.int64))
    users, targets, negatives = candidate_arrays(candidates, split)
    return UserRanks(users, id_order.topn_ranks(sequences, users, targets, negatives))


def popularity_ranks(sequences: pd.DataFrame, candidates: pa.Table) -> dict[tuple[str, str, str], UserRanks]:
    """{("most_popular", task, split): ranks over every user}."""
    counts = training_counts(sequences)
    return {key: ranks for split in EVAL_SPLITS for key, ranks in (
        (("most_popular", "topn", split), popularity_topn_ranks(counts, candidates, split)),
        (("most_popular", "sequential", split), popularity_sequential_ranks(counts, sequences, split)))}


def id_order_all_ranks(sequences: pd.DataFrame, candidates: pa.Table) -> dict[tuple[str, str, str], UserRanks]:
    """{("id_order", task, split): ranks over every user}."""
    return {(id_order.MODEL, task, split): id_order_ranks(sequences, candidates, task, split)
            for split in EVAL_SPLITS for task in ("topn", "sequential")}


def rows_on(run_users: RunUsers, ranks: Mapping[tuple[str, str, str], UserRanks]) -> pd.DataFrame:
    """{(model, task, split): ranks} as rows (model, task, split, metric, value, users), each the
    means over the runs' users."""
    rows = []
    for (model, task, split), every in ranks.items():
        metrics = every.on(run_users, split).metrics(task)
        rows += [(model, task, split, metric, float(value), run_users.name) for metric, value in metrics.items()]
    return pd.DataFrame(rows, columns=DETERMINISTIC[1:])


def most_popular(sequences: pd.DataFrame, candidates: pa.Table, run_users: RunUsers | None = None) -> pd.DataFrame:
    """The most-popular baseline's metrics (tasks sequential and topn, splits test and valid) on the
    runs' users (default: every user)."""
    return rows_on(run_users or RunUsers.every(), popularity_ranks(sequences, candidates))


def id_order_probe(sequences: pd.DataFrame, candidates: pa.Table, run_users: RunUsers | None = None) -> pd.DataFrame:
    """The id-order probes' metrics (tasks sequential and topn, splits test and valid) on the runs'
    users (default: every user)."""
    return rows_on(run_users or RunUsers.every(), id_order_all_ranks(sequences, candidates))


def check_covers(source: str, ranked: np.ndarray, expected: np.ndarray) -> None:
    """Stop when a source lacks a rank for one of the runs' users, naming the source and the user."""
    missing = np.setdiff1d(expected, ranked)
    if len(missing):
        raise ValueError(f"{source}: no rank for {len(missing)} of the {len(expected)} users the runs were "
                         f"evaluated on (e.g. user {int(missing[0])}), so its row cannot be on the same users")


def cf_rows(metrics_path: str | Path, run_users: RunUsers | None = None, expected: np.ndarray | None = None
            ) -> pd.DataFrame:
    """The CF model's own top-n test metrics from its metrics.json (none for a source without item
    vectors): on the runs' users from its per-user ranks; a file without them gives its means over
    every user, labelled "all". ``expected``: the test candidates' users the runs were evaluated on."""
    run_users = run_users or RunUsers.every()
    record = json.loads(Path(metrics_path).read_text(encoding="utf-8"))
    test = record.get("test") or {}
    per_user = record.get("per_user")
    if per_user:
        ranks = UserRanks(np.asarray(per_user["user_id"], np.int64), np.asarray(per_user["rank"], np.int64))
        ranks = ranks.on(run_users, per_user["split"])
        if expected is not None:
            check_covers(str(metrics_path), ranks.users, expected)
        test, users = ranks.metrics("topn"), run_users.name
    else:
        users = ALL_USERS
    rows = [(record["cf_model"], "topn", "test", m, float(v), users) for m, v in test.items() if m.startswith(("hr@", "ndcg@"))]
    return pd.DataFrame(rows, columns=DETERMINISTIC[1:])


def trained_rows(runs: dict[tuple[str, int], str | Path], run_users: RunUsers | None = None,
                 expected: Mapping[tuple[str, str], np.ndarray] | None = None) -> pd.DataFrame:
    """Each trained baseline run's metrics ({(model, seed): per_user.parquet}), one row per seed, the
    means of its per-user results over the runs' users. ``expected``: {(task, split): the users the
    runs were evaluated on that have a target there}."""
    from peapod.evaluation.results import metrics_table

    run_users = run_users or RunUsers.every()
    frames = []
    for (model, seed), path in sorted(runs.items()):
        per_user = pd.read_parquet(path)
        missing = PER_USER_COLUMNS - set(per_user.columns)
        if missing:
            raise ValueError(f"{path}: not a baseline run's per-user results (no column {', '.join(sorted(missing))})")
        kept = per_user[run_users.kept_rows(per_user)]
        for (task, split), part in kept.groupby(["task", "split"]):
            if expected is not None and (task, split) in expected:
                check_covers(f"{path} ({split})", part["user_id"].to_numpy(np.int64), expected[task, split])
        frames.append(metrics_table(kept).assign(model=model, seed=int(seed), users=run_users.name))
    columns = COLUMNS[1:]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def compute_baselines(
    dataset: str, sequences_path: str | Path, candidates_path: str | Path, cf_metrics: dict[str, str | Path],
    runs: dict[tuple[str, int], str | Path] | None = None, evaluation: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Most-popular and the id-order probes from the data stage's tables, then each CF model's rows
    and each trained baseline's seeds ({(model, seed): per_user.parquet}), as one tidy table, every
    row on the users the runs were evaluated on (``evaluation``: the config's evaluation section)."""
    from peapod.data.tables import read_table

    sequences_table = read_table(sequences_path, "sequences")
    sequences = sequences_table.to_pandas()
    candidates = read_table(candidates_path, "candidates")
    run_users = RunUsers.of(sequences_table, evaluation)
    every = {**popularity_ranks(sequences, candidates), **id_order_all_ranks(sequences, candidates)}
    # the runs' users with a target in each (task, split): what every other source must rank
    expected = {(task, split): every["most_popular", task, split].on(run_users, split).users
                for task in ("topn", "sequential") for split in EVAL_SPLITS}
    frames = [rows_on(run_users, every)]
    frames += [cf_rows(path, run_users, expected["topn", "test"]) for _, path in sorted(cf_metrics.items())]
    frames.append(trained_rows(runs or {}, run_users, expected))
    out = pd.concat([f for f in frames if len(f)], ignore_index=True)
    out.insert(0, "dataset", dataset)
    for column in ("method", "seed"):
        if column not in out:
            out[column] = pd.NA
    out["seed"] = out["seed"].astype("Int64")
    return out[COLUMNS]


def read_baselines(paths) -> pd.DataFrame:
    """Every dataset's baseline file as one table (empty with the columns when there is none). A file
    written before rows were restricted to the runs' users has no users column: its rows are on
    every user ("all")."""
    frames = [pd.read_csv(p, dtype={"seed": "Int64", "method": "object", "users": "object"}) for p in paths]
    frames = [f.assign(**{c: pd.Series(pd.NA, index=f.index, dtype="Int64" if c == "seed" else "object")
                          for c in ("method", "seed") if c not in f}) for f in frames]  # files of deterministic rows only
    frames = [f if "users" in f else f.assign(users=ALL_USERS) for f in frames]
    out = pd.concat(frames, ignore_index=True)[COLUMNS] if frames else pd.DataFrame(columns=COLUMNS)
    return out.astype({"seed": "Int64"}).fillna({"users": ALL_USERS})


def trained_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The trained baselines' rows (those with a seed) summarised over seeds (peapod.aggregate.stats):
    dataset, model, task, method, split, metric, users, n_seeds, mean, std, ci_low, ci_high, ..."""
    from peapod.aggregate.stats import summarize

    trained = table[table["seed"].notna()]
    by = ["dataset", "model", "task", "method", "split", "metric", "users"]
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
