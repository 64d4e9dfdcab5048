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

from peapod.embeddings.registry import CF_MODELS, SOURCES, cf_model, source_keys

__all__ = ["CFEmbeddings", "TrainInteractions", "read_train_interactions", "fit_embeddings", "settings_for",
           "dataset_settings", "CF_MODELS", "SOURCES"]


def dataset_settings(section: dict, overrides: dict | None, cf_model_name: str, dataset: str = "") -> dict:
    """The settings one embedding job of ``dataset`` uses: ``dim``, ``seed`` and the ``cf_model_name``
    section of the config's ``embeddings:`` (defaults filled by the schema), with the dataset's
    ``datasets.<name>.embeddings`` merged over them (dim and seed replaced, the model's keys merged
    key by key). An unknown key in the dataset's section of that model is an error naming it."""
    overrides = overrides or {}
    settings = {"dim": overrides.get("dim", section["dim"]), "seed": overrides.get("seed", section["seed"])}
    own = dict(overrides.get(cf_model_name) or {})
    known = source_keys(cf_model_name)
    unknown = sorted(set(own) - known)
    if unknown:
        raise ValueError(f"datasets.{dataset}.embeddings.{cf_model_name}: unknown key(s) {unknown}; known: "
                         f"{sorted(known)}")
    settings[cf_model_name] = {**(section.get(cf_model_name) or {}), **own}
    return settings


def settings_for(model: str, dim: int, seed: int, options: dict | None = None):
    """The settings dataclass of ``model`` from the config's ``embeddings.<model>`` section."""
    return cf_model(model).settings_type()(dim=dim, seed=seed, **(options or {}))


def fit_embeddings(model: str, interactions: TrainInteractions, settings) -> CFEmbeddings:
    """Fit ``model`` on training interactions only and return vectors keyed by dataset ids."""
    if not isinstance(interactions, TrainInteractions):
        raise TypeError("fit_embeddings takes TrainInteractions (training pairs only)")
    return cf_model(model).fit(interactions, settings)
