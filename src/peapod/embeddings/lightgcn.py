"""LightGCN through RecBole's Python API, fitted on training interactions only.

Our training pairs are written as RecBole atomic files (``peapod.train.inter``, RecBole's format for
a pre-split "benchmark" file, plus ``.user``/``.item`` files
listing every dataset user and item, so ids that never occur in training still get a row) in a
temporary directory that also receives anything RecBole writes; nothing lands in the working
directory and nothing is downloaded (the files exist, so RecBole's downloader never runs). The whole
file is the training set: RecBole never sees a validation or test item, so there is no RecBole-side
split; training runs for a fixed number of epochs. User and item vectors are LightGCN's final
(layer-averaged, propagated) embeddings, the ones its scores are dot products of.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from peapod.embeddings.base import CFEmbeddings
from peapod.embeddings.interactions import TrainInteractions
from peapod.embeddings.recbole_compat import base_config, recbole_sandbox

log = logging.getLogger(__name__)
DATASET_NAME = "peapod"
TRAIN_SUFFIX = "train"  # RecBole "benchmark file": pre-split data, here only a training part
# BPR's one uniform negative per positive, drawn afresh each epoch
TRAIN_NEGATIVES = {"distribution": "uniform", "sample_num": 1, "alpha": 1.0, "dynamic": False, "candidate_num": 0}


@dataclass
class LightGCNSettings:
    dim: int = 512  # embedding_size
    epochs: int = 100  # training epochs (fixed; no validation split exists at this stage)
    n_layers: int = 3  # propagation layers (LightGCN paper / RecBole default range 1-4)
    learning_rate: float = 1e-3  # Adam step size (RecBole default)
    reg_weight: float = 1e-4  # L2 weight on the ego embeddings of a batch
    train_batch_size: int = 2048  # BPR triples per step (RecBole default)
    seed: int = 0  # RecBole init_seed


def write_atomic_files(interactions: TrainInteractions, directory: Path) -> Path:
    """RecBole's atomic files for dataset ``peapod`` in ``directory/peapod``; returns data_path."""
    folder = directory / DATASET_NAME
    folder.mkdir(parents=True, exist_ok=True)
    users, items = interactions.unique_pairs()
    with open(folder / f"{DATASET_NAME}.{TRAIN_SUFFIX}.inter", "w", encoding="utf-8") as f:
        f.write("user_id:token\titem_id:token\n")
        f.writelines(f"{u}\t{i}\n" for u, i in zip(users.tolist(), items.tolist()))
    with open(folder / f"{DATASET_NAME}.user", "w", encoding="utf-8") as f:
        f.write("user_id:token\n")
        f.writelines(f"{u}\n" for u in interactions.user_ids.tolist())
    with open(folder / f"{DATASET_NAME}.item", "w", encoding="utf-8") as f:
        f.write("item_id:token\n")
        f.writelines(f"{i}\n" for i in interactions.item_ids.tolist())
    return directory


def recbole_config_dict(settings: LightGCNSettings, data_path: Path, workdir: Path) -> dict:
    return {
        **base_config(data_path, workdir),
        "TIME_FIELD": None,
        "benchmark_filename": [TRAIN_SUFFIX],
        "load_col": {"inter": ["user_id", "item_id"], "user": ["user_id"], "item": ["item_id"]},
        "embedding_size": settings.dim,
        "n_layers": settings.n_layers,
        "reg_weight": settings.reg_weight,
        "learning_rate": settings.learning_rate,
        "train_batch_size": settings.train_batch_size,
        "epochs": settings.epochs,
        "train_neg_sample_args": TRAIN_NEGATIVES,
        "eval_step": 0,
        "stopping_step": settings.epochs + 1,
        "seed": settings.seed,
    }


def fit_lightgcn(interactions: TrainInteractions, settings: LightGCNSettings) -> CFEmbeddings:
    with tempfile.TemporaryDirectory(prefix="peapod-recbole-") as tmp:
        tmp_path = Path(tmp)
        with recbole_sandbox(tmp_path / "work") as workdir:
            import torch
            from recbole.config import Config
            from recbole.data import create_dataset
            from recbole.data.dataloader import TrainDataLoader
            from recbole.model.general_recommender import LightGCN
            from recbole.sampler import Sampler
            from recbole.trainer import Trainer
            from recbole.utils import init_seed

            data_path = write_atomic_files(interactions, tmp_path / "data")
            config = Config(
                model="LightGCN", dataset=DATASET_NAME, config_dict=recbole_config_dict(settings, data_path, workdir)
            )
            init_seed(config["seed"], config["reproducibility"])
            dataset = create_dataset(config)
            (train_dataset,) = dataset.build()  # one benchmark file: the whole file is the training set
            sampler = Sampler(["train"], [train_dataset], distribution="uniform").set_phase("train")
            train_data = TrainDataLoader(config, train_dataset, sampler, shuffle=True)
            init_seed(config["seed"], config["reproducibility"])
            model = LightGCN(config, train_dataset).to(config["device"])
            log.info(
                "LightGCN: %d users, %d items (RecBole adds a padding row), %d training pairs, %s",
                dataset.user_num - 1, dataset.item_num - 1, len(train_dataset), settings,
            )  # fmt: skip
            trainer = Trainer(config, model)
            trainer.fit(train_data, valid_data=None, saved=False, show_progress=False, verbose=False)
            model.eval()
            with torch.no_grad():
                user_all, item_all = model.forward()  # (user_num, d), (item_num, d); row 0 is [PAD]
            # RecBole's internal index of each of our ids (tokens are our ids as strings).
            user_rows = dataset.token2id(dataset.uid_field, [str(u) for u in interactions.user_ids.tolist()])
            item_rows = dataset.token2id(dataset.iid_field, [str(i) for i in interactions.item_ids.tolist()])
            user_vectors = user_all.cpu().numpy()[np.asarray(user_rows)]
            item_vectors = item_all.cpu().numpy()[np.asarray(item_rows)]
            n_pairs = len(train_dataset)
    return CFEmbeddings(
        interactions.user_ids,
        user_vectors,
        interactions.item_ids,
        item_vectors,
        info={"model": "recbole.LightGCN", "settings": asdict(settings), "positives": int(n_pairs)},
    )
