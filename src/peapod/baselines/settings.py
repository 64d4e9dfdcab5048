"""The config's baselines: section, per run: the model's settings with the dataset's overrides
(datasets.<name>.baselines.<model>, merged key by key; its recbole: mapping too). The schema
(workflow/schemas/config.schema.yaml) holds every default and says where each comes from."""

from __future__ import annotations

from typing import Any, Mapping


def run_settings(baselines: Mapping[str, Any], dataset_spec: Mapping[str, Any] | None, model: str) -> dict[str, Any]:
    """{epochs, stopping_step, ..., recbole: {...}} of ``model`` on one dataset (top-n models ignore
    the sequential keys max_seq_length and exclude_history)."""
    base = dict(baselines.get(model) or {})
    base.setdefault("exclude_history", baselines.get("exclude_history", True))
    override = dict(((dataset_spec or {}).get("baselines") or {}).get(model) or {})
    recbole = {**(base.get("recbole") or {}), **(override.pop("recbole", None) or {})}
    return {**base, **override, "recbole": recbole}
