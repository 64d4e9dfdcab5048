"""Top-n baselines by RecBole 1.2.1: MF (BPR) and MLP (NeuMF's MLP tower alone), ranked over our
exact 100 candidates per user (the target and its 99 fixed negatives, candidates.parquet).

The models train on the training pairs alone (role train; a pre-split RecBole benchmark file, as
LightGCN in peapod.embeddings.lightgcn), one RecBole epoch at a time; after each epoch our
validation candidates (the second-to-last item and its 99 fixed negatives) are ranked by the
model's ``predict`` and our NDCG@10 decides early stopping; the best epoch ranks the test candidates.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from peapod.baselines.training import STOP_METRIC, BaselineResult, TrainSettings, train_with_early_stopping
from peapod.embeddings.evaluate import candidate_arrays
from peapod.embeddings.interactions import TrainInteractions
from peapod.embeddings.lightgcn import DATASET_NAME, TRAIN_NEGATIVES, TRAIN_SUFFIX, write_atomic_files
from peapod.embeddings.recbole_compat import base_config, recbole_sandbox
from peapod.metrics import RANKING_KS, mean_ranking_metrics, ranks_from_score_matrix

log = logging.getLogger(__name__)
# Our name -> (RecBole model, settings that make it that model).
MODELS = {"MF": ("BPR", {}), "MLP": ("NeuMF", {"mf_train": False, "mlp_train": True})}


def topn_config(data_path: Path, workdir: Path) -> dict:
    """The training pairs as LightGCN reads them (a pre-split benchmark file, one negative a positive)."""
    return {
        **base_config(data_path, workdir),
        "TIME_FIELD": None,
        "benchmark_filename": [TRAIN_SUFFIX],
        "load_col": {"inter": ["user_id", "item_id"], "user": ["user_id"], "item": ["item_id"]},
        "train_neg_sample_args": TRAIN_NEGATIVES,
    }


def rank_candidates(model, dataset, candidates: pa.Table, split: str, batch_users: int = 512) -> pd.DataFrame:
    """user_id, split, target, rank of each user's target among its candidates (ties against it)."""
    import torch
    from recbole.data.interaction import Interaction

    users, targets, negatives = candidate_arrays(candidates, split)
    items = np.concatenate([targets[:, None], negatives], axis=1)  # (U, 1 + K), target in column 0
    user_rows = np.asarray(dataset.token2id(dataset.uid_field, [str(u) for u in users.tolist()]), dtype=np.int64)
    item_rows = np.asarray(dataset.token2id(dataset.iid_field, [str(i) for i in items.ravel().tolist()]),
                           dtype=np.int64).reshape(items.shape)
    ranks = np.empty(len(users), dtype=np.int64)
    model.eval()
    with torch.no_grad():
        for start in range(0, len(users), batch_users):
            sl = slice(start, start + batch_users)
            u = np.repeat(user_rows[sl], items.shape[1])
            batch = Interaction({dataset.uid_field: torch.from_numpy(u), dataset.iid_field: torch.from_numpy(item_rows[sl].ravel())})
            scores = model.predict(batch).view(-1, items.shape[1]).cpu().numpy().astype(np.float64)
            ranks[sl] = ranks_from_score_matrix(scores, np.zeros(len(scores), dtype=np.int64))
    return pd.DataFrame({"user_id": users, "split": split, "target": targets, "rank": ranks})


def split_metrics(per_user: pd.DataFrame) -> dict[str, float]:
    ks = RANKING_KS["topn"]
    return mean_ranking_metrics(per_user["rank"].to_numpy(), ks["hr"], ks["ndcg"])


def fit_topn(name: str, interactions: TrainInteractions, candidates: pa.Table, settings: TrainSettings) -> BaselineResult:
    """Train MF or MLP by RecBole on the training pairs, early-stopped on our validation candidates."""
    if name not in MODELS:
        raise ValueError(f"unknown top-n baseline {name!r} (one of {', '.join(MODELS)})")
    recbole_model, fixed = MODELS[name]
    with tempfile.TemporaryDirectory(prefix="peapod-baseline-") as tmp:
        tmp_path = Path(tmp)
        with recbole_sandbox(tmp_path / "work") as workdir:
            from recbole.config import Config
            from recbole.data import create_dataset
            from recbole.data.dataloader import TrainDataLoader
            from recbole.sampler import Sampler
            from recbole.utils import get_model, get_trainer, init_seed

            data_path = write_atomic_files(interactions, tmp_path / "data")
            config_dict = {**topn_config(data_path, workdir), **settings.recbole, **fixed,
                           "seed": settings.seed, "epochs": settings.epochs}
            config = Config(model=recbole_model, dataset=DATASET_NAME, config_dict=config_dict)
            init_seed(config["seed"], config["reproducibility"])
            dataset = create_dataset(config)
            (train_dataset,) = dataset.build()  # the whole file is the training set
            sampler = Sampler(["train"], [train_dataset], distribution="uniform").set_phase("train")
            train_data = TrainDataLoader(config, train_dataset, sampler, shuffle=True)
            init_seed(config["seed"], config["reproducibility"])
            model = get_model(recbole_model)(config, train_dataset).to(config["device"])
            trainer = get_trainer(config["MODEL_TYPE"], recbole_model)(config, model)
            log.info("%s (RecBole %s): %d users, %d items, %d training pairs", name, recbole_model,
                     dataset.user_num - 1, dataset.item_num - 1, len(train_dataset))
            result = _train(name, model, trainer, train_data, dataset, candidates, settings)
            keys = {"learning_rate", "train_batch_size", "embedding_size", "mlp_embedding_size", "mlp_hidden_size",
                    "dropout_prob", "mf_train", "mlp_train", "weight_decay"} | set(settings.recbole)
            result.tokens = {"user": list(dataset.field2id_token[dataset.uid_field]),
                             "item": list(dataset.field2id_token[dataset.iid_field])}
            result.info.update(model=f"recbole.{recbole_model}", training_rows=len(train_dataset),
                               recbole_settings={k: config[k] for k in sorted(keys) if k in config.final_config_dict})
    return result


def _train(name, model, trainer, train_data, dataset, candidates, settings) -> BaselineResult:
    def validate() -> float:
        return split_metrics(rank_candidates(model, dataset, candidates, "valid"))[STOP_METRIC]

    def rank_all() -> pd.DataFrame:
        return pd.concat([rank_candidates(model, dataset, candidates, split) for split in ("valid", "test")],
                         ignore_index=True)

    return train_with_early_stopping(name, model, trainer, train_data, settings, validate, rank_all)
