"""``generator.item_init: cf``: the item tokens' embeddings start from the CF model's item factors.

With one token per item (``item_tokens: independent``) a tiny T5 trained from scratch must learn
12,000 item vectors from a few samples each. The CF model has already placed the items (fitted on
the training split only, like the user embeddings): projecting its item factors onto their first
``d_model`` principal components gives each item token a start in which co-consumed items sit
together, and in which the user prompt (computed from the same model's user vectors) can find them.
The projection is PCA (not a learned map) so that the start is a fixed function of the CF output,
the same for PeaPOD and POD; rows are scaled to the spread of the table they replace, so the
backbone's own initialisation scale (and its tied output layer) is kept.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from peapod.generator.tokenization import item_word

log = logging.getLogger(__name__)


def principal_projection(vectors: np.ndarray, width: int) -> tuple[np.ndarray, float]:
    """(rows (I, width) float32, share of the variance they keep): ``vectors`` centred and projected
    onto their first ``width`` principal components (zero-padded when the factors are narrower)."""
    vectors = np.asarray(vectors, np.float64)
    centred = vectors - vectors.mean(axis=0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)  # components: (min(I, d), d)
    k = min(width, len(components))
    rows = np.zeros((len(vectors), width))
    rows[:, :k] = centred @ components[:k].T
    total = float((singular**2).sum())
    kept = float((singular[:k] ** 2).sum()) / total if total > 0 else 0.0
    return rows.astype(np.float32), kept


def init_item_embeddings(table: torch.nn.Embedding, tokenizer, item_ids: np.ndarray, item_vectors: np.ndarray
                         ) -> dict[str, float | int]:
    """Overwrite the rows of ``table`` that hold item tokens with the CF item factors projected to
    the table's width and scaled to the replaced rows' standard deviation. Items without a token of
    their own keep their rows. Returns what it did (for the run's log)."""
    token_ids = np.asarray(tokenizer.convert_tokens_to_ids([item_word(i) for i in item_ids]), np.int64)
    own = token_ids != tokenizer.unk_token_id
    if not own.any():
        raise ValueError("item_init: cf found no item tokens in the tokenizer (item_tokens must be independent)")
    rows, kept = principal_projection(item_vectors[own], table.embedding_dim)
    with torch.no_grad():
        index = torch.as_tensor(token_ids[own])
        scale = float(table.weight[index].std()) / max(float(rows.std()), 1e-12)
        table.weight[index] = torch.as_tensor(rows * scale, dtype=table.weight.dtype)
    info = {"items": int(own.sum()), "variance_kept": round(kept, 4), "row_std": round(float(rows.std() * scale), 4)}
    log.info("item_init cf: %d item tokens from CF item factors by PCA to %d dims (%.1f%% of their variance kept)",
             info["items"], table.embedding_dim, 100 * kept)
    return info
