"""The generator's settings: one dataclass, a comment per field, built from the workflow config.

Defaults here equal the defaults of workflow/schemas/config.schema.yaml (a test checks it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

TASKS = ("explanation", "sequential", "topn")  # task order = task-prompt rows = batch rotation
BACKBONES = ("tiny", "t5-small", "t5-base")
USER_PROMPTS = ("mha", "mlp", "none")
LR_DECAYS = ("constant", "linear", "cosine")
CURVE_TOP_K = 10  # the learning curves' HR@k


@dataclass
class TinyBackbone:
    d_model: int = 64  # hidden size
    d_ff: int = 128  # feed-forward inner size
    num_layers: int = 2  # encoder layers (the decoder gets as many)
    num_heads: int = 4  # attention heads (d_kv = d_model / num_heads)
    vocab_size: int = 600  # upper bound for the locally trained tokenizer's vocabulary
    dropout_rate: float = 0.1  # T5 dropout


@dataclass
class GeneratorConfig:
    backbone: str = "tiny"  # tiny (built locally) | t5-small | t5-base (loaded offline)
    model_dir: str | None = None  # directory of a save_pretrained T5 checkpoint; default resources/models/<backbone>
    tiny: TinyBackbone = field(default_factory=TinyBackbone)  # shape of the tiny backbone
    user_prompt: str = "mha"  # mha (PeaPOD) | mlp (ablation) | none (POD)
    heads: int = 4  # attention heads of the mha user prompt
    prompt_length: int = 3  # user prompt vectors
    task_prompt_length: int = 3  # task prompt vectors per task; 0 switches task prompts off
    neighbors: int = 20  # neighbours used as keys/values (first n of the stored k)
    cf_model: str = "pmf"  # which CF model's user embeddings and neighbours to use
    learning_rate: float = 5e-4  # AdamW learning rate (the peak, after any warm-up)
    warmup_steps: int = 0  # linear warm-up from 0 over this many batches; 0: none (the paper)
    lr_decay: str = "constant"  # after warm-up: constant (the paper) | linear | cosine, to 0 at the last planned batch
    weight_decay: float = 0.01  # AdamW weight decay (torch's default, as in the reference)
    clip_norm: float = 0.0  # gradient norm clipping; 0 disables (the paper and its code do not clip)
    batch_size: int = 64  # training batch size (one task per batch)
    eval_batch_size: int = 64  # validation batch size
    epochs: int = 30  # maximum epochs
    patience: int = 5  # stop after this many epochs without a better validation loss
    max_history: int = 20  # most recent items in a sequential prompt
    explanation_length: int = 20  # explanation targets: their first N tokens (EOS only if shorter; released code)
    negatives: int = 99  # negatives per top-n training prompt
    whole_word_size: int = 512  # whole-word embedding table size (ids beyond are clipped)
    tasks: list[str] = field(default_factory=lambda: list(TASKS))  # tasks to train
    batching: str = "task"  # task (one task per batch, rotating) | mixed (benchmark baseline)
    mask_pad_in_loss: bool = True  # False reproduces released-code defect 1 (pad ids in the loss)
    decoder_encoder_mask: bool = True  # False reproduces defect 2 (decoder attends to encoder pads)
    validation_seed: int = 2022  # seed of the fixed validation prompts (same for every run)
    validation_users: int | None = None  # per-epoch validation loss on a fixed stratified sample of this many users; None: all
    validation_topn_scoring: bool = True  # after training, log the best model's top-n HR/NDCG on validation
    curve_users: int = 200  # per-epoch validation HR@10 (beams, exact scoring) on a fixed sample of this many users; 0: off
    curve_beams: int = 20  # beam width of that check (10 sequences returned)

    def __post_init__(self) -> None:
        if isinstance(self.tiny, dict):
            self.tiny = TinyBackbone(**self.tiny)
        self.tasks = list(self.tasks)
        self.check()

    def check(self) -> None:
        problems = []
        if self.backbone not in BACKBONES:
            problems.append(f"backbone {self.backbone!r} not in {BACKBONES}")
        if self.user_prompt not in USER_PROMPTS:
            problems.append(f"user_prompt {self.user_prompt!r} not in {USER_PROMPTS}")
        if self.batching not in ("task", "mixed"):
            problems.append(f"batching {self.batching!r} not in ('task', 'mixed')")
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown or not self.tasks:
            problems.append(f"tasks {self.tasks} must be a non-empty subset of {TASKS}")
        for name in ("heads", "prompt_length", "neighbors", "batch_size", "eval_batch_size", "epochs",
                     "patience", "max_history", "explanation_length", "negatives", "whole_word_size"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1")
        if self.curve_users < 0 or self.curve_beams < CURVE_TOP_K:
            problems.append(f"curve_users must be >= 0 and curve_beams >= {CURVE_TOP_K}")
        if self.validation_users is not None and self.validation_users < 1:
            problems.append("validation_users must be >= 1 or null")
        if self.task_prompt_length < 0:
            problems.append("task_prompt_length must be >= 0")
        if self.learning_rate <= 0:
            problems.append("learning_rate must be > 0")
        if self.lr_decay not in LR_DECAYS or self.warmup_steps < 0:
            problems.append(f"lr_decay must be one of {LR_DECAYS} and warmup_steps >= 0")
        if self.tiny.d_model % self.tiny.num_heads:
            problems.append("tiny.d_model must be divisible by tiny.num_heads")
        if self.backbone == "tiny" and self.user_prompt == "mha" and self.tiny.d_model % self.heads:
            problems.append(f"heads ({self.heads}) must divide tiny.d_model ({self.tiny.d_model}): the user "
                            "prompt's attention runs in the model's width")
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
