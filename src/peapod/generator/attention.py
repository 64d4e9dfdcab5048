"""T5 attention with the position bias and the mask combined once per stack, not once per layer.

Hugging Face's "sdpa" attention (``integrations.sdpa_attention``) turns T5's relative position
bias and the boolean mask into one additive mask in every layer
(``torch.where(mask, position_bias, finfo.min)``, a batch x heads x queries x keys tensor), and,
because that mask needs a gradient, PyTorch's CPU SDPA falls back to its math path with a "safe"
softmax (``isneginf``, ``all`` and another ``where`` over the same tensor). On the real-Beauty
CPU recipe (top-n prompts of ~330 tokens) those passes were a third of a step's host time
(benchmarks/README.md, "Training step profile").

``ATTENTION`` ("peapod_sdpa") is the same computation with three changes, none of which alters
the arithmetic beyond float rounding order:

1. the combined additive mask is built once per (position bias, mask) pair and reused by every
   layer of the stack that receives the same two tensors (T5 shares both across layers);
2. on the CPU, where the bias needs a gradient (the self-attentions' learned position bias),
   attention is computed as ``softmax(q @ k^T + bias) @ v`` directly (T5 does not scale the
   scores; its masked entries are ``finfo.min``, never ``-inf``, so the safe softmax's extra
   passes guard nothing);
3. elsewhere (CUDA, and the cross-attention's constant bias on the CPU) the combined mask goes to
   ``scaled_dot_product_attention`` as before: CUDA's fused kernels accept a mask that needs a
   gradient, and the CPU's flash kernel one that does not.

Masks are created exactly as for "sdpa" (the same mask function is registered under this name),
so boolean 4D decoder masks reach the attention as given (``PeaPOD.score_candidates`` relies on
it; tests/test_generator.py guards it). Every case this module does not handle (no position bias,
a paged cache, GQA, causal attention without a mask over more keys than queries, which T5 never
asks for) goes to Hugging Face's own sdpa function.
"""

from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F

ATTENTION = "peapod_sdpa"

# id(position bias) -> (weak reference to it, mask, is_causal, combined additive mask). An entry
# lives as long as the stack's position bias does (one forward pass): the weak reference's callback
# removes it, and the value never refers to the bias itself (autograd keeps graph nodes, not it).
_combined: dict[int, tuple] = {}


def combined_mask(position_bias: torch.Tensor, mask: torch.Tensor | None, is_causal: bool,
                  q_length: int, kv_length: int, dtype: torch.dtype) -> torch.Tensor:
    """The additive mask of ``sdpa_attention.create_position_bias_mask``: the position bias where
    attending is allowed and the dtype's minimum elsewhere (a float mask is added instead)."""
    if mask is None and not is_causal:
        return position_bias.to(dtype)
    key = id(position_bias)
    cached = _combined.get(key)
    if cached is not None and cached[0]() is position_bias and cached[1] is mask and cached[2] == is_causal \
            and cached[3].dtype == dtype and cached[3].shape[-2:] == (q_length, kv_length):
        return cached[3]
    if mask is None:  # causal without a materialised mask
        allowed = torch.ones(q_length, kv_length, dtype=torch.bool, device=position_bias.device).tril()
        combined = additive_bias(position_bias, allowed.view(1, 1, q_length, kv_length), dtype)
    elif mask.dtype == torch.bool:
        combined = additive_bias(position_bias, mask, dtype)
    else:
        combined = (position_bias + mask).to(dtype)
    combined = combined.contiguous()
    _combined[key] = (weakref.ref(position_bias, lambda _, key=key: _combined.pop(key, None)), mask, is_causal,
                      combined)
    return combined


def additive_bias(position_bias: torch.Tensor | None, allowed: torch.Tensor | None, dtype: torch.dtype
                  ) -> torch.Tensor | None:
    """The attention's additive term: the position bias where ``allowed`` (bool, broadcastable to
    batch x heads x queries x keys) and the dtype's minimum elsewhere (T5's masked scores are
    ``finfo.min``, never ``-inf``); None when there is neither."""
    if allowed is None:
        return None if position_bias is None else position_bias.to(dtype)
    if position_bias is None:
        position_bias = torch.zeros((), dtype=dtype, device=allowed.device)
    return torch.where(allowed, position_bias, torch.finfo(dtype).min).to(dtype)


def peapod_sdpa(module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None,
                is_causal: bool | None = None, position_bias: torch.Tensor | None = None, **kwargs):
    """An ``AttentionInterface`` function: (B, q, heads, d) output and no weights, as "sdpa"."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    q_length, kv_length = query.shape[2], key.shape[2]
    grouped = getattr(module, "num_key_value_groups", 1) > 1
    causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
    # T5's decoder self-attention in a full forward (Hugging Face's reference path, tested in
    # tests/test_training_speed.py): causal with no materialised mask, as many keys as queries
    causal = bool(q_length > 1 and attention_mask is None and causal)
    if position_bias is None or grouped or (causal and kv_length != q_length) or kwargs.get("cache") is not None \
            or kwargs.get("softcap") is not None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, position_bias=position_bias, **kwargs)
    bias = combined_mask(position_bias, attention_mask, causal, q_length, kv_length, query.dtype)
    out = biased_attention(query, key, value, bias, dropout if module.training else 0.0,
                           1.0 if scaling is None else scaling)  # T5: unscaled scores
    return out.transpose(1, 2).contiguous(), None


def biased_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, bias: torch.Tensor | None,
                     dropout: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    """``softmax(scale q k^T + bias) v`` (B, heads, q, d) with dropout on the weights. On the CPU,
    where the bias needs a gradient, computed directly (change 2 above); elsewhere by
    ``scaled_dot_product_attention``. Shared by ``peapod_sdpa`` and ``peapod.generator.lean_t5``."""
    if query.device.type == "cpu" and bias is not None and bias.requires_grad and not dropout:
        scores = torch.matmul(query, key.transpose(-1, -2))
        if scale != 1.0:
            scores = scores * scale
        weights = torch.softmax(scores.add_(bias), dim=-1)  # in place: matmul's backward needs no output
        return torch.matmul(weights, value)
    return F.scaled_dot_product_attention(query, key, value, attn_mask=bias, dropout_p=dropout, scale=scale)


def register() -> str:
    """Register ``ATTENTION`` with transformers (attention and mask functions); returns its name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(ATTENTION, peapod_sdpa)
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION, sdpa_mask)
    return ATTENTION
