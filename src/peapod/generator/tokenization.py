"""Tokenizers and whole-word ids.

``train_tokenizer`` trains a small T5-style tokenizer (byte-pair merges over SentencePiece-style
Metaspace words, digit runs split from letters, ``</s>`` appended) on the dataset's own text, for the tiny backbone.
``whole_word_ids`` maps the character spans of ``user_N``/``item_N`` words through a fast
tokenizer's offsets, so every token of the k-th id (counted from 1) gets k and every other token
0, whatever the tokenizer splits them into.
"""

from __future__ import annotations

import itertools
import os
import re
from typing import Iterable, Sequence

import numpy as np
import torch

if not torch.cuda.is_available():
    # Without a GPU the Rust tokenizer's own thread pool fights torch's threads for the cores
    # (steps 20x slower on 2 cores); batches are built in a background thread instead. With a GPU
    # the cores are free and its parallel batch encoding keeps the GPU fed. Set here, before any
    # tokenizer of this package encodes.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ID_WORD = re.compile(r"(?<![A-Za-z0-9_])(?:user|item)_\d+(?![A-Za-z0-9_])")
SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")  # ids 0, 1, 2 as in T5 (pad doubles as decoder start)


def train_tokenizer(texts: Iterable[str], vocab_size: int = 600, split_digits: bool = False):
    """A BPE tokenizer trained on ``texts``, wrapped as a transformers fast tokenizer that
    appends ``</s>`` like T5's. Deterministic for the same texts. ``split_digits`` makes every
    digit a token (ids then cost about as many tokens as with T5's own vocabulary)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"), pre_tokenizers.Digits(individual_digits=split_digits)]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=list("0123456789▁"),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", tok.token_to_id("</s>"))]
    )
    for i, special in enumerate(SPECIAL_TOKENS):
        if tok.token_to_id(special) != i:
            raise RuntimeError(f"special token {special} got id {tok.token_to_id(special)}, expected {i}")
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=100_000
    )


def id_word_spans(text: str) -> np.ndarray:
    """(S, 2) start/end character offsets of the ``user_N``/``item_N`` words in ``text``."""
    spans = [m.span() for m in ID_WORD.finditer(text)]
    return np.asarray(spans, dtype=np.int64).reshape(-1, 2)


def whole_word_from_offsets(text: str, offsets: np.ndarray, size: int = 512) -> np.ndarray:
    """Whole-word ids (T,) for tokens with character ``offsets`` (T, 2) into ``text``.

    A token belongs to the k-th id word (k from 1) when its span overlaps that word's span;
    special and padding tokens (empty spans) and all other tokens get 0. Ids above ``size - 1``
    are clipped to ``size - 1``.
    """
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    spans = id_word_spans(text)
    out = np.zeros(len(offsets), dtype=np.int64)
    if len(spans) == 0 or len(offsets) == 0:
        return out
    start, end = offsets[:, 0], offsets[:, 1]
    k = np.searchsorted(spans[:, 1], start, side="right")  # first word ending after the token starts
    k_clipped = np.minimum(k, len(spans) - 1)
    hit = (end > start) & (k < len(spans)) & (spans[k_clipped, 0] < end)
    out[hit] = np.minimum(k[hit] + 1, size - 1)
    return out


def encode_with_whole_words(
    tokenizer, texts: Sequence[str], size: int = 512
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Token ids and whole-word ids (unpadded, one array per text) for a fast tokenizer.

    Calls the Rust tokenizer directly: the transformers wrapper's tensor conversion costs more
    than the tokenization itself on long top-n prompts.
    """
    backend = tokenizer.backend_tokenizer
    if backend.padding is not None or backend.truncation is not None:  # plain, like tokenizer(texts)
        backend.no_padding()
        backend.no_truncation()
    ids, words = [], []
    for text, enc in zip(texts, backend.encode_batch(list(texts), add_special_tokens=True)):
        n = len(enc.ids)
        ids.append(np.fromiter(enc.ids, dtype=np.int64, count=n))
        offsets = np.fromiter(itertools.chain.from_iterable(enc.offsets), dtype=np.int64, count=2 * n)
        words.append(whole_word_from_offsets(text, offsets.reshape(n, 2), size))
    return ids, words


def explanation_targets(tokenizer, texts: Sequence[str], length: int) -> list[list[int]]:
    """Each explanation as the released code trains on it: tokenized (EOS appended), then its first
    ``length`` tokens. A text of ``length`` tokens or more keeps ``length`` of its own tokens and no
    EOS (HF truncation would keep ``length - 1`` and put EOS last); a shorter one keeps its EOS."""
    if len(texts) == 0:
        return []
    return [ids[:length] for ids in tokenizer(list(texts))["input_ids"]]


ITEM_PREFIX = "item_"  # prompts write item 12 as item_12


def item_word(item: int) -> str:
    """How prompts write an item id (and, with independent item tokens, its target)."""
    return f"{ITEM_PREFIX}{int(item)}"


def item_target_texts(items: Iterable[int], item_tokens: str) -> list[str]:
    """The target text of each item: its digits (the paper's) or its own token (``independent``)."""
    if item_tokens == "independent":
        return [item_word(i) for i in items]
    return [str(int(i)) for i in items]


def add_item_tokens(tokenizer, items: Iterable[int]) -> int:
    """Make every ``item_N`` of ``items`` one token of ``tokenizer`` (independent indexing); the
    number of tokens added. ``single_word`` keeps ``item_12`` from matching inside ``item_123``
    (an item outside the catalogue stays spelled by the base vocabulary)."""
    from tokenizers import AddedToken

    words = [AddedToken(item_word(i), single_word=True, lstrip=True, normalized=False) for i in items]
    return tokenizer.add_tokens(words)

