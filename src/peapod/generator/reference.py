"""The reference forward: Hugging Face's own ``T5ForConditionalGeneration`` passes in place of
``peapod.generator.lean_t5``, switched on for one model by ``use_hugging_face_forward``.

The lean passes (``PeaPOD.encode``, ``forward``, ``token_log_probs`` and the packed decoder pass of
``score_candidates``) run the same arithmetic as Hugging Face's forward without its per-call
machinery. The equality tests (tests/test_lean_t5.py, test_training_speed.py) and the GPU suite's
reference row compare the two, so the reference lives here, the one place that switches it:
production methods carry no branch that only the tests take. The switch replaces those four
methods on the one model instance (its class, checkpoints and ``generate`` are unchanged; beam
search reaches the reference encoder through ``encode``).
"""

from __future__ import annotations

import types
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from peapod.generator.model import PeaPOD, log_softmax_at

_REPLACED = ("encode", "forward", "token_log_probs", "packed_log_probs")


def use_hugging_face_forward(model: PeaPOD, on: bool = True) -> PeaPOD:
    """Switch ``model``'s teacher-forced passes to Hugging Face's forward (``on``) or back to the
    lean passes; returns the model."""
    for name in _REPLACED:
        model.__dict__.pop(name, None)
    if on:
        for name in _REPLACED:
            setattr(model, name, types.MethodType(_REFERENCE[name], model))
    return model


def uses_hugging_face_forward(model: PeaPOD) -> bool:
    return "forward" in model.__dict__


@contextmanager
def hugging_face_forward(model: PeaPOD, on: bool = True):
    """Within the block, ``model`` runs the reference (``on``); afterwards as before."""
    before = uses_hugging_face_forward(model)
    use_hugging_face_forward(model, on)
    try:
        yield model
    finally:
        use_hugging_face_forward(model, before)


def _encode(self: PeaPOD, batch: dict[str, torch.Tensor], token_embeds: torch.Tensor | None = None):
    embeds, mask = self.encoder_inputs(batch, token_embeds)
    return self.t5.get_encoder()(inputs_embeds=embeds, attention_mask=mask), mask


def _forward(self: PeaPOD, batch: dict[str, torch.Tensor], labels: torch.Tensor | None = None):
    labels = self.loss_labels(batch, labels)
    encoder_outputs, mask = self.encode(batch)
    with self.copying_from(self.copy_source(batch, encoder_outputs.last_hidden_state)):
        # the decoder's cross-attention sees the encoder mask, unless reproducing defect 2
        return self.t5(encoder_outputs=encoder_outputs,
                       attention_mask=mask if self.cfg.decoder_encoder_mask else None, labels=labels)


def _token_log_probs(self: PeaPOD, batch: dict[str, torch.Tensor], labels: torch.Tensor | None = None):
    labels = self.loss_labels(batch, labels)
    logits = self(batch, labels).logits.float()
    return F.log_softmax(logits, dim=-1).gather(-1, labels.clamp_min(0)[..., None]).squeeze(-1), labels


def _packed_log_probs(self: PeaPOD, decoder_inputs: torch.Tensor, encoded: torch.Tensor,
                      encoder_mask: torch.Tensor | None, allowed: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The packed sequence through ``T5ForConditionalGeneration.forward``, which keeps a 4D
    boolean ``decoder_attention_mask`` as given (``masking_utils._preprocess_mask_arguments``, read
    in transformers 5.23.0; tests/test_generator.py guards it)."""
    rows, CL = decoder_inputs.shape
    logits = self.t5(encoder_outputs=(encoded,), attention_mask=encoder_mask, decoder_input_ids=decoder_inputs,
                     decoder_attention_mask=allowed.expand(rows, 1, CL, CL), use_cache=False).logits
    return log_softmax_at(logits.float(), targets)


_REFERENCE = {"encode": _encode, "forward": _forward, "token_log_probs": _token_log_probs,
              "packed_log_probs": _packed_log_probs}
