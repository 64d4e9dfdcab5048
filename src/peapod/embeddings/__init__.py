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

__all__ = ["CFEmbeddings", "TrainInteractions", "read_train_interactions", "fit_embeddings", "settings_for",
           "dataset_settings", "CF_MODELS", "SOURCES"]
FILE_KEYS = ("path", "ids_path")  # keys of embeddings.file


def _model_keys(model: str) -> set[str]:
    from dataclasses import fields

    from peapod.embeddings.cornac_models import BiVAESettings, PMFSettings
    from peapod.embeddings.lightgcn import LightGCNSettings

    if model == "file":
        return set(FILE_KEYS)
    classes = {"pmf": PMFSettings, "bivae": BiVAESettings, "lightgcn": LightGCNSettings}
    return {f.name for f in fields(classes[model])} - {"dim", "seed"}


def dataset_settings(section: dict, overrides: dict | None, cf_model: str, dataset: str = "") -> dict:
    """The settings one embedding job of ``dataset`` uses: ``dim``, ``seed`` and the ``cf_model``
    section of the config's ``embeddings:``, with the dataset's ``datasets.<name>.embeddings``
    merged over them (dim and seed replaced, the model's keys merged key by key). An unknown key
    in the dataset's section of that model is an error naming it."""
    overrides = overrides or {}
    settings = {"dim": overrides.get("dim", section.get("dim", 512)), "seed": overrides.get("seed", section.get("seed", 0))}
    own = dict(overrides.get(cf_model) or {})
    unknown = sorted(set(own) - _model_keys(cf_model))
    if unknown:
        raise ValueError(f"datasets.{dataset}.embeddings.{cf_model}: unknown key(s) {unknown}; known: "
                         f"{sorted(_model_keys(cf_model))}")
    settings[cf_model] = {**(section.get(cf_model) or {}), **own}
    return settings


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
