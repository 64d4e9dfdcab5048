"""The generator's settings: one dataclass, built from the workflow config.

The schema (workflow/schemas/config.schema.yaml, section ``generator``) is the one home of each
setting's default, bounds and description: the fields below take their defaults from it and
``check`` validates against it, adding only the rules that relate two settings. A new setting is
a schema entry and a typed field here; the keys a variant may override derive from the schema
(peapod.config.load_schema).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from typing import Any

from peapod.config import generator_schema, schema_problems

TASKS = ("explanation", "sequential", "topn")  # task order = task-prompt rows = batch rotation
CURVE_TOP_K = 10  # the learning curves' HR@k


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    return generator_schema()


def _default(key: str, section: str | None = None) -> Any:
    """The schema's default of ``generator.<key>`` (or ``generator.<section>.<key>``)."""
    props = _schema()["properties"]
    if section is not None:
        props = props[section]["properties"]
    return copy.deepcopy(props[key]["default"])


def _from_schema(key: str, section: str | None = None):
    """A dataclass field whose default is the schema's (a fresh copy for lists)."""
    return field(default_factory=lambda: _default(key, section))


@dataclass
class TinyBackbone:
    """Shape of the tiny backbone (schema: ``generator.tiny``)."""

    d_model: int = _from_schema("d_model", "tiny")
    d_ff: int = _from_schema("d_ff", "tiny")
    num_layers: int = _from_schema("num_layers", "tiny")
    num_heads: int = _from_schema("num_heads", "tiny")
    vocab_size: int = _from_schema("vocab_size", "tiny")
    dropout_rate: float = _from_schema("dropout_rate", "tiny")


@dataclass
class GeneratorConfig:
    """Every setting of one generator run; what each means is in the schema's description."""

    backbone: str = _from_schema("backbone")
    model_dir: str | None = _from_schema("model_dir")
    tiny: TinyBackbone = field(default_factory=TinyBackbone)
    user_prompt: str = _from_schema("user_prompt")
    heads: int = _from_schema("heads")
    prompt_length: int = _from_schema("prompt_length")
    task_prompt_length: int = _from_schema("task_prompt_length")
    neighbors: int = _from_schema("neighbors")
    cf_model: str = _from_schema("cf_model")
    learning_rate: float = _from_schema("learning_rate")
    warmup_steps: int = _from_schema("warmup_steps")
    lr_decay: str = _from_schema("lr_decay")
    weight_decay: float = _from_schema("weight_decay")
    clip_norm: float = _from_schema("clip_norm")
    batch_size: int = _from_schema("batch_size")
    eval_batch_size: int = _from_schema("eval_batch_size")
    epochs: int = _from_schema("epochs")
    patience: int = _from_schema("patience")
    max_history: int = _from_schema("max_history")
    explanation_length: int = _from_schema("explanation_length")
    negatives: int = _from_schema("negatives")
    whole_word_size: int = _from_schema("whole_word_size")
    tasks: list[str] = _from_schema("tasks")
    batching: str = _from_schema("batching")
    item_tokens: str = _from_schema("item_tokens")
    copy_head: bool = _from_schema("copy_head")
    sequential_units: str = _from_schema("sequential_units")
    item_init: str = _from_schema("item_init")
    mask_pad_in_loss: bool = _from_schema("mask_pad_in_loss")
    decoder_encoder_mask: bool = _from_schema("decoder_encoder_mask")
    validation_seed: int = _from_schema("validation_seed")
    validation_users: int | None = _from_schema("validation_users")
    validation_topn_scoring: bool = _from_schema("validation_topn_scoring")
    curve_users: int = _from_schema("curve_users")
    curve_beams: int = _from_schema("curve_beams")

    def __post_init__(self) -> None:
        if isinstance(self.tiny, dict):
            self.tiny = TinyBackbone(**self.tiny)
        self.tasks = list(self.tasks)
        self.check()

    def check(self) -> None:
        """The schema's types, enums and bounds, then the rules that relate two settings."""
        problems = schema_problems(self.to_dict(), _schema())
        if self.curve_beams < CURVE_TOP_K:
            problems.append(f"curve_beams must be >= {CURVE_TOP_K} (the learning curves' HR@{CURVE_TOP_K})")
        if problems:  # the rules below read settings these problems may make meaningless
            raise ValueError("generator config: " + "; ".join(problems))
        if self.tiny.d_model % self.tiny.num_heads:
            problems.append("tiny.d_model must be divisible by tiny.num_heads")
        if self.backbone == "tiny" and self.user_prompt == "mha" and self.tiny.d_model % self.heads:
            problems.append(f"heads ({self.heads}) must divide tiny.d_model ({self.tiny.d_model}): the user "
                            "prompt's attention runs in the model's width")
        if self.item_init == "cf" and self.item_tokens != "independent":
            problems.append("item_init: cf needs item_tokens: independent (one embedding row per item to start)")
        if problems:
            raise ValueError("generator config: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, settings: dict[str, Any]) -> "GeneratorConfig":
        """Build from a config mapping; unknown keys are errors (a typo must not be ignored)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ValueError(f"generator config: unknown key(s) {unknown}; known: {sorted(known)}")
        settings = dict(settings)
        if "tiny" in settings:
            tiny_known = {f.name for f in fields(TinyBackbone)}
            bad = sorted(set(settings["tiny"]) - tiny_known)
            if bad:
                raise ValueError(f"generator config: unknown tiny key(s) {bad}; known: {sorted(tiny_known)}")
            settings["tiny"] = TinyBackbone(**{**asdict(TinyBackbone()), **settings["tiny"]})
        return cls(**settings)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, overrides: dict[str, Any]) -> "GeneratorConfig":
        """A copy with some keys replaced (``tiny`` merged key by key)."""
        merged = self.to_dict()
        for key, value in overrides.items():
            if key == "tiny" and isinstance(value, dict):
                merged["tiny"] = {**merged["tiny"], **value}
            else:
                merged[key] = value
        return GeneratorConfig.from_dict(merged)


def learning_rate_factor(cfg: GeneratorConfig, step: int, total_steps: int) -> float:
    """The multiple of ``learning_rate`` for 0-based batch ``step`` of ``total_steps`` planned
    (epochs x batches per epoch): a linear warm-up over ``warmup_steps``, then ``lr_decay``. A
    function of the step alone, so a resumed run continues the same schedule."""
    import math

    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.lr_decay == "constant":
        return 1.0
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps))
    return 1.0 - progress if cfg.lr_decay == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))


def variant_config(generator: dict[str, Any], overrides: dict[str, Any] | None) -> GeneratorConfig:
    """The settings of one variant: the config's ``generator`` defaults with the variant's overrides."""
    return GeneratorConfig.from_dict(generator or {}).with_overrides(overrides or {})


def run_config(
    generator: dict[str, Any], dataset_overrides: dict[str, Any] | None, variant_overrides: dict[str, Any] | None,
    dataset_variant_overrides: dict[str, Any] | None = None,
) -> GeneratorConfig:
    """The settings of one (dataset, variant) run, in this order (later wins): ``generator``
    defaults, the dataset's own overrides (e.g. Toys uses 10 neighbours), the variant's, then the
    variant's overrides on this dataset only (e.g. POD's learning rate on Sports)."""
    return (variant_config(generator, dataset_overrides).with_overrides(variant_overrides or {})
            .with_overrides(dataset_variant_overrides or {}))


def settings_of_run(config: dict[str, Any], dataset: str, variant: str) -> GeneratorConfig:
    """``run_config`` read from a workflow config: ``generator``, ``datasets.<dataset>.generator``,
    ``variants.<variant>``, ``datasets.<dataset>.variants.<variant>``."""
    spec = config["datasets"][dataset] or {}
    per_variant = spec.get("variants") or {}
    unknown = sorted(set(per_variant) - set(config.get("variants") or {}))
    if unknown:
        raise ValueError(f"datasets.{dataset}.variants: {unknown} not defined under variants:")
    return run_config(config.get("generator") or {}, spec.get("generator"), (config.get("variants") or {})[variant],
                      per_variant.get(variant))


def all_run_settings(config: dict[str, Any]) -> dict[tuple[str, str], GeneratorConfig]:
    """The settings of every (dataset, variant) pair the config defines."""
    return {(dataset, variant): settings_of_run(config, dataset, variant)
            for dataset in config["datasets"] for variant in (config.get("variants") or {})}


def neighbors_to_store(run_settings: dict[tuple[str, str], GeneratorConfig], dataset: str, cf_model: str,
                       at_least: int) -> int:
    """Neighbours the index of (dataset, cf_model) must keep: ``at_least`` (config neighbors.k) or
    the most any run with a user prompt on that dataset and CF model reads, whichever is larger."""
    needs = [s.neighbors for (d, _), s in run_settings.items()
             if d == dataset and s.cf_model == cf_model and s.user_prompt != "none"]
    return max([int(at_least), *needs])
