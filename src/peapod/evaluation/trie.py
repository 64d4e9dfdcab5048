"""A prefix trie over the token sequences of valid item ids, for constrained beam search.

Each item's target text (its id as digits) is tokenized once; generation may then only follow
paths of the trie, so every finished beam is a real item id, and distinct beams are distinct items.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence


class ItemTrie:
    def __init__(self, sequences: dict[int, Sequence[int]], eos_token_id: int):
        """``sequences`` maps item id -> token ids of its target text, without EOS."""
        self.eos_token_id = eos_token_id
        self._root: dict = {}
        self._item_of_path: dict[tuple[int, ...], int] = {}
        self._path_of_item: dict[int, tuple[int, ...]] = {}
        self._items_below: Counter[tuple[int, ...]] = Counter()  # path prefix -> items whose path has it
        for item, tokens in sequences.items():
            path = tuple(tokens) + (eos_token_id,)
            if eos_token_id in tokens:
                raise ValueError(f"item {item}: token sequence contains EOS")
            if path in self._item_of_path:
                other = self._item_of_path[path]
                raise ValueError(f"items {other} and {item} tokenize identically")
            self._item_of_path[path] = item
            self._path_of_item[int(item)] = path
            for end in range(1, len(path) + 1):
                self._items_below[path[:end]] += 1
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

    def excluding(self, items: Iterable[int]) -> "ExcludingTrie":
        """This trie without ``items`` (e.g. a user's history), sharing its nodes."""
        return ExcludingTrie(self, items)

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


class ExcludingTrie:
    """An :class:`ItemTrie` with some items taken out, for beams that must not return them. A
    token is allowed only while some item not taken out lies below it, so no beam enters a branch
    that ends nowhere (a beam with no allowed token would have to be scored -inf)."""

    def __init__(self, trie: ItemTrie, items: Iterable[int]):
        self.trie = trie
        self.eos_token_id = trie.eos_token_id
        self._removed: Counter[tuple[int, ...]] = Counter()
        self._n_removed = 0
        for item in set(items):
            path = trie._path_of_item.get(int(item))
            if path is None:
                continue  # not in the trie: nothing to take out
            self._n_removed += 1
            for end in range(1, len(path) + 1):
                self._removed[path[:end]] += 1

    def __len__(self) -> int:
        return len(self.trie) - self._n_removed

    def allowed(self, prefix: Iterable[int]) -> list[int]:
        prefix = tuple(prefix)
        node = self.trie._root
        for token in prefix:
            node = node.get(token)
            if node is None:
                return [self.eos_token_id]
        below, removed = self.trie._items_below, self._removed
        kept = [t for t in node if below[prefix + (t,)] > removed[prefix + (t,)]]
        return kept or [self.eos_token_id]
