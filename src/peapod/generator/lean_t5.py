"""T5's teacher-forced pass (encoder, decoder, output scale) written out over Hugging Face's own
modules and parameters, without the per-call machinery of ``T5ForConditionalGeneration.forward``.

Why: on the CPU recipe of the real-Beauty studies (tiny T5, batches of 16) about half a training
step was fixed cost, not arithmetic: Hugging Face's T5 builds its masks, caches, keyword
dictionaries and output objects in every layer of every call (benchmarks/README.md, "The CPU step
after issue 33"). This module runs the same operations in the same order on the same parameters
(so checkpoints, ``generate`` and the released-code parity are untouched) and

* builds each stack's additive attention bias (relative position bias combined with the mask)
  once and hands it to every layer, as ``peapod.generator.attention`` does for Hugging Face's path;
* calls the layers' weights through ``F.linear`` rather than through module calls;
* reads nothing it does not use (no cache objects, no output dataclasses per layer).

Dropout is drawn in Hugging Face's order (embeddings, attention weights, each sublayer's output,
the final norm), so with the same random state the two paths draw the same masks.
``tests/test_lean_t5.py`` checks losses and every gradient against Hugging Face's forward, with and
without dropout, padding and the copy head, and the packed candidate scores against one Hugging
Face pass per candidate. Used by ``PeaPOD.forward``, ``PeaPOD.encode`` and
``PeaPOD.score_candidates``; beam search keeps Hugging Face's ``generate`` (its incremental cache).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from peapod.generator.attention import additive_bias, biased_attention


# The transformers releases whose T5 internals this module reads (pyproject.toml states the same
# range; checked on 5.17 on a GPU and 5.23 here). check_internals stops at model build when one is gone.
SUPPORTED_TRANSFORMERS = ">=5.17,<6"
# What is read of each T5 attention, each T5 block's sublayers and each stack.
_ATTENTION_INTERNALS = ("n_heads", "key_value_proj_dim", "q", "k", "v", "o", "dropout")
_STACK_INTERNALS = ("block", "final_layer_norm", "dropout")


class UnsupportedTransformers(RuntimeError):
    """The installed transformers' T5 lacks an internal the lean pass reads."""


def check_internals(t5) -> None:
    """Stop with a message naming the missing internal when the installed transformers' T5 lacks
    one that this module reads (``compute_bias``, ``n_heads``, ``key_value_proj_dim``, ...)."""
    import transformers

    def missing(what: str) -> UnsupportedTransformers:
        return UnsupportedTransformers(
            f"transformers {transformers.__version__}: T5 has no {what}, which peapod.generator.lean_t5 reads; "
            f"install transformers{SUPPORTED_TRANSFORMERS} (the range pyproject.toml states)")

    for name, stack in (("encoder", t5.encoder), ("decoder", t5.decoder)):
        for attr in _STACK_INTERNALS:
            if not hasattr(stack, attr):
                raise missing(f"{name}.{attr}")
        first = stack.block[0].layer[0].SelfAttention
        if not callable(getattr(first, "compute_bias", None)):
            raise missing(f"{name}.block[0].layer[0].SelfAttention.compute_bias")
        for b, block in enumerate(stack.block):
            attentions = [("layer[0].SelfAttention", block.layer[0].SelfAttention)]
            if name == "decoder":
                attentions.append(("layer[1].EncDecAttention", getattr(block.layer[1], "EncDecAttention", None)))
            for where, attention in attentions:
                for attr in _ATTENTION_INTERNALS:
                    if not hasattr(attention, attr):
                        raise missing(f"{name}.block[{b}].{where}.{attr}")
            dense = getattr(block.layer[-1], "DenseReluDense", None)
            if dense is None or not (hasattr(dense, "wi") or hasattr(dense, "wi_0")) or not hasattr(dense, "wo"):
                raise missing(f"{name}.block[{b}].layer[-1].DenseReluDense (wi or wi_0/wi_1, wo)")


def rms_norm(norm, hidden: torch.Tensor) -> torch.Tensor:
    """``T5LayerNorm``: variance in float32, no mean, no bias."""
    variance = hidden.to(torch.float32).pow(2).mean(-1, keepdim=True)
    hidden = hidden * torch.rsqrt(variance + norm.variance_epsilon)
    if norm.weight.dtype in (torch.float16, torch.bfloat16):
        hidden = hidden.to(norm.weight.dtype)
    return norm.weight * hidden


def attend(attention, hidden: torch.Tensor, source: torch.Tensor, bias: torch.Tensor | None,
           training: bool) -> torch.Tensor:
    """``T5Attention`` (q, k, v from ``hidden`` and ``source``, unscaled scores plus ``bias``,
    output projection), attention computed as ``peapod.generator.attention.peapod_sdpa`` does."""
    B, T, _ = hidden.shape
    S = source.shape[1]
    heads, dk = attention.n_heads, attention.key_value_proj_dim
    query = F.linear(hidden, attention.q.weight).view(B, T, heads, dk).transpose(1, 2)
    key = F.linear(source, attention.k.weight).view(B, S, heads, dk).transpose(1, 2)
    value = F.linear(source, attention.v.weight).view(B, S, heads, dk).transpose(1, 2)
    out = biased_attention(query, key, value, None if bias is None else bias.to(query.dtype),
                           attention.dropout if training else 0.0)
    out = out.transpose(1, 2).reshape(B, T, heads * dk)
    return F.linear(out, attention.o.weight)


def feed_forward(layer, hidden: torch.Tensor, training: bool) -> torch.Tensor:
    """``T5LayerFF``: norm, dense (gated or not), dropout, dense, dropout, residual."""
    dense = layer.DenseReluDense
    normed = rms_norm(layer.layer_norm, hidden)
    if hasattr(dense, "wi_0"):  # T5DenseGatedActDense (T5 v1.1, flan-t5)
        inner = dense.act(F.linear(normed, dense.wi_0.weight)) * F.linear(normed, dense.wi_1.weight)
    else:
        inner = dense.act(F.linear(normed, dense.wi.weight))
    inner = F.dropout(inner, dense.dropout.p, training)
    out = F.linear(inner, dense.wo.weight)
    return hidden + F.dropout(out, layer.dropout.p, training)


def position_bias(stack, query_length: int, key_length: int, device: torch.device) -> torch.Tensor:
    """The stack's relative position bias (1, heads, queries, keys), from its first layer."""
    return stack.block[0].layer[0].SelfAttention.compute_bias(query_length, key_length, device=device)


def encoder_hidden(t5, inputs_embeds: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The encoder's last hidden state (B, S, d); ``mask`` (B, S) is 1 on real positions."""
    stack = t5.encoder
    training = stack.training
    S = inputs_embeds.shape[1]
    hidden = F.dropout(inputs_embeds, stack.dropout.p, training)
    allowed = None if mask is None else mask[:, None, None, :].bool()
    bias = additive_bias(position_bias(stack, S, S, hidden.device), allowed, _compute_dtype(hidden))
    for block in stack.block:
        self_attention, ff = block.layer[0], block.layer[-1]
        normed = rms_norm(self_attention.layer_norm, hidden)
        hidden = hidden + F.dropout(attend(self_attention.SelfAttention, normed, normed, bias, training),
                                    self_attention.dropout.p, training)
        hidden = feed_forward(ff, hidden, training)
    return F.dropout(rms_norm(stack.final_layer_norm, hidden), stack.dropout.p, training)


def decoder_hidden(t5, decoder_embeds: torch.Tensor, encoded: torch.Tensor, encoder_mask: torch.Tensor | None,
                   self_allowed: torch.Tensor | None = None) -> torch.Tensor:
    """The decoder's output (B, T, d), scaled as the output layer expects (tied embeddings).

    ``self_allowed``: a boolean (B or 1, 1, T, T) self-attention mask given as is (True = may
    attend; ``PeaPOD.score_candidates`` packs candidates with it); causal when None.
    ``encoder_mask`` (B, S): which encoder positions the cross-attention sees (None: all)."""
    stack = t5.decoder
    training = stack.training
    T, device = decoder_embeds.shape[1], decoder_embeds.device
    hidden = F.dropout(decoder_embeds, stack.dropout.p, training)
    dtype = _compute_dtype(hidden)
    if self_allowed is None:
        self_allowed = torch.ones(T, T, dtype=torch.bool, device=device).tril().view(1, 1, T, T)
    self_bias = additive_bias(position_bias(stack, T, T, device), self_allowed, dtype)
    cross_bias = None if encoder_mask is None else additive_bias(None, encoder_mask[:, None, None, :].bool(), dtype)
    for block in stack.block:
        self_attention, cross_attention, ff = block.layer
        normed = rms_norm(self_attention.layer_norm, hidden)
        hidden = hidden + F.dropout(attend(self_attention.SelfAttention, normed, normed, self_bias, training),
                                    self_attention.dropout.p, training)
        normed = rms_norm(cross_attention.layer_norm, hidden)
        hidden = hidden + F.dropout(attend(cross_attention.EncDecAttention, normed, encoded, cross_bias, training),
                                    cross_attention.dropout.p, training)
        hidden = feed_forward(ff, hidden, training)
    hidden = F.dropout(rms_norm(stack.final_layer_norm, hidden), stack.dropout.p, training)
    if scales_decoder_outputs(t5.config):
        hidden = hidden * (t5.config.d_model ** -0.5)
    return hidden


def scales_decoder_outputs(config) -> bool:
    """Whether T5 scales the decoder output by d_model^-0.5 before the output layer (tied
    embeddings); transformers 5.23 names it ``scale_decoder_outputs``, older releases read
    ``tie_word_embeddings``."""
    return bool(getattr(config, "scale_decoder_outputs", config.tie_word_embeddings))


def _compute_dtype(hidden: torch.Tensor) -> torch.dtype:
    """The dtype the attention scores take: autocast's, where it is on."""
    if torch.is_autocast_enabled(hidden.device.type):
        return torch.get_autocast_dtype(hidden.device.type)
    return hidden.dtype
