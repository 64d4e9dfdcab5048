"""Item ids out of beam search, as the paper's protocol reads them.

The list of a prompt is its ``top_k`` best returned sequences, in the beam's order (the released
code asks ``generate`` for ``num_return_sequences = top_k``). A sequence counts as an item id only
when its beam finished (ended with EOS) and its text is an id; anything else keeps its place in
the list as a miss, never refilled from lower beams (the released code put a random item there,
which is a miss but for chance). The evaluation and the per-epoch learning check both read beams
here, so the two never disagree on what a generated id is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
import numpy as np
import torch
from transformers import LogitsProcessor

from peapod.data.p5 import is_id_token
from peapod.generator.tokenization import ITEM_PREFIX

UNFINISHED = -1  # the beam was cut off by max_new_tokens before EOS
NOT_AN_ID = -2  # the beam finished, but its text is not an id (words, empty, ...)


def spelled_ids(sequences: torch.Tensor, tokenizer, decoder_start: int, eos: int, item_tokens: str = "digits"
                ) -> np.ndarray:
    """(N,) the id each generated sequence (N, T) spells, or UNFINISHED / NOT_AN_ID: the tokens
    before EOS, decoded, read as an id (``read_item_id``). (A beam constrained by a trie of ids
    spells its item's tokens, so constrained and free beams are read alike.)"""
    out = np.empty(sequences.shape[0], np.int64)
    for n, seq in enumerate(sequences.tolist()):
        if seq and seq[0] == decoder_start:
            seq = seq[1:]
        if eos not in seq:
            out[n] = UNFINISHED
            continue
        text = tokenizer.decode(seq[: seq.index(eos)], skip_special_tokens=True).strip()
        item = read_item_id(text, item_tokens)
        out[n] = NOT_AN_ID if item is None else item
    return out


def read_item_id(text: str, item_tokens: str = "digits") -> int | None:
    """The item id a generated text names, or None: its digits (``digits``, the paper's), or
    ``item_N`` (``independent`` item tokens); written as the data writes ids (no leading zero)."""
    if item_tokens == "independent":
        if not text.startswith(ITEM_PREFIX):
            return None
        text = text[len(ITEM_PREFIX):]
    return int(text) if is_canonical_id(text) else None


def is_canonical_id(text: str) -> bool:
    """An id written as the data writes ids: ASCII digits, no leading zero, within int64."""
    return is_id_token(text) and len(text) < 19 and text == str(int(text))


@dataclass(frozen=True)
class BeamLists:
    """What beam search returned for a batch of prompts: ``ids`` (rows, top_k), each returned
    sequence's id in the beam's order, UNFINISHED or NOT_AN_ID where it spells none."""

    ids: np.ndarray

    def ranked(self, valid: np.ndarray) -> list[list[int | None]]:
        """Per row, the ranked list: a returned id where ``valid[id]`` (a boolean lookup table over
        ids, e.g. the catalogue), None in its place otherwise (a miss that keeps its position)."""
        ok = self.known(valid)
        return [[int(i) if k else None for i, k in zip(row, keep)] for row, keep in zip(self.ids, ok)]

    def known(self, valid: np.ndarray) -> np.ndarray:
        """(rows, top_k) True where the returned sequence is an id that ``valid`` holds."""
        inside = (self.ids >= 0) & (self.ids < len(valid))
        return inside & valid[np.where(inside, self.ids, 0)]


def beam_lists(model, batch: dict[str, torch.Tensor], tokenizer, beams: int, top_k: int, max_new_tokens: int,
               prefix_allowed_tokens_fn=None, item_tokens: str = "digits", candidate_paths: torch.Tensor | None = None
               ) -> BeamLists:
    """Beam search with ``beams`` beams on ``batch``; the ``top_k`` best returned sequences of each
    prompt read as ids (``spelled_ids``). ``prefix_allowed_tokens_fn`` constrains the beams (a
    function per beam and step); ``candidate_paths`` (prompts, C, L) restricts each prompt's beams
    to its C candidates' token paths (``CandidatePaths``)."""
    if top_k > beams:
        raise ValueError(f"top_k ({top_k}) cannot exceed the number of beams ({beams})")
    kwargs = dict(num_beams=beams, num_return_sequences=top_k, max_new_tokens=max_new_tokens, do_sample=False,
                  early_stopping=True)
    if prefix_allowed_tokens_fn is not None:
        kwargs["prefix_allowed_tokens_fn"] = prefix_allowed_tokens_fn
    if candidate_paths is not None:
        from transformers import LogitsProcessorList

        kwargs["logits_processor"] = LogitsProcessorList([CandidatePaths(candidate_paths, beams,
                                                                         tokenizer.eos_token_id)])
    out = model.generate(batch, **kwargs).cpu()
    rows = batch["input_ids"].shape[0]
    ids = spelled_ids(out, tokenizer, model.t5.config.decoder_start_token_id, tokenizer.eos_token_id, item_tokens)
    return BeamLists(ids.reshape(rows, top_k))


def lookup_table(ids, size: int | None = None) -> np.ndarray:
    """A boolean table over ids 0..max that is True at ``ids`` (for ``BeamLists.ranked``)."""
    ids = np.asarray(ids, np.int64)
    table = np.zeros(int(size if size is not None else (ids.max() + 1 if len(ids) else 1)), bool)
    table[ids] = True
    return table


def beam_diagnostics(beams: BeamLists, catalogue: np.ndarray, candidates: list[np.ndarray] | None = None
                     ) -> dict[str, np.ndarray]:
    """Per prompt, what its returned sequences were (peapod.metrics.BEAM_DIAGNOSTICS): the share
    that finished with EOS, that spell an id, that are catalogue items (``catalogue``: a lookup
    table) and, given each prompt's ``candidates`` (top-n), that are among them, and whether the
    first one is."""
    ids = beams.ids
    out = {
        "share_finished": (ids != UNFINISHED).mean(axis=1),
        "share_ids": (ids >= 0).mean(axis=1),
        "share_catalogue": beams.known(catalogue).mean(axis=1),
    }
    if candidates is not None:
        inside = np.stack([np.isin(row, c) for row, c in zip(ids, candidates)]) if len(ids) else np.zeros((0, 1), bool)
        out["share_candidates"] = inside.mean(axis=1)
        out["top1_in_candidates"] = inside[:, 0].astype(np.float64)
    return {k: v.astype(np.float64) for k, v in out.items()}


class CandidatePaths(LogitsProcessor):
    """A logits processor that keeps each beam on its prompt's candidate items, in tensor operations
    (Hugging Face's ``prefix_allowed_tokens_fn`` calls Python once per beam and step).

    ``paths`` (prompts, C, L): each candidate's target tokens ending in EOS, negative after the end.
    At generated length t a beam may continue with token ``paths[p, c, t]`` of every candidate c
    whose first t tokens are the beam's; when none is (a complete item, or a prefix off every
    path), only EOS, as ``peapod.evaluation.trie.ItemTrie.allowed`` says. Disallowed tokens get
    -inf added, as Hugging Face's ``PrefixConstrainedLogitsProcessor`` does, so the beams equal a
    trie's (tests/test_evaluate.py)."""

    def __init__(self, paths: torch.Tensor, num_beams: int, eos_token_id: int):
        self.paths = paths.repeat_interleave(num_beams, 0)  # one row per beam, as generate orders them
        self.eos = eos_token_id

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        rows, vocabulary = scores.shape
        paths = self.paths.to(scores.device)
        generated = input_ids[:, 1:]  # without the decoder start token
        t = generated.shape[1]
        if t < paths.shape[2]:
            on_path = (paths[:, :, :t] == generated[:, None, :]).all(-1)  # (rows, C)
            following = paths[:, :, t]
            keep = on_path & (following >= 0)
            counts = torch.zeros(rows, vocabulary + 1, dtype=torch.int32, device=scores.device)
            counts.scatter_add_(1, torch.where(keep, following, vocabulary), keep.to(torch.int32))
            allowed = counts[:, :vocabulary] > 0
        else:
            allowed = torch.zeros_like(scores, dtype=torch.bool)
        allowed[~allowed.any(-1), self.eos] = True
        return scores + torch.full_like(scores, -math.inf).masked_fill(allowed, 0.0)
