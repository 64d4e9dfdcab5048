"""The copy head: a pointer-generator output for backbones trained from scratch
(``generator.copy_head``), and the source it copies from. ``PeaPOD`` (peapod.generator.model)
installs it in place of the output layer's forward and sets its source around each decoder call."""

from __future__ import annotations

import torch
from torch import nn


class CopyHead(nn.Module):
    """A pointer-generator output (See et al., 2017), a switch for backbones trained from scratch
    (``generator.copy_head``). A pretrained T5 already copies tokens from its input; a T5 trained
    from scratch on these tasks learns item priors and never starts to (docs/results/beauty-cpu.md).
    This head gives copying a direct path: an attention of the decoder's output over the encoder's
    token positions puts probability on the tokens found there, and a learned gate mixes it with
    the vocabulary's softmax:

        p(w) = g * softmax(lm_logits)(w) + (1 - g) * sum of attention over positions holding w

    The head returns log p(w) in place of the logits (a normalised distribution, so the loss,
    beam search and candidate scoring read it unchanged).
    """

    def __init__(self, d_model: int):
        super().__init__()
        self.query = nn.Linear(d_model, d_model, bias=False)
        self.key = nn.Linear(d_model, d_model, bias=False)
        self.gate = nn.Linear(d_model, 1)
        self.scale = d_model ** -0.5

    def forward(self, vocab_logits: torch.Tensor, hidden: torch.Tensor, source: "CopySource") -> torch.Tensor:
        """log p (B', T, V) from the vocabulary logits and decoder outputs (B', T, d); B' is a
        multiple r of the source's batch B (beams are repeated per prompt, as generate repeats
        them), so the r rows of a prompt are scored as one (B, r T) block against its keys, never
        copying the encoder's outputs per beam."""
        rows, T, V = vocab_logits.shape
        with torch.autocast(hidden.device.type, enabled=False):
            hidden, attention, gate = self.attention_and_gate(hidden, source)
            B, rT, _ = attention.shape
            copied = vocab_logits.new_zeros(B, rT, V).scatter_add_(
                -1, source.token_ids[:, None, :].expand(-1, rT, -1), attention)
            probs = gate * torch.softmax(vocab_logits.reshape(B, rT, V), dim=-1) + (1.0 - gate) * copied
            return torch.log(probs.clamp_min(torch.finfo(probs.dtype).tiny)).reshape(rows, T, V)

    def target_log_probs(self, vocab_logits: torch.Tensor, hidden: torch.Tensor, source: "CopySource",
                         targets: torch.Tensor) -> torch.Tensor:
        """log p(target) (B', T): ``forward`` read at ``targets`` (B', T) alone. The copied mass of a
        target is the attention on the positions holding it, and its vocabulary probability the
        softmax there, so no vocabulary-wide mixture is formed (training loss, exact scoring)."""
        rows, T, V = vocab_logits.shape
        with torch.autocast(hidden.device.type, enabled=False):
            hidden, attention, gate = self.attention_and_gate(hidden, source)
            B, rT, _ = attention.shape
            flat = targets.reshape(B, rT)
            copied = (attention * (source.token_ids[:, None, :] == flat[:, :, None])).sum(-1)  # (B, rT)
            logits = vocab_logits.reshape(B, rT, V)
            vocabulary = torch.exp(logits.gather(-1, flat[..., None]).squeeze(-1) - torch.logsumexp(logits, dim=-1))
            probs = gate.squeeze(-1) * vocabulary + (1.0 - gate.squeeze(-1)) * copied
            return torch.log(probs.clamp_min(torch.finfo(probs.dtype).tiny)).reshape(rows, T)

    def attention_and_gate(self, hidden: torch.Tensor, source: "CopySource"
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(decoder outputs as (B, r T, d) float32, their attention over the source (B, r T, S),
        the gate (B, r T, 1)); call with autocast off."""
        B = source.token_ids.shape[0]
        hidden = hidden.float().reshape(B, -1, hidden.shape[-1])
        scores = (self.query(hidden) @ self.keys(source).transpose(-1, -2)) * self.scale  # (B, rT, S)
        scores = scores.masked_fill(~source.copyable[:, None, :], torch.finfo(scores.dtype).min)
        return hidden, torch.softmax(scores, dim=-1), torch.sigmoid(self.gate(hidden))

    def keys(self, source: "CopySource") -> torch.Tensor:
        """The key of every source position (B, S, d); computed once per source when no gradient is
        taken (beam search calls the head once per step)."""
        if torch.is_grad_enabled():
            return self.key(source.encoded.float())
        if source.cached_keys is None:
            source.cached_keys = self.key(source.encoded.float())
        return source.cached_keys


class CopySource:
    """What the copy head may copy for the prompts of one decoder call: the encoder's outputs
    (B, S, d), the token id at each position (B, S) and where copying is allowed (B, S): real
    tokens, not padding or the prompt vectors."""

    def __init__(self, encoded: torch.Tensor, token_ids: torch.Tensor, copyable: torch.Tensor):
        self.encoded, self.token_ids, self.copyable = encoded, token_ids, copyable
        self.cached_keys: torch.Tensor | None = None  # the head's keys, kept during beam search

    def rows(self, index) -> "CopySource":
        return CopySource(self.encoded[index], self.token_ids[index], self.copyable[index])

    def repeated(self, times: int) -> "CopySource":
        return CopySource(*(t.repeat_interleave(times, 0) for t in (self.encoded, self.token_ids, self.copyable)))
