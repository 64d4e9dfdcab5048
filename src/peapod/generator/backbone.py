"""Backbones: a tiny T5 built from a config with a locally trained tokenizer (demo, tests), or
T5-small/T5-base loaded offline from resources/models/<name> or an existing Hugging Face cache."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable

from peapod.fetch import HUB_REPOS
from peapod.generator import attention
from peapod.generator.config import GeneratorConfig
from peapod.generator.tokenization import add_item_tokens, train_tokenizer

log = logging.getLogger(__name__)

# Hub id and legacy name of each published backbone (as found in a Hugging Face cache).
HUB_NAMES = {name: (repo, name) for name, repo in HUB_REPOS.items()}
# Shapes of the published checkpoints, for random-weight stand-ins (benchmarks, no download).
T5_SHAPES = {
    "t5-small": dict(d_model=512, d_ff=2048, num_layers=6, num_heads=8, d_kv=64, vocab_size=32128),
    "t5-base": dict(d_model=768, d_ff=3072, num_layers=12, num_heads=12, d_kv=64, vocab_size=32128),
}


class BackboneMissing(FileNotFoundError):
    pass


def offline() -> None:
    """Nothing may download at run time."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def t5_config(vocab_size: int, d_model: int, d_ff: int, num_layers: int, num_heads: int,
              dropout_rate: float = 0.1, d_kv: int | None = None):
    from transformers import T5Config

    config = T5Config(
        vocab_size=vocab_size,
        d_model=d_model,
        d_kv=d_kv or d_model // num_heads,
        d_ff=d_ff,
        num_layers=num_layers,
        num_decoder_layers=num_layers,
        num_heads=num_heads,
        dropout_rate=dropout_rate,
        feed_forward_proj="relu",
        tie_word_embeddings=True,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    config._attn_implementation = attention.register()  # sdpa, the position bias combined once per stack
    return config


def _model_dir_candidates(cfg: GeneratorConfig, resources: Path) -> list[Path]:
    if cfg.model_dir:
        return [Path(cfg.model_dir)]
    return [resources / "models" / cfg.backbone]


def load_backbone(cfg: GeneratorConfig, texts: Iterable[str] | None = None, resources: str | Path = "resources",
                  items: Iterable[int] | None = None):
    """(T5ForConditionalGeneration, fast tokenizer) for ``cfg.backbone``.

    tiny: a tokenizer trained on ``texts`` and a randomly initialised T5 (seed torch first).
    t5-small/t5-base: ``cfg.model_dir`` or resources/models/<name>, else the local Hugging Face
    cache; never downloads. With ``item_tokens: independent`` every item of ``items`` (the
    catalogue) becomes a token of its own, with a fresh embedding row.
    """
    if cfg.item_tokens == "independent" and items is None:
        raise ValueError("independent item tokens need the catalogue's items")
    independent = list(items) if cfg.item_tokens == "independent" else None
    if cfg.backbone == "tiny":
        return _tiny_backbone(cfg, texts, independent)
    model, tokenizer = _published_backbone(cfg, Path(resources))
    if independent is not None:
        _add_item_rows(model, tokenizer, independent)
    return model, tokenizer


def _tiny_backbone(cfg: GeneratorConfig, texts: Iterable[str] | None, items: list[int] | None):
    from transformers import T5ForConditionalGeneration

    if texts is None:
        raise ValueError("the tiny backbone needs the dataset's texts to train its tokenizer")
    tokenizer = train_tokenizer(texts, cfg.tiny.vocab_size)
    if items is not None:
        add_item_tokens(tokenizer, items)  # before the model: its table is drawn at its full size
    t = cfg.tiny
    config = t5_config(len(tokenizer), t.d_model, t.d_ff, t.num_layers, t.num_heads, t.dropout_rate)
    return T5ForConditionalGeneration(config), tokenizer


def _add_item_rows(model, tokenizer, items: list[int]) -> None:
    """Item tokens for a published checkpoint: new rows drawn like its own (normal, its rows' std),
    not transformers' mean resizing, which would start every item at the same point."""
    import torch

    before = model.get_input_embeddings().weight.shape[0]
    add_item_tokens(tokenizer, items)
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    weight = model.get_input_embeddings().weight
    with torch.no_grad():
        weight[before:].normal_(0.0, float(weight[:before].std()))


def _published_backbone(cfg: GeneratorConfig, resources: Path):
    offline()
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    tried = []
    for directory in _model_dir_candidates(cfg, resources):
        tried.append(str(directory))
        if (directory / "config.json").exists():
            log.info("loading %s from %s", cfg.backbone, directory)
            model = T5ForConditionalGeneration.from_pretrained(directory, local_files_only=True, attn_implementation=attention.register())
            tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
            return model, tokenizer
    if not cfg.model_dir:
        for name in HUB_NAMES[cfg.backbone]:
            tried.append(f"Hugging Face cache: {name}")
            try:
                model = T5ForConditionalGeneration.from_pretrained(name, local_files_only=True, attn_implementation=attention.register())
                tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=True)
            except OSError:
                continue
            log.info("loaded %s from the local Hugging Face cache (%s)", cfg.backbone, name)
            return model, tokenizer
    target = cfg.model_dir or f"{resources}/models/{cfg.backbone}"
    raise BackboneMissing(
        f"backbone {cfg.backbone} not found offline (looked in: {'; '.join(tried)}). Nothing is downloaded "
        f"at run time. On a machine with internet, run\n"
        f"  python -c \"from transformers import AutoTokenizer, T5ForConditionalGeneration as T; "
        f"T.from_pretrained('{HUB_NAMES[cfg.backbone][0]}').save_pretrained('{target}'); "
        f"AutoTokenizer.from_pretrained('{HUB_NAMES[cfg.backbone][0]}').save_pretrained('{target}')\"\n"
        f"and copy {target}/ here (or set generator.model_dir to a save_pretrained directory), or set "
        f"download: true in the config to let the workflow fetch it into resources/models/{cfg.backbone}/."
    )


def random_t5(shape: str, vocab_size: int | None = None, dropout_rate: float = 0.1):
    """A T5 with the published ``shape`` (t5-small/t5-base) and random weights: for benchmarks."""
    from transformers import T5ForConditionalGeneration

    s = dict(T5_SHAPES[shape])
    if vocab_size is not None:
        s["vocab_size"] = vocab_size
    return T5ForConditionalGeneration(t5_config(dropout_rate=dropout_rate, **s))
