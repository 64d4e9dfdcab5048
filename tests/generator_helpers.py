"""The generator tests' templates and CF stand-ins, written in the workflow's file formats (demo
datasets come from tests.helpers.make_demo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from peapod.data.demo import DemoConfig
from peapod.generator.data import Templates
from tests.helpers import TEMPLATES, make_demo


def templates() -> Templates:
    return Templates.load(TEMPLATES)


def write_group_embeddings(truth: dict, out: Path, dim: int = 16, k: int = 10, noise: float = 0.3,
                           seed: int = 0) -> tuple[Path, Path]:
    """CF stand-ins in exactly the embeddings/neighbours stages' Parquet formats: each user's vector
    is its planted group's direction plus noise; neighbours by exact cosine, self excluded."""
    rng = np.random.default_rng(seed)
    users = np.array(sorted(truth["user_group"]), dtype=np.int64)
    groups = np.array([truth["user_group"][u] for u in users])
    vectors = (np.eye(dim)[groups % dim] + noise * rng.standard_normal((len(users), dim))).astype(np.float32)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    order = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    out.mkdir(parents=True, exist_ok=True)
    emb_path, nbr_path = out / "user_embeddings.parquet", out / "neighbors.parquet"
    pq.write_table(pa.table({
        "user_id": pa.array(users, pa.int32()),
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel(), pa.float32()), dim),
    }), emb_path)
    pq.write_table(pa.table({
        "user_id": pa.array(users, pa.int32()),
        "neighbor_ids": pa.FixedSizeListArray.from_arrays(pa.array(users[order].ravel(), pa.int32()), k),
        "similarity": pa.FixedSizeListArray.from_arrays(
            pa.array(np.take_along_axis(sim, order, 1).ravel().astype(np.float32), pa.float32()), k),
    }), nbr_path)
    return emb_path, nbr_path


def small_training_inputs(tmp: Path, demo_config, write_parquet: bool = False):
    """(task data, collaborative inputs) of a small demo dataset with group-planted CF embeddings
    (5 neighbours), for tests that train the generator; ``write_parquet`` also writes the tables
    the evaluation stage reads."""
    from peapod.generator.collab import load_collaborative_inputs
    demo = make_demo(tmp, demo_config)
    data = demo.task_data()
    emb, nbr = write_group_embeddings(demo.truth, tmp / "cf", dim=8, k=6)
    if write_parquet:
        demo.write_parquet()
    return data, load_collaborative_inputs(emb, nbr, 5, data.n_users)


# The generator tests' small demo and tiny model (tests/test_generator.py, test_training_speed.py).
SMALL = DemoConfig(n_users=60, n_items=120, n_groups=4, min_length=5, max_length=10, seed=1)
TINY = dict(d_model=32, d_ff=64, num_layers=1, num_heads=2, dropout_rate=0.0)


def small_generator_inputs(tmp: Path):
    """(TaskData, planted truth, embeddings file, neighbours file) of the SMALL demo."""
    demo = make_demo(tmp, SMALL)
    data, truth = demo.task_data(), demo.truth
    emb, nbr = write_group_embeddings(truth, tmp / "cf", dim=8, k=6)
    return data, truth, emb, nbr


def small_model(small, **overrides):
    """(PeaPOD in eval mode, tokenizer, settings): TINY, seeded, over ``small_generator_inputs``."""
    import torch

    from peapod.generator.backbone import load_backbone
    from peapod.generator.collab import load_collaborative_inputs
    from peapod.generator.config import GeneratorConfig
    from peapod.generator.model import PeaPOD

    data, _, emb, nbr = small
    cfg = GeneratorConfig.from_dict({"tiny": TINY, "neighbors": 5, "heads": 2, "batch_size": 8, **overrides})
    torch.manual_seed(0)
    t5, tok = load_backbone(cfg, data.tokenizer_corpus(templates()), items=data.catalogue)
    collab = load_collaborative_inputs(emb, nbr, cfg.neighbors, data.n_users) if cfg.user_prompt != "none" \
        else (None, None)
    return PeaPOD(t5, cfg, *collab).eval(), tok, cfg
