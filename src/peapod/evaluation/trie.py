"""A prefix trie over the token sequences of valid item ids, for constrained beam search.

Each item's target text (its id as digits) is tokenized once; generation may then only follow
paths of the trie, so every finished beam is a real item id, and distinct beams are distinct items.
"""

from __future__ import annotations

from typing import Iterable, Sequence


class ItemTrie:
    def __init__(self, sequences: dict[int, Sequence[int]], eos_token_id: int):
        """``sequences`` maps item id -> token ids of its target text, without EOS."""
        self.eos_token_id = eos_token_id
        self._root: dict = {}
        self._item_of_path: dict[tuple[int, ...], int] = {}
        for item, tokens in sequences.items():
            path = tuple(tokens) + (eos_token_id,)
            if eos_token_id in tokens:
                raise ValueError(f"item {item}: token sequence contains EOS")
            if path in self._item_of_path:
                other = self._item_of_path[path]
                raise ValueError(f"items {other} and {item} tokenize identically")
            self._item_of_path[path] = item
            node = self._root
            for token in path:
                node = node.setdefault(token, {})

    def __len__(self) -> int:
        return len(self._item_of_path)

    def allowed(self, prefix: Iterable[int]) -> list[int]:
        """Tokens that may follow ``prefix`` (generated tokens, without the decoder start token).
        After a complete item (EOS reached), or off the trie, only EOS is allowed (it pads)."""
        node = self._root
        for token in prefix:
            node = node.get(token)
            if node is None:
                return [self.eos_token_id]
        return list(node) if node else [self.eos_token_id]

    def item_of(self, tokens: Sequence[int]) -> int | None:
        """The item whose path ``tokens`` spells (EOS and trailing padding tolerated), else None."""
        tokens = list(tokens)
        if self.eos_token_id in tokens:
            tokens = tokens[: tokens.index(self.eos_token_id)]
        return self._item_of_path.get(tuple(tokens) + (self.eos_token_id,))

    def prefix_allowed_tokens_fn(self, decoder_start_token_id: int):
        """The callable transformers' ``generate(prefix_allowed_tokens_fn=...)`` expects."""

        def allowed(batch_id: int, input_ids) -> list[int]:
            ids = input_ids.tolist()
            if ids and ids[0] == decoder_start_token_id:
                ids = ids[1:]
            return self.allowed(ids)

        return allowed
