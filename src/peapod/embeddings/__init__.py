"""CF user embeddings: one contract for every source.

``fit_embeddings(model, interactions, settings)`` takes training interactions only
(:class:`TrainInteractions`) and returns :class:`CFEmbeddings` (user vectors keyed by the dataset's
user ids, item vectors where the model has them). Sources: ``pmf`` and ``bivae`` (cornac),
``lightgcn`` (RecBole), and ``file`` (user-supplied vectors, see :mod:`peapod.embeddings.user_file`).
Heavy libraries are imported only when their model is fitted.
"""

from __future__ import annotations

from peapod.embeddings.base import CFEmbeddings
from peapod.embeddings.interactions import TrainInteractions, read_train_interactions

CF_MODELS = ("pmf", "bivae", "lightgcn")  # fitted here
SOURCES = CF_MODELS + ("file",)  # every value of the {cf_model} wildcard

__all__ = ["CFEmbeddings", "TrainInteractions", "read_train_interactions", "fit_embeddings", "settings_for", "CF_MODELS", "SOURCES"]


def settings_for(model: str, dim: int, seed: int, options: dict | None = None):
    """The settings dataclass of ``model`` from the config's ``embeddings.<model>`` section."""
    from peapod.embeddings.cornac_models import BiVAESettings, PMFSettings
    from peapod.embeddings.lightgcn import LightGCNSettings

    classes = {"pmf": PMFSettings, "bivae": BiVAESettings, "lightgcn": LightGCNSettings}
    if model not in classes:
        raise ValueError(f"unknown CF model {model!r}; expected one of {CF_MODELS}")
    return classes[model](dim=dim, seed=seed, **(options or {}))


def fit_embeddings(model: str, interactions: TrainInteractions, settings) -> CFEmbeddings:
    """Fit ``model`` on training interactions only and return vectors keyed by dataset ids."""
    if not isinstance(interactions, TrainInteractions):
        raise TypeError("fit_embeddings takes TrainInteractions (training pairs only)")
    if model == "pmf":
        from peapod.embeddings.cornac_models import fit_pmf

        return fit_pmf(interactions, settings)
    if model == "bivae":
        from peapod.embeddings.cornac_models import fit_bivae

        return fit_bivae(interactions, settings)
    if model == "lightgcn":
        from peapod.embeddings.lightgcn import fit_lightgcn

        return fit_lightgcn(interactions, settings)
    raise ValueError(f"unknown CF model {model!r}; expected one of {CF_MODELS}")
