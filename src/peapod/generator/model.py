"""PeaPOD: Hugging Face T5 with task prompts, a collaborative user prompt and whole-word embeddings.

Encoder input (B = batch, T = tokens, d = d_model):
    [task prompt (B, Lt, d) ; user prompt (B, Lu, d) ; token + whole-word embeddings (B, T, d)]
with the attention mask extended by ones over the Lt + Lu prompt positions. user_prompt "none"
with the task prompts is POD.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_outputs import BaseModelOutput, Seq2SeqLMOutput

from peapod.generator import lean_t5
from peapod.generator.config import TASKS, GeneratorConfig
from peapod.generator.copy_head import CopyHead, CopySource  # noqa: F401 (re-exported: their old home)


class MHAUserPrompt(nn.Module):
    """Query = the user's CF embedding, keys/values = its neighbours', each mapped from the CF width
    to the model's width, so attention runs in the model's space (head size d_model / heads), as in
    the released code (no residual, norm or dropout); heads concatenated, then one linear layer
    from d_model to ``prompt_length x d_model``."""

    def __init__(self, cf_dim: int, d_model: int, heads: int, prompt_length: int):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"model width {d_model} is not divisible by {heads} heads")
        self.heads, self.prompt_length, self.d_model = heads, prompt_length, d_model
        self.q = nn.Linear(cf_dim, d_model)
        self.k = nn.Linear(cf_dim, d_model)
        self.v = nn.Linear(cf_dim, d_model)
        self.out = nn.Linear(d_model, prompt_length * d_model)

    def forward(self, user: torch.Tensor, neighbors: torch.Tensor) -> torch.Tensor:
        # user (B, c), neighbors (B, n, c) -> (B, prompt_length, d_model)
        B, n, _ = neighbors.shape
        d, h = self.d_model, self.heads
        dh = d // h
        q = self.q(user).view(B, h, 1, dh)  # (B, h, 1, dh)
        k = self.k(neighbors).view(B, n, h, dh).transpose(1, 2)  # (B, h, n, dh)
        v = self.v(neighbors).view(B, n, h, dh).transpose(1, 2)  # (B, h, n, dh)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)  # (B, h, 1, n)
        mixed = (att @ v).reshape(B, d)  # heads concatenated
        return self.out(mixed).view(B, self.prompt_length, d)


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
        # Teacher-forced passes run peapod.generator.lean_t5 (the same arithmetic without Hugging
        # Face's per-call machinery); peapod.generator.reference switches a model to
        # T5ForConditionalGeneration's own forward, the reference the equality tests compare against.
        lean_t5.check_internals(t5)  # stops here, naming it, when transformers lacks an internal it reads
        float32_logits(t5)
        d = t5.config.d_model
        self.task_prompts = None
        if cfg.task_prompt_length > 0:
            self.task_prompts = nn.Parameter(torch.empty(len(TASKS), cfg.task_prompt_length, d).uniform_(-0.1, 0.1))
        self.whole_word = nn.Embedding(cfg.whole_word_size, d)
        self.user_prompt = None
        self.cf_source: dict | None = None  # CollabSource.to_dict() of the tables, when read from files
        if cfg.user_prompt != "none":
            if user_embeddings is None or neighbor_ids is None:
                raise ValueError(f"user_prompt {cfg.user_prompt!r} needs user embeddings and neighbours")
            cf_dim = user_embeddings.shape[1]
            # Fixed (not trained) CF inputs; not in the state dict: a checkpoint refers to their files
            # by path and hash (peapod.generator.checkpoint), or stores them beside the weights.
            self.register_buffer("user_embeddings", torch.as_tensor(user_embeddings, dtype=torch.float32),
                                 persistent=False)
            self.register_buffer("neighbor_ids", torch.as_tensor(neighbor_ids, dtype=torch.long), persistent=False)
            if cfg.user_prompt == "mha":
                self.user_prompt = MHAUserPrompt(cf_dim, d, cfg.heads, cfg.prompt_length)
            else:
                self.user_prompt = MLPUserPrompt(cf_dim, d, cfg.prompt_length)
        self.copy_head = None
        self._copy_source: CopySource | None = None  # set around each decoder call (copying_from)
        self._vocabulary = t5.lm_head.forward  # float32 logits (float32_logits), never the copy head
        if cfg.copy_head:
            self.copy_head = CopyHead(d)
            vocabulary = self._vocabulary

            def with_copying(hidden: torch.Tensor) -> torch.Tensor:
                if self._copy_source is None:
                    raise RuntimeError("the copy head needs its source: call the decoder inside copying_from()")
                return self.copy_head(vocabulary(hidden), hidden, self._copy_source)

            t5.lm_head.forward = with_copying

    @property
    def n_prompt_positions(self) -> int:
        n = self.cfg.task_prompt_length if self.task_prompts is not None else 0
        return n + (self.cfg.prompt_length if self.user_prompt is not None else 0)

    def user_prompt_vectors(self, user_ids: torch.Tensor) -> torch.Tensor:
        """(B, prompt_length, d_model) collaborative prompt of each user."""
        user = self.user_embeddings[user_ids]  # (B, c)
        neighbors = self.user_embeddings[self.neighbor_ids[user_ids]]  # (B, n, c)
        return self.user_prompt(user, neighbors)

    def encoder_inputs(self, batch: dict[str, torch.Tensor], token_embeds: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs_embeds (B, P + T, d), attention_mask (B, P + T)), P = prompt positions;
        ``token_embeds``: the input tokens' embeddings when already looked up."""
        if token_embeds is None:
            token_embeds = self.embed(batch["input_ids"], self.t5.get_input_embeddings())
        tokens = token_embeds + self.whole_word(batch["whole_word_ids"])
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

    def embed(self, ids: torch.Tensor, table: nn.Embedding) -> torch.Tensor:
        """``table(ids)``; on a CPU, with a sparse gradient when the table is tied to the output
        layer. Its dense gradient would be a zero-filled vocabulary x d_model tensor per lookup,
        added to the output layer's: on the CPU recipe of issue 33 (12,701 rows) those writes were
        a tenth of a training step. The output layer's gradient is always dense, so the sparse ones
        are added into it in place and the optimizer sees a dense gradient, the same sums."""
        sparse = (ids.device.type == "cpu" and torch.is_grad_enabled() and table.weight.requires_grad
                  and table.weight is self.t5.lm_head.weight and not torch.compiler.is_compiling())
        return F.embedding(ids, table.weight, table.padding_idx, table.max_norm, table.norm_type,
                           table.scale_grad_by_freq, sparse)

    def encode(self, batch: dict[str, torch.Tensor], token_embeds: torch.Tensor | None = None):
        """Encoder outputs and the extended attention mask."""
        embeds, mask = self.encoder_inputs(batch, token_embeds)
        return BaseModelOutput(last_hidden_state=lean_t5.encoder_hidden(self.t5, embeds, mask)), mask

    def copy_source(self, batch: dict[str, torch.Tensor], encoded: torch.Tensor) -> CopySource | None:
        """The copy head's source for ``batch`` (None without the head): the token positions,
        after the P prompt vectors, that hold a real token."""
        if self.copy_head is None:
            return None
        ids, real = batch["input_ids"], batch["attention_mask"].bool()
        P = encoded.shape[1] - ids.shape[1]
        pad = ids.new_zeros(ids.shape[0], P)
        return CopySource(encoded, torch.cat([pad, ids], dim=1), torch.cat([pad.bool(), real], dim=1))

    @contextmanager
    def copying_from(self, source: CopySource | None):
        """Decoder calls inside this block copy from ``source`` (no-op without the copy head)."""
        before, self._copy_source = self._copy_source, source
        try:
            yield
        finally:
            self._copy_source = before

    def loss_labels(self, batch: dict[str, torch.Tensor], labels: torch.Tensor | None = None) -> torch.Tensor:
        """The target tokens the loss reads: -100 where ignored, or the pad token there when
        reproducing the released code's defect 1 (pads count in the loss)."""
        labels = batch["labels"] if labels is None else labels
        if not self.cfg.mask_pad_in_loss:
            labels = labels.masked_fill(labels == -100, self.t5.config.pad_token_id)
        return labels

    def forward(self, batch: dict[str, torch.Tensor], labels: torch.Tensor | None = None):
        """Hugging Face seq2seq output; ``.loss`` is the mean token cross-entropy over labels != -100
        and ``.logits`` the output layer's (the copy head's log-probabilities when it is on)."""
        labels = self.loss_labels(batch, labels)
        hidden, source = self.teacher_forced(batch, labels)
        with self.copying_from(source):
            logits = self.t5.lm_head(hidden)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
        return Seq2SeqLMOutput(loss=loss, logits=logits)

    def teacher_forced(self, batch: dict[str, torch.Tensor], labels: torch.Tensor
                       ) -> tuple[torch.Tensor, CopySource | None]:
        """(decoder output (B, T, d) before the output layer, the copy head's source) of a
        teacher-forced pass on ``labels`` (peapod.generator.lean_t5)."""
        ids, decoder_ids = batch["input_ids"], self.t5._shift_right(labels)
        if self.t5.decoder.embed_tokens.weight is self.t5.get_input_embeddings().weight:
            # one lookup for both stacks: one gradient into the table instead of two
            both = self.embed(torch.cat([ids.flatten(), decoder_ids.flatten()]), self.t5.decoder.embed_tokens)
            token_embeds = both[:ids.numel()].view(*ids.shape, -1)
            decoder_embeds = both[ids.numel():].view(*decoder_ids.shape, -1)
        else:
            token_embeds, decoder_embeds = None, self.embed(decoder_ids, self.t5.decoder.embed_tokens)
        encoder_outputs, mask = self.encode(batch, token_embeds)
        encoded = encoder_outputs.last_hidden_state
        hidden = lean_t5.decoder_hidden(self.t5, decoder_embeds, encoded,
                                        mask if self.cfg.decoder_encoder_mask else None)
        return hidden, self.copy_source(batch, encoded)

    def target_log_probs(self, hidden: torch.Tensor, targets: torch.Tensor, source: CopySource | None
                         ) -> torch.Tensor:
        """log p (B', T) of ``targets`` (B', T), token ids >= 0, from decoder outputs (B', T, d),
        in float32: the output layer's log-softmax at the target, or the copy head's mixture
        there, without the vocabulary-wide mixture (CopyHead.target_log_probs)."""
        if self.copy_head is None:
            return log_softmax_at(self.t5.lm_head(hidden), targets)  # the module call runs its hooks
        # the vocabulary's logits under the head (hooks on lm_head see the head's mixture, which
        # only forward and beam search form)
        return self.copy_head.target_log_probs(self._vocabulary(hidden), hidden, source, targets)

    def token_log_probs(self, batch: dict[str, torch.Tensor], labels: torch.Tensor | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """(log p (B, T) of each target token, the targets ``loss_labels`` gives): the loss's terms."""
        labels = self.loss_labels(batch, labels)
        hidden, source = self.teacher_forced(batch, labels)
        return self.target_log_probs(hidden, labels.clamp_min(0), source), labels

    def training_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """``forward(batch).loss`` (the mean token cross-entropy over labels != -100) from the target
        tokens' log-probabilities alone: what a training step computes."""
        log_probs, labels = self.token_log_probs(batch)
        keep = labels != -100
        return -log_probs.masked_fill(~keep, 0.0).sum() / keep.sum()

    @torch.no_grad()
    def generate(self, batch: dict[str, torch.Tensor], **kwargs):
        """``T5ForConditionalGeneration.generate`` on the prompted encoder input. The encoder always
        sees its mask; the decoder's cross-attention sees it unless reproducing defect 2, as in
        ``forward`` and the scoring."""
        encoder_outputs, mask = self.encode(batch)
        with self.copying_from(self.copy_source(batch, encoder_outputs.last_hidden_state)):
            return self.t5.generate(encoder_outputs=encoder_outputs,
                                    attention_mask=mask if self.cfg.decoder_encoder_mask else None, **kwargs)

    @torch.no_grad()
    def score_candidates(self, batch: dict[str, torch.Tensor], candidate_labels: torch.Tensor,
                         memory_mib: float = 4096) -> torch.Tensor:
        """Teacher-forced log-likelihood (B, C) of each candidate target, in float32.

        ``candidate_labels`` (B, C, L): token ids of each candidate's target, -100 after its end.
        The encoder runs once per prompt. The C candidates of a prompt are packed into one decoder
        sequence of C * L tokens with a block-diagonal causal mask, so they share the prompt's
        cross-attention keys/values (never copied per candidate) and each attends only to its own
        tokens. Prompts go through in groups whose working memory stays within ``memory_mib``.

        The packing is exact because (1) the block-diagonal causal mask reaches the decoder's
        self-attention as given (``lean_t5.decoder_hidden``'s ``self_allowed``) and (2)
        ``T5Attention.compute_bias`` depends only on ``memory_position - context_position``
        (bucketed one-way in the decoder), so a block starting at offset c * L gets the same
        relative position bias as a sequence of its own; a bias of absolute positions would break
        it. Only the target tokens' log-probabilities are formed (``target_log_probs``), not the
        copy head's vocabulary-wide mixture.

        Under ``peapod.generator.reference`` the packed sequence goes through
        ``T5ForConditionalGeneration.forward`` instead (``packed_log_probs``). tests/test_generator.py
        checks both internals directly
        (test_t5_passes_a_4d_decoder_mask_unchanged,
        test_t5_decoder_position_bias_depends_only_on_offsets) and the result against one forward
        pass per candidate (``score_candidates_naive``); each failure names the internal.
        """
        B, C, L = candidate_labels.shape
        encoder_outputs, mask = self.encode(batch)
        hidden = encoder_outputs.last_hidden_state  # (B, S, d)
        keep = candidate_labels != -100  # (B, C, L)
        tokens = candidate_labels.clamp_min(0)
        start = torch.full((B, C, 1), self.t5.config.decoder_start_token_id, dtype=torch.long, device=hidden.device)
        decoder_inputs = torch.cat([start, tokens[:, :, :-1].masked_fill(~keep[:, :, :-1], 0)], dim=2)  # shifted right
        block = torch.arange(C * L, device=hidden.device) // L
        position = torch.arange(C * L, device=hidden.device)
        allowed = (block[:, None] == block[None, :]) & (position[None, :] <= position[:, None])  # (CL, CL)
        per_prompt = scoring_bytes_per_prompt(self.t5.config, C, L, hidden.shape[1], self.copy_head is not None)
        group = max(1, min(B, int(memory_mib * 2**20 // per_prompt)))
        source = self.copy_source(batch, hidden)
        scores = []
        for b0 in range(0, B, group):
            b1 = min(B, b0 + group)
            encoder_mask = mask[b0:b1] if self.cfg.decoder_encoder_mask else None
            inputs = decoder_inputs[b0:b1].reshape(b1 - b0, C * L)
            with self.copying_from(source.rows(slice(b0, b1)) if source is not None else None):
                token_logp = self.packed_log_probs(inputs, hidden[b0:b1], encoder_mask,
                                                   allowed.view(1, 1, C * L, C * L),
                                                   tokens[b0:b1].reshape(b1 - b0, C * L))
            scores.append((token_logp.view(b1 - b0, C, L) * keep[b0:b1]).sum(-1))
        return torch.cat(scores)

    def packed_log_probs(self, decoder_inputs: torch.Tensor, encoded: torch.Tensor,
                         encoder_mask: torch.Tensor | None, allowed: torch.Tensor, targets: torch.Tensor
                         ) -> torch.Tensor:
        """log p (b, C L) of ``targets`` for packed ``decoder_inputs`` (b, C L) against ``encoded``
        (b, S, d), self-attention as ``allowed`` (1, 1, C L, C L); call inside ``copying_from``."""
        decoded = lean_t5.decoder_hidden(self.t5, self.t5.decoder.embed_tokens(decoder_inputs), encoded,
                                         encoder_mask, self_allowed=allowed)
        return self.target_log_probs(decoded, targets, self._copy_source)

    @torch.no_grad()
    def score_candidates_naive(self, batch: dict[str, torch.Tensor], candidate_labels: torch.Tensor) -> torch.Tensor:
        """The same scores by one full teacher-forced pass per (prompt, candidate): a reference."""
        B, C, L = candidate_labels.shape
        encoder_outputs, mask = self.encode(batch)
        hidden = encoder_outputs.last_hidden_state
        flat = candidate_labels.reshape(B * C, L)
        source = self.copy_source(batch, hidden)
        with self.copying_from(source.repeated(C) if source is not None else None):
            out = self.t5(encoder_outputs=(hidden.repeat_interleave(C, 0),),
                          attention_mask=mask.repeat_interleave(C, 0) if self.cfg.decoder_encoder_mask else None,
                          labels=flat)
        logp = F.log_softmax(out.logits.float(), dim=-1)
        token = logp.gather(-1, flat.clamp_min(0)[..., None]).squeeze(-1) * (flat != -100)
        return token.sum(-1).view(B, C)


def log_softmax_at(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log_softmax(logits)[..., target] (..., T) without forming the full log-softmax."""
    return logits.gather(-1, targets[..., None]).squeeze(-1) - torch.logsumexp(logits, dim=-1)


def float32_logits(t5) -> None:
    """Compute the output projection (hence every logit, loss, beam score and candidate score) in
    float32 even under bf16 autocast: bf16 logits carry about 3 significant digits, which ties
    close candidates in scoring and reorders beams. The layer and its weights are unchanged."""
    head = t5.lm_head

    def forward(hidden: torch.Tensor) -> torch.Tensor:
        with torch.autocast(hidden.device.type, enabled=False):
            bias = None if head.bias is None else head.bias.float()
            return F.linear(hidden.float(), head.weight.float(), bias)

    head.forward = forward


def scoring_bytes_per_prompt(t5_config, n_candidates: int, label_length: int, source_length: int,
                             copy_head: bool = False) -> int:
    """Working memory (bytes, float32) of scoring one prompt's packed candidates: the logits with
    their log-sum-exp temporaries, and per layer the self- and cross-attention scores and the
    feed-forward activations (a conservative sum; only one layer's are alive at a time). The copy
    head adds its attention over the source, the target matches and their product (it forms no
    vocabulary-wide tensor: ``PeaPOD.target_log_probs``)."""
    tokens = n_candidates * label_length
    logits = 3 * tokens * t5_config.vocab_size
    attention = 2 * t5_config.num_heads * tokens * (tokens + source_length)
    if copy_head:
        attention += 4 * tokens * source_length
    feed_forward = 2 * tokens * t5_config.d_ff + 4 * tokens * t5_config.d_model
    return 4 * (logits + attention + feed_forward)
