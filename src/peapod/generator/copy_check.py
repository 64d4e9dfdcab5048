"""Can a generator with these settings learn to copy from its prompt at all?

Top-n recommendation by the paper's beam only works once the model copies one of the prompt's
candidate ids. A T5 trained from scratch has to learn that, and whether it does depends on the
optimiser settings before it depends on the data. This is the planted version of that skill:
each prompt is ``candidates`` random token ids, the target is one of them drawn uniformly, so the
best loss of the target token is log(candidates) (copying, not knowing which) against
log(vocabulary) for a model that ignores its prompt. The model is the workflow's own (PeaPOD
without a user prompt, i.e. POD, with its task prompts and whole-word embeddings), trained with the
settings' optimiser, learning rate, schedule (warm-up and ``lr_decay`` over the check's steps, by
``config.learning_rate_factor``) and clipping.

``copy_curve`` returns the mean target-token loss per window of steps; ``benchmarks/probe_copy.py``
prints it for several learning rates, and the tests hold the shipped recipes to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from peapod.generator.backbone import t5_config
from peapod.generator.config import TASKS, GeneratorConfig, learning_rate_factor
from peapod.generator.model import PeaPOD

SPECIALS = 3  # pad, </s>, <unk>: never drawn as a candidate


@dataclass(frozen=True)
class CopyCurve:
    steps: list[int]  # last step of each window
    losses: list[float]  # mean cross-entropy of the target token over the window
    copy_loss: float  # log(candidates): copying one of the candidates, not knowing which
    prior_loss: float  # log(vocabulary - specials): ignoring the prompt

    def learned_share(self) -> float:
        """How far the last window went from ignoring the prompt (0) to copying (1)."""
        return (self.prior_loss - self.losses[-1]) / (self.prior_loss - self.copy_loss)


def copy_curve(cfg: GeneratorConfig, vocab_size: int = 600, candidates: int = 5, steps: int = 1500,
               window: int = 250, seed: int = 0) -> CopyCurve:
    """Train a fresh tiny backbone of ``cfg.tiny``'s shape (with ``vocab_size`` tokens) on the
    planted copy task for ``steps`` batches of ``cfg.batch_size``; the target token's mean loss per
    ``window`` steps."""
    if cfg.backbone != "tiny":
        raise ValueError("the copy check trains a tiny backbone from scratch")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    t = cfg.tiny
    from transformers import T5ForConditionalGeneration

    t5 = T5ForConditionalGeneration(t5_config(vocab_size, t.d_model, t.d_ff, t.num_layers, t.num_heads,
                                              t.dropout_rate))
    model = PeaPOD(t5, cfg.with_overrides({"user_prompt": "none"}))
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    B, eos = cfg.batch_size, 1
    task = TASKS.index("topn")
    done, losses, window_losses = [], [], []
    for step in range(steps):
        ids = rng.integers(SPECIALS, vocab_size, size=(B, candidates))
        target = ids[np.arange(B), rng.integers(0, candidates, size=B)]
        inputs = torch.from_numpy(np.concatenate([ids, np.full((B, 1), eos)], axis=1))
        batch = {"input_ids": inputs, "attention_mask": torch.ones_like(inputs),
                 "whole_word_ids": torch.zeros_like(inputs), "task_ids": torch.full((B,), task),
                 "user_ids": torch.ones(B, dtype=torch.long),
                 "labels": torch.from_numpy(np.stack([target, np.full(B, eos)], axis=1))}
        factor = learning_rate_factor(cfg, step, steps)  # the settings' schedule over this check's steps
        for group in optimizer.param_groups:
            group["lr"] = cfg.learning_rate * factor
        out = model(batch)  # the workflow's loss: both target tokens (the id and EOS)
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        if cfg.clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
        optimizer.step()
        window_losses.append(float(torch.nn.functional.cross_entropy(out.logits[:, 0].detach(), batch["labels"][:, 0])))
        if (step + 1) % window == 0 or step + 1 == steps:
            done.append(step + 1)
            losses.append(float(np.mean(window_losses)))
            window_losses = []
    return CopyCurve(done, losses, math.log(candidates), math.log(vocab_size - SPECIALS))
