"""The one list of embedding sources: every CF model fitted here, and the user-supplied file.

Each model names its settings dataclass and fit function by import path, so reading the registry
imports no heavy library (cornac, RecBole, torch); they load only when a model is fitted. This table
feeds the ``{cf_model}`` wildcard of the workflow, :func:`peapod.embeddings.fit_embeddings`, the
config schema's check (tests/test_config.py), and the figures' order and labels. Adding a model is
one entry here plus its settings dataclass and fit function (and its section in the schema).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class CFModel:
    name: str  # config key, wildcard value and directory name
    label: str  # how tables and figures show it
    module: str  # where its settings dataclass and fit function live
    settings_class: str
    fit_function: str

    def settings_type(self) -> type:
        return getattr(importlib.import_module(self.module), self.settings_class)

    def fit(self, interactions, settings):
        return getattr(importlib.import_module(self.module), self.fit_function)(interactions, settings)

    def option_keys(self) -> set[str]:
        """Keys of the config's ``embeddings.<name>`` section (dim and seed are shared by all models)."""
        return {f.name for f in fields(self.settings_type())} - {"dim", "seed"}


_CORNAC = "peapod.embeddings.cornac_models"
MODELS: dict[str, CFModel] = {
    m.name: m
    for m in (
        CFModel("pmf", "PMF", _CORNAC, "PMFSettings", "fit_pmf"),
        CFModel("bivae", "BiVAE", _CORNAC, "BiVAESettings", "fit_bivae"),
        CFModel("lightgcn", "LightGCN", "peapod.embeddings.lightgcn", "LightGCNSettings", "fit_lightgcn"),
    )
}
CF_MODELS = tuple(MODELS)  # fitted here
FILE_SOURCE = "file"  # user-supplied vectors (peapod.embeddings.user_file)
FILE_KEYS = ("path", "ids_path")  # keys of embeddings.file
SOURCES = CF_MODELS + (FILE_SOURCE,)  # every value of the {cf_model} wildcard
SOURCE_LABELS = {**{m.name: m.label for m in MODELS.values()}, FILE_SOURCE: "user file"}


def cf_model(name: str) -> CFModel:
    if name not in MODELS:
        raise ValueError(f"unknown CF model {name!r}; expected one of {CF_MODELS}")
    return MODELS[name]


def source_keys(name: str) -> set[str]:
    """Keys of the config section of one source (a CF model's settings, or the file's)."""
    return set(FILE_KEYS) if name == FILE_SOURCE else cf_model(name).option_keys()
