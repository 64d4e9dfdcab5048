"""PeaPOD: Hugging Face T5 with task prompts, a collaborative user prompt and whole-word embeddings.

Encoder input (B = batch, T = tokens, d = d_model):
    [task prompt (B, Lt, d) ; user prompt (B, Lu, d) ; token + whole-word embeddings (B, T, d)]
with the attention mask extended by ones over the Lt + Lu prompt positions. user_prompt "none"
with the task prompts is POD.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from peapod.generator.config import TASKS, GeneratorConfig


class MHAUserPrompt(nn.Module):
    """Query = the user's CF embedding, keys/values = its neighbours' (reference: no residual,
    norm or dropout), heads concatenated, then one linear layer to ``prompt_length x d_model``."""

    def __init__(self, cf_dim: int, d_model: int, heads: int, prompt_length: int):
        super().__init__()
        if cf_dim % heads:
            raise ValueError(f"CF embedding size {cf_dim} is not divisible by {heads} heads")
        self.heads, self.prompt_length, self.d_model = heads, prompt_length, d_model
        self.q = nn.Linear(cf_dim, cf_dim)
        self.k = nn.Linear(cf_dim, cf_dim)
        self.v = nn.Linear(cf_dim, cf_dim)
        self.out = nn.Linear(cf_dim, prompt_length * d_model)

    def forward(self, user: torch.Tensor, neighbors: torch.Tensor) -> torch.Tensor:
        # user (B, c), neighbors (B, n, c) -> (B, prompt_length, d_model)
        B, n, c = neighbors.shape
        h, dh = self.heads, c // self.heads
        q = self.q(user).view(B, h, 1, dh)  # (B, h, 1, dh)
        k = self.k(neighbors).view(B, n, h, dh).transpose(1, 2)  # (B, h, n, dh)
        v = self.v(neighbors).view(B, n, h, dh).transpose(1, 2)  # (B, h, n, dh)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)  # (B, h, 1, n)
        mixed = (att @ v).reshape(B, c)  # heads concatenated
        return self.out(mixed).view(B, self.prompt_length, self.d_model)


class MLPUserPrompt(nn.Module):
    """The user's CF embedding through one linear layer (the paper's MLP ablation)."""

    def __init__(self, cf_dim: int, d_model: int, prompt_length: int):
        super().__init__()
        self.prompt_length, self.d_model = prompt_length, d_model
        self.out = nn.Linear(cf_dim, prompt_length * d_model)

    def forward(self, user: torch.Tensor, neighbors: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(user).view(user.shape[0], self.prompt_length, self.d_model)


class PeaPOD(nn.Module):
    """Wraps (does not fork) ``T5ForConditionalGeneration``.

    Batches are dicts of tensors: ``task_ids`` (B,), ``user_ids`` (B,), ``input_ids``,
    ``attention_mask``, ``whole_word_ids`` (B, T) and, for the loss, ``labels`` (B, L) with -100
    at ignored positions.
    """

    def __init__(self, t5, cfg: GeneratorConfig, user_embeddings: np.ndarray | None = None,
                 neighbor_ids: np.ndarray | None = None):
        super().__init__()
        self.cfg = cfg
        self.t5 = t5
        d = t5.config.d_model
        self.task_prompts = None
        if cfg.task_prompt_length > 0:
            self.task_prompts = nn.Parameter(torch.empty(len(TASKS), cfg.task_prompt_length, d).uniform_(-0.1, 0.1))
        self.whole_word = nn.Embedding(cfg.whole_word_size, d)
        self.user_prompt = None
        if cfg.user_prompt != "none":
            if user_embeddings is None or neighbor_ids is None:
                raise ValueError(f"user_prompt {cfg.user_prompt!r} needs user embeddings and neighbours")
            cf_dim = user_embeddings.shape[1]
            # Fixed (not trained) CF inputs, saved with the model so a checkpoint is self-contained.
            self.register_buffer("user_embeddings", torch.as_tensor(user_embeddings, dtype=torch.float32))
            self.register_buffer("neighbor_ids", torch.as_tensor(neighbor_ids, dtype=torch.long))
            if cfg.user_prompt == "mha":
                self.user_prompt = MHAUserPrompt(cf_dim, d, cfg.heads, cfg.prompt_length)
            else:
                self.user_prompt = MLPUserPrompt(cf_dim, d, cfg.prompt_length)

    @property
    def n_prompt_positions(self) -> int:
        n = self.cfg.task_prompt_length if self.task_prompts is not None else 0
        return n + (self.cfg.prompt_length if self.user_prompt is not None else 0)

    def user_prompt_vectors(self, user_ids: torch.Tensor) -> torch.Tensor:
        """(B, prompt_length, d_model) collaborative prompt of each user."""
        user = self.user_embeddings[user_ids]  # (B, c)
        neighbors = self.user_embeddings[self.neighbor_ids[user_ids]]  # (B, n, c)
        return self.user_prompt(user, neighbors)

    def encoder_inputs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs_embeds (B, P + T, d), attention_mask (B, P + T)), P = prompt positions."""
        tokens = self.t5.get_input_embeddings()(batch["input_ids"]) + self.whole_word(batch["whole_word_ids"])
        parts = []
        if self.task_prompts is not None:
            parts.append(self.task_prompts[batch["task_ids"]])  # (B, Lt, d)
        if self.user_prompt is not None:
            parts.append(self.user_prompt_vectors(batch["user_ids"]).to(tokens.dtype))  # (B, Lu, d)
        mask = batch["attention_mask"]
        if parts:
            prompt = torch.cat(parts, dim=1)
            tokens = torch.cat([prompt.to(tokens.dtype), tokens], dim=1)
            ones = torch.ones(mask.shape[0], prompt.shape[1], dtype=mask.dtype, device=mask.device)
            mask = torch.cat([ones, mask], dim=1)
        return tokens, mask

    def encode(self, batch: dict[str, torch.Tensor]):
        """Encoder outputs and the extended attention mask."""
        embeds, mask = self.encoder_inputs(batch)
        return self.t5.get_encoder()(inputs_embeds=embeds, attention_mask=mask), mask

    def forward(self, batch: dict[str, torch.Tensor], labels: torch.Tensor | None = None):
        """Hugging Face seq2seq output; ``.loss`` is the mean token cross-entropy over labels != -100."""
        labels = batch["labels"] if labels is None else labels
        if not self.cfg.mask_pad_in_loss:  # released-code defect 1: pads count in the loss
            labels = labels.masked_fill(labels == -100, self.t5.config.pad_token_id)
        encoder_outputs, mask = self.encode(batch)
        # The decoder's cross-attention sees the encoder mask, unless reproducing defect 2.
        return self.t5(
            encoder_outputs=encoder_outputs,
            attention_mask=mask if self.cfg.decoder_encoder_mask else None,
            labels=labels,
        )

    @torch.no_grad()
    def generate(self, batch: dict[str, torch.Tensor], **kwargs):
        """``T5ForConditionalGeneration.generate`` on the prompted encoder input."""
        embeds, mask = self.encoder_inputs(batch)
        return self.t5.generate(inputs_embeds=embeds, attention_mask=mask, **kwargs)

    @torch.no_grad()
    def score_candidates(self, batch: dict[str, torch.Tensor], candidate_labels: torch.Tensor,
                         max_rows: int = 4096) -> torch.Tensor:
        """Teacher-forced log-likelihood (B, C) of each candidate target.

        ``candidate_labels`` (B, C, L): token ids of each candidate's target, -100 after its end.
        The encoder runs once per prompt, and so do the decoder's first step and the cross-attention
        keys/values (cached, then repeated for the candidates); the remaining target tokens run for
        at most ``max_rows`` (prompt, candidate) pairs at a time.
        """
        from transformers.cache_utils import DynamicCache, EncoderDecoderCache

        B, C, L = candidate_labels.shape
        encoder_outputs, mask = self.encode(batch)
        hidden = encoder_outputs.last_hidden_state  # (B, S, d)
        cross_mask = mask if self.cfg.decoder_encoder_mask else None
        start = torch.full((B, 1), self.t5.config.decoder_start_token_id, dtype=torch.long, device=hidden.device)
        first = self.t5(encoder_outputs=(hidden,), attention_mask=cross_mask, decoder_input_ids=start,
                        past_key_values=EncoderDecoderCache(DynamicCache(), DynamicCache()), use_cache=True)
        first_logp = F.log_softmax(first.logits[:, -1].float(), dim=-1)  # (B, V)
        labels = candidate_labels
        keep = labels != -100
        tokens = labels.clamp_min(0)
        score = first_logp.gather(1, tokens[:, :, 0]) * keep[:, :, 0]  # (B, C)
        if L == 1:
            return score
        per_chunk = max(1, max_rows // B)
        rest = []
        for c0 in range(0, C, per_chunk):
            c = min(per_chunk, C - c0)
            cache = copy.deepcopy(first.past_key_values)
            cache.batch_repeat_interleave(c)  # rows (b, candidate), b-major
            inputs = tokens[:, c0 : c0 + c, :-1].masked_fill(~keep[:, c0 : c0 + c, :-1], 0).reshape(B * c, L - 1)
            # Cross-attention keys/values come from the cache; the decoder only needs the shape of the
            # encoder states, so a zero-stride view stands in for B * c copies of them.
            stand_in = hidden.new_zeros(()).expand(B * c, hidden.shape[1], hidden.shape[2])
            out = self.t5(encoder_outputs=(stand_in,),
                          attention_mask=None if cross_mask is None else cross_mask.repeat_interleave(c, 0),
                          decoder_input_ids=inputs, past_key_values=cache, use_cache=True)
            logp = F.log_softmax(out.logits.float(), dim=-1)  # (B*c, L-1, V)
            target = tokens[:, c0 : c0 + c, 1:].reshape(B * c, L - 1)
            token = logp.gather(-1, target[..., None]).squeeze(-1) * keep[:, c0 : c0 + c, 1:].reshape(B * c, L - 1)
            rest.append(token.sum(-1).view(B, c))
        return score + torch.cat(rest, dim=1)

    @torch.no_grad()
    def score_candidates_naive(self, batch: dict[str, torch.Tensor], candidate_labels: torch.Tensor) -> torch.Tensor:
        """The same scores by one full teacher-forced pass per (prompt, candidate): a reference."""
        B, C, L = candidate_labels.shape
        encoder_outputs, mask = self.encode(batch)
        hidden = encoder_outputs.last_hidden_state
        flat = candidate_labels.reshape(B * C, L)
        out = self.t5(encoder_outputs=(hidden.repeat_interleave(C, 0),),
                      attention_mask=mask.repeat_interleave(C, 0) if self.cfg.decoder_encoder_mask else None,
                      labels=flat)
        logp = F.log_softmax(out.logits.float(), dim=-1)
        token = logp.gather(-1, flat.clamp_min(0)[..., None]).squeeze(-1) * (flat != -100)
        return token.sum(-1).view(B, C)


def token_losses(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of token cross-entropies, number of tokens) over labels != -100."""
    loss = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100, reduction="sum")
    return loss, (labels != -100).sum()
