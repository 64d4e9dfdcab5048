"""SASRec, GRU4Rec and BERT4Rec by RecBole 1.2.1, on exactly our split, ranked by our metrics.

RecBole builds and splits the data (peapod.baselines.recbole_data: its leave-one-out is checked to be
ours before training), and its model and trainer fit the training rows, one epoch at a time. After
each epoch the validation users are ranked over the whole catalogue by the model's
``full_sort_predict`` and our NDCG@10 (peapod.metrics, ties against the target) decides early
stopping; the best epoch's weights rank the test users.

History exclusion (``exclude_history``): the user's earlier items (every item before the target,
except the target itself) are removed from the ranking. We take that to be the protocol of the
reported rows: the P5 paper's sequential baseline numbers (which the PeaPOD and POD papers carry)
follow the S3-Rec line of work, whose released full-ranking evaluation zeroes the scores of the
user's training items. The papers do not state it, so this is our reading, not a verified fact;
``exclude_history: false`` gives the other protocol (RecBole's own, which removes nothing for
sequential models) for comparison.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from peapod.baselines.recbole_data import (DATASET_NAME, check_split, our_ids, sequential_config,
                                           write_sequence_file)
from peapod.embeddings.recbole_compat import recbole_sandbox
from peapod.metrics import RANKING_KS, mean_ranking_metrics, ranks_from_score_matrix
from peapod.baselines.training import STOP_METRIC, BaselineResult, TrainSettings, train_with_early_stopping

log = logging.getLogger(__name__)
MODELS = ("SASRec", "GRU4Rec", "BERT4Rec")


def rank_split(model, dataset, part, split: str, settings: TrainSettings,
               histories: dict[int, np.ndarray] | None = None) -> pd.DataFrame:
    """Rank every user's ``split`` target over the whole catalogue (RecBole's padding id excluded);
    ``histories`` (history_lists): the items to remove from each user's ranking, None for none."""
    import torch

    feat = part.inter_feat
    uid, iid = dataset.uid_field, dataset.iid_field
    users = our_ids(dataset, uid, feat[uid].numpy())
    targets_internal = feat[iid].numpy().astype(np.int64)
    ranks = np.empty(len(users), dtype=np.int64)
    model.eval()
    with torch.no_grad():
        for start in range(0, len(users), settings.eval_batch_size):
            stop = min(start + settings.eval_batch_size, len(users))
            scores = model.full_sort_predict(feat[start:stop]).view(stop - start, -1).cpu().numpy().astype(np.float64)
            scores[:, 0] = -np.inf  # padding id
            if histories is not None:
                for row, user in enumerate(users[start:stop].tolist()):
                    earlier = histories[user]
                    scores[row, earlier[earlier != targets_internal[start + row]]] = -np.inf
            ranks[start:stop] = ranks_from_score_matrix(scores[:, 1:], targets_internal[start:stop] - 1)
    return pd.DataFrame({"user_id": users, "split": split, "target": our_ids(dataset, iid, targets_internal),
                         "rank": ranks, "history_length": feat["item_length"].numpy().astype(np.int64)})


def history_lists(dataset, sequences: pd.DataFrame, split: str) -> dict[int, np.ndarray]:
    """{user: RecBole ids of every item before the ``split`` target} (the whole history, not cut)."""
    from peapod.splits import history_before

    out = {}
    ordered = sequences.sort_values(["user_id", "position"], kind="stable")
    for user, items in ordered.groupby("user_id", sort=False)["item_id"]:
        earlier = history_before(items.to_numpy(), split)
        out[int(user)] = np.asarray(dataset.token2id(dataset.iid_field, [str(i) for i in earlier.tolist()]), dtype=np.int64)
    return out


def split_metrics(per_user: pd.DataFrame) -> dict[str, float]:
    ks = RANKING_KS["sequential"]
    return mean_ranking_metrics(per_user["rank"].to_numpy(), ks["hr"], ks["ndcg"])


@contextlib.contextmanager
def recbole_sequential_data(model_name: str, sequences: pd.DataFrame, settings: TrainSettings, check=check_split):
    """RecBole's config, dataset and (train, valid, test) parts of our sequences, split by RecBole
    and checked to be our split (``check``), inside the RecBole sandbox."""
    if model_name not in MODELS:
        raise ValueError(f"unknown sequential baseline {model_name!r} (one of {', '.join(MODELS)})")
    with tempfile.TemporaryDirectory(prefix="peapod-baseline-") as tmp:
        tmp_path = Path(tmp)
        with recbole_sandbox(tmp_path / "work") as workdir:
            from recbole.config import Config
            from recbole.data import create_dataset
            from recbole.utils import init_seed

            data_path = write_sequence_file(sequences, tmp_path / "data")
            config_dict = {**sequential_config(data_path, workdir, settings.max_seq_length), **settings.recbole,
                           "seed": settings.seed, "epochs": settings.epochs}
            config = Config(model=model_name, dataset=DATASET_NAME, config_dict=config_dict)
            init_seed(config["seed"], config["reproducibility"])
            dataset = create_dataset(config)
            parts = dataset.build()
            check(dataset, parts, sequences)  # RecBole's held-out items are ours, before any training
            yield config, dataset, parts


def fit_sequential(model_name: str, sequences: pd.DataFrame, settings: TrainSettings) -> BaselineResult:
    """Train ``model_name`` by RecBole on the training rows, early-stopped on validation; rank test."""
    with recbole_sequential_data(model_name, sequences, settings) as (config, dataset, parts):
        from recbole.data.utils import create_samplers, get_dataloader
        from recbole.utils import get_model, get_trainer, init_seed

        train_sampler, _, _ = create_samplers(config, dataset, parts)
        train_data = get_dataloader(config, "train")(config, parts[0], train_sampler, shuffle=True)
        init_seed(config["seed"], config["reproducibility"])
        model = get_model(model_name)(config, train_data._dataset).to(config["device"])
        trainer = get_trainer(config["MODEL_TYPE"], model_name)(config, model)
        log.info("%s: %d users, %d items, %d training rows (RecBole's leave-one-out, checked to be ours)",
                 model_name, dataset.user_num - 1, dataset.item_num - 1, len(parts[0]))
        result = _train(model_name, model, trainer, train_data, dataset, parts, sequences, settings)
        result.info.update(model=f"recbole.{model_name}", recbole_settings={k: config[k] for k in sorted(model_settings_keys(config, settings))},
                           training_rows=len(parts[0]), users=int(dataset.user_num - 1), items=int(dataset.item_num - 1))
    return result


def model_settings_keys(config, settings: TrainSettings) -> set[str]:
    keys = {"learning_rate", "train_batch_size", "MAX_ITEM_LIST_LENGTH", "loss_type", "hidden_size", "embedding_size",
            "n_layers", "num_layers", "n_heads", "inner_size", "hidden_dropout_prob", "attn_dropout_prob",
            "dropout_prob", "mask_ratio", "weight_decay"}
    return {k for k in keys | set(settings.recbole) if k in config.final_config_dict}


def _train(model_name, model, trainer, train_data, dataset, parts, sequences, settings) -> BaselineResult:
    histories = {split: history_lists(dataset, sequences, split) if settings.exclude_history else None
                 for split in ("valid", "test")}

    def validate() -> float:
        return split_metrics(rank_split(model, dataset, parts[1], "valid", settings, histories["valid"]))[STOP_METRIC]

    def rank_all() -> pd.DataFrame:
        return pd.concat([rank_split(model, dataset, parts[i], split, settings, histories[split])
                          for i, split in ((1, "valid"), (2, "test"))], ignore_index=True)

    return train_with_early_stopping(model_name, model, trainer, train_data, settings, validate, rank_all)
