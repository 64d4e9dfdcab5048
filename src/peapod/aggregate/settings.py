"""Each variant's full generator settings and the runs the aggregation expects.

A variant is a set of overrides of the ``generator`` defaults (config ``variants:``). Everything the
tables and figures need about a variant (its x value in an ablation figure, its label) comes from the
resolved settings, never from parsing the variant's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable

import pandas as pd

from peapod.config import twins_of
from peapod.generator.config import run_config, settings_of_run

# The generator settings the aggregation reads; other generator keys are carried but not used here.
SETTING_KEYS = ("user_prompt", "heads", "prompt_length", "task_prompt_length", "neighbors", "cf_model", "backbone")

# Ablation name -> the setting it varies and how the figure draws it.
#   x: the column of the resolved settings used as x; kind: "line" (numeric x) or "bar" (categories);
#   spacing "ordinal": equally spaced ticks in numeric order (heads 0=MLP, 1, 2, 4, 8, 16).
ABLATION_AXES: dict[str, dict[str, str]] = {
    "task_prompt": {"x": "task_prompt", "kind": "bar", "label": "task prompts"},
    "neighbors": {"x": "neighbors", "kind": "line", "label": "number of neighbours"},
    "heads": {"x": "heads_axis", "kind": "line", "label": "attention heads (0 = MLP)", "spacing": "ordinal"},
    "prompt_length": {"x": "prompt_length", "kind": "line", "label": "user prompt length"},
    "embedding": {"x": "cf_model", "kind": "bar", "label": "CF embedding"},
    "model_size": {"x": "backbone", "kind": "bar", "label": "backbone"},
}
ABLATION_NAMES = tuple(ABLATION_AXES)
FIGURE_ABLATIONS = ("task_prompt", "neighbors", "heads", "prompt_length", "embedding")


class SettingsError(ValueError):
    pass


def resolve_variant(
    defaults: dict[str, Any], overrides: dict[str, Any] | None, dataset_overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Generator defaults, then a dataset's own overrides (if any), then the variant's overrides:
    the full settings the run trains with (peapod.generator.config.run_config)."""
    try:
        return run_config(defaults, dataset_overrides, overrides).to_dict()
    except (TypeError, ValueError) as error:
        raise SettingsError(str(error)) from error


def run_settings(config: dict[str, Any], dataset: str, variant: str) -> dict[str, Any]:
    """The full settings of one (dataset, variant) run (peapod.generator.config.settings_of_run)."""
    try:
        return settings_of_run(config, dataset, variant).to_dict()
    except (TypeError, ValueError) as error:
        raise SettingsError(str(error)) from error


def derived_columns(settings: dict[str, Any]) -> dict[str, Any]:
    """Axis values derived from settings: heads with MLP as 0 (none for no user prompt), task prompt on/off."""
    user_prompt = settings["user_prompt"]
    if user_prompt == "mlp":
        heads_axis: float = 0
    elif user_prompt == "mha":
        heads_axis = settings["heads"]
    else:
        heads_axis = float("nan")
    return {"heads_axis": heads_axis, "task_prompt": "with" if settings["task_prompt_length"] > 0 else "without"}


def setting_label(settings: dict[str, Any], defaults: dict[str, Any]) -> str:
    """The settings that differ from the generator defaults, e.g. ``heads=8``; ``default`` if none."""
    diffs = [f"{k}={settings[k]}" for k in SETTING_KEYS if settings.get(k) != defaults.get(k)]
    return ", ".join(diffs) if diffs else "default"


def settings_table(config: dict[str, Any], datasets: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per (dataset, variant): the resolved settings, derived axis columns and the label."""
    defaults = dict(config.get("generator", {}))
    variants = config.get("variants") or {}
    rows = []
    for dataset in datasets if datasets is not None else config["datasets"]:
        dataset_overrides = (config["datasets"].get(dataset) or {}).get("generator")
        base = resolve_variant(defaults, {}, dataset_overrides)
        for variant in variants:
            settings = run_settings(config, dataset, variant)
            row = {"dataset": dataset, "variant": variant}
            row.update({k: settings[k] for k in SETTING_KEYS})
            row.update(derived_columns(settings))
            row["setting"] = setting_label(settings, base)
            rows.append(row)
    columns = ["dataset", "variant", *SETTING_KEYS, "heads_axis", "task_prompt", "setting"]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class AggregationPlan:
    """What the aggregation expects: variants per dataset, seeds, and the comparisons to make."""

    datasets: tuple[str, ...]
    seeds: tuple[int, ...]
    table_variants: tuple[str, ...]  # variants shown in the main tables (on every dataset)
    default_variant: str  # PeaPOD as the paper runs it
    baseline_variant: str | None  # POD; paired tests default-vs-baseline when both are configured
    ablations: dict[str, dict[str, tuple[str, ...]]]  # name -> {"variants": ..., "datasets": ...}
    # (dataset, variant) pairs of an ablation whose settings on that dataset equal the default
    # variant's (e.g. neighbors_10 on Toys, where 10 is the default): not trained twice, the
    # default variant's runs stand for them.
    aliases: frozenset[tuple[str, str]] = frozenset()
    # {dataset: its id-order twin} (peapod.config.with_twins): a control, not one of ``datasets``,
    # so no test, verdict, claim or ablation ever sees it; it runs the table variants.
    twins: dict[str, str] = field(default_factory=dict)

    def runs(self) -> list[tuple[str, str, int]]:
        """Every (dataset, variant, seed) to train and evaluate, sorted, no repeats, no aliases."""
        keys = set()
        for dataset in (*self.datasets, *self.twins.values()):
            for variant in self.table_variants:
                keys.update((dataset, variant, seed) for seed in self.seeds)
        for spec in self.ablations.values():
            for dataset in spec["datasets"]:
                for variant in spec["variants"]:
                    if (dataset, variant) not in self.aliases:
                        keys.update((dataset, variant, seed) for seed in self.seeds)
        return sorted(keys)

    def for_ablation(self, name: str) -> "AggregationPlan":
        """The plan of one ablation alone: its variants on its datasets (no main-table runs)."""
        if name not in self.ablations:
            configured = ", ".join(self.ablations) or "none"
            raise SettingsError(f"ablation {name!r} is not configured under ablations: (configured: {configured})")
        spec = self.ablations[name]
        return replace(
            self, datasets=spec["datasets"], table_variants=(), baseline_variant=None, ablations={name: spec}, twins={}
        )


def make_plan(config: dict[str, Any]) -> AggregationPlan:
    """The plan from a validated config; every named variant and dataset must exist. Every ablation
    includes the default variant (its reference point).

    Every variant under ``variants:`` runs: without ``aggregate.table_variants`` the main tables
    show the baseline and default variants and every variant that is in no ablation (on every
    dataset); with it, a variant that is neither listed there nor in an ablation stops the run,
    named, instead of being silently never trained.

    A dataset with ``twin_of`` (an id-order twin, added by peapod.config.with_twins when the config
    is loaded) is not one of the plan's datasets: it runs the table variants, nothing else."""
    variants = config.get("variants") or {}
    twins = {d: t for d, t in twins_of(config["datasets"]).items() if d in config["datasets"]}
    datasets = tuple(d for d in config["datasets"] if d not in twins.values())
    agg = config["aggregate"]
    default = agg["default_variant"]
    baseline = agg["baseline_variant"]
    in_ablations = {v for spec in (config.get("ablations") or {}).values() for v in spec.get("variants") or ()}
    table_variants = tuple(agg.get("table_variants") or [
        *(v for v in (baseline, default) if v in variants),
        *(v for v in variants if v not in (baseline, default) and v not in in_ablations)])
    problems = []
    never_run = [v for v in variants if v not in table_variants and v not in in_ablations and v != default]
    if never_run:
        problems.append(f"variants {never_run} are defined under variants: but would never run: list them in "
                        "aggregate.table_variants or an ablation, or remove them")
    for name in (*table_variants, default):
        if name not in variants:
            problems.append(f"aggregate: variant {name!r} is not defined under variants:")
    ablations = {}
    for name, spec in (config.get("ablations") or {}).items():
        ab_variants = tuple(spec.get("variants") or ())
        if default not in ab_variants:
            ab_variants = (default, *ab_variants)
        ab_datasets = tuple(spec.get("datasets") or datasets)
        for v in ab_variants:
            if v not in variants:
                problems.append(f"ablations.{name}.variants: {v!r} is not defined under variants:")
        for d in ab_datasets:
            if d not in config["datasets"]:
                problems.append(f"ablations.{name}.datasets: {d!r} is not defined under datasets:")
            elif d in twins.values():
                problems.append(f"ablations.{name}.datasets: {d!r} is an id-order twin, a control that runs only "
                                "the main tables' variants")
        ablations[name] = {"variants": ab_variants, "datasets": ab_datasets}
    if problems:
        raise SettingsError("invalid aggregation config:\n  " + "\n  ".join(problems))
    return AggregationPlan(
        datasets=datasets,
        seeds=tuple(config["seeds"]),
        table_variants=table_variants,
        default_variant=default,
        baseline_variant=baseline if baseline in variants else None,
        ablations=ablations,
        aliases=_aliases_of_default(config, ablations, table_variants, default),
        twins=twins,
    )


def _aliases_of_default(
    config: dict[str, Any], ablations: dict[str, dict[str, tuple[str, ...]]], table_variants: tuple[str, ...],
    default: str,
) -> frozenset[tuple[str, str]]:
    """Ablation (dataset, variant) pairs that would train exactly the default variant's settings."""
    aliases = set()
    for spec in ablations.values():
        for dataset in spec["datasets"]:
            reference = run_settings(config, dataset, default)
            for variant in spec["variants"]:
                if variant == default or variant in table_variants:
                    continue
                if run_settings(config, dataset, variant) == reference:
                    aliases.add((dataset, variant))
    return frozenset(aliases)
