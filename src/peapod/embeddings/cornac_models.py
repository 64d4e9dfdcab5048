"""PMF and BiVAE through cornac, fitted on training interactions only.

The cornac Dataset is built directly from our id universe (every dataset user and catalogue item
gets an index, in sorted id order), so vectors come back keyed by the dataset's ids.

Implicit feedback: P5 sequences carry no ratings, every training pair is a positive (rating 1).
PMF fitted on positives alone has a trivial optimum (every score equal), so for PMF each positive
is joined by ``negatives_per_positive`` items the user has no *training* interaction with, drawn
uniformly with a fixed seed, at rating 0 (the classic implicit-feedback PMF set-up). BiVAE models
the binary matrix directly (its zeros are the negatives) and gets only the positives.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import numpy as np

from peapod.embeddings.base import CFEmbeddings
from peapod.embeddings.interactions import TrainInteractions

log = logging.getLogger(__name__)


@dataclass
class PMFSettings:
    dim: int = 512  # latent dimension k
    max_iter: int = 100  # SGD epochs over the ratings (the paper: 100)
    learning_rate: float = 1e-3  # SGD step size (the paper: 1e-3)
    lambda_reg: float = 1e-3  # L2 weight on U and V (the paper: 1e-3)
    gamma: float = 0.9  # momentum of cornac's SGD
    variant: str = "non_linear"  # cornac variant: sigmoid link (non_linear) or plain dot (linear)
    negatives_per_positive: int = 1  # unobserved items per positive, rating 0
    seed: int = 0  # initialisation and negative sampling


@dataclass
class BiVAESettings:
    dim: int = 512  # latent dimension k of theta (users) and beta (items)
    n_epochs: int = 100  # epochs (the paper: 100)
    batch_size: int = 128  # users / items per step
    learning_rate: float = 1e-3  # Adam step size
    encoder_structure: list[int] = field(default_factory=lambda: [40])  # hidden layer sizes
    act_fn: str = "tanh"  # activation between encoder layers
    likelihood: str = "pois"  # observation model: pois, bern or gaus
    beta_kl: float = 1.0  # weight of the KL terms
    seed: int = 0  # torch seed


def cornac_dataset(interactions: TrainInteractions, ratings: np.ndarray | None = None, pairs=None, seed: int = 0):
    """A cornac Dataset over every dataset user and item (index = position in the sorted ids)."""
    from cornac.data import Dataset

    users, items = pairs if pairs is not None else interactions.unique_pairs()
    if ratings is None:
        ratings = np.ones(len(users), dtype=np.float32)
    uid_map = {int(u): i for i, u in enumerate(interactions.user_ids)}
    iid_map = {int(v): i for i, v in enumerate(interactions.item_ids)}
    uir = (
        np.searchsorted(interactions.user_ids, users).astype(np.int64),
        np.searchsorted(interactions.item_ids, items).astype(np.int64),
        np.asarray(ratings, dtype=np.float32),
    )
    return Dataset(len(uid_map), len(iid_map), uid_map, iid_map, uir, seed=seed)


def sample_unobserved(interactions: TrainInteractions, per_positive: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``per_positive`` items per training pair that the user has no training interaction with."""
    matrix = interactions.matrix()  # (N, I) binary, train only
    users, _ = interactions.unique_pairs()
    rng = np.random.default_rng([seed, 7])
    row = np.repeat(np.searchsorted(interactions.user_ids, users), per_positive)
    col = rng.integers(0, interactions.n_items, size=len(row))
    for _ in range(100):  # redraw collisions with a positive; a user owns few of the items
        clash = np.asarray(matrix[row, col]).ravel() > 0
        if not clash.any():
            break
        col[clash] = rng.integers(0, interactions.n_items, size=int(clash.sum()))
    else:
        raise ValueError("could not draw unobserved items: users interact with almost every item")
    return interactions.user_ids[row], interactions.item_ids[col]


def fit_pmf(interactions: TrainInteractions, settings: PMFSettings) -> CFEmbeddings:
    from cornac.models import PMF

    pos_users, pos_items = interactions.unique_pairs()
    neg_users, neg_items = sample_unobserved(interactions, settings.negatives_per_positive, settings.seed)
    users = np.concatenate([pos_users, neg_users])
    items = np.concatenate([pos_items, neg_items])
    ratings = np.concatenate([np.ones(len(pos_users)), np.zeros(len(neg_users))]).astype(np.float32)
    train_set = cornac_dataset(interactions, ratings, (users, items), seed=settings.seed)
    log.info("PMF: %d positives + %d sampled negatives, %s", len(pos_users), len(neg_users), settings)
    model = PMF(
        k=settings.dim,
        max_iter=settings.max_iter,
        learning_rate=settings.learning_rate,
        gamma=settings.gamma,
        lambda_reg=settings.lambda_reg,
        variant=settings.variant,
        seed=settings.seed,
        verbose=False,
    )
    model.fit(train_set)
    return CFEmbeddings(
        interactions.user_ids,
        model.get_user_vectors(),
        interactions.item_ids,
        model.get_item_vectors(),
        info={"model": "cornac.PMF", "settings": asdict(settings), "positives": int(len(pos_users)), "negatives": int(len(neg_users))},
    )


def fit_bivae(interactions: TrainInteractions, settings: BiVAESettings) -> CFEmbeddings:
    import torch
    from cornac.models import BiVAECF

    train_set = cornac_dataset(interactions, seed=settings.seed)
    log.info("BiVAE: %d positives, %s (CPU)", train_set.num_ratings, settings)
    model = BiVAECF(
        k=settings.dim,
        encoder_structure=list(settings.encoder_structure),
        act_fn=settings.act_fn,
        likelihood=settings.likelihood,
        n_epochs=settings.n_epochs,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        beta_kl=settings.beta_kl,
        seed=settings.seed,
        use_gpu=torch.cuda.is_available(),
        verbose=False,
    )
    model.fit(train_set)
    return CFEmbeddings(
        interactions.user_ids,
        model.get_user_vectors(),  # mu_theta: the posterior means of the user factors
        interactions.item_ids,
        model.get_item_vectors(),  # mu_beta
        info={"model": "cornac.BiVAECF", "settings": asdict(settings), "positives": int(train_set.num_ratings)},
    )
