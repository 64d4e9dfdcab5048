"""Prompts, task samplers, fixed validation sets and batches for the generator.

Training samples follow the protocol: explanation = the given training split; sequential = a
random window of the user's training items (start s ~ U[0, n-4], end e ~ U[s+1, n-3], cut to its
last max_history + 1 items; input all but the last, target the last); top-n = one training item
plus ``negatives`` items the user never touched, shuffled. Each training sample draws a template;
validation uses the bare one. Every random choice of batch k of epoch e comes from
``default_rng([seed, e, k])``, so any batch can be rebuilt on its own (resume mid-epoch).

Tokenization is done once where the text is fixed: targets (item ids and explanations), the
explanation prompts (cached per (sample, template)) and the validation sets (kept as tensors).
The sequential and top-n prompts are new random texts every epoch and are tokenized per batch
in a background thread (the fast tokenizer releases the GIL).
"""

from __future__ import annotations

import queue
import string
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import torch
import yaml

from peapod.errors import InputError
from peapod.data.tables import GENERATOR_TABLES, item_catalogue, read_tables, table_paths, user_sequences
from peapod.generator.config import TASKS, GeneratorConfig
from peapod.generator.tokenization import encode_with_whole_words, explanation_targets, item_target_texts, item_word
from peapod.splits import history_before, held_out_target, training_items

SLOTS = {"explanation": {"user", "item"}, "sequential": {"user", "history"}, "topn": {"user", "candidates"}}


@dataclass
class Templates:
    train: dict[str, list[str]]  # task -> templates drawn at random in training
    eval: dict[str, str]  # task -> the bare template of validation and test

    @classmethod
    def load(cls, path: str | Path) -> "Templates":
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise InputError(path, f"cannot read templates: {exc}") from None
        if not isinstance(raw, dict) or set(raw) != set(TASKS):
            raise InputError(path, f"needs exactly the tasks {list(TASKS)}, has {list(raw or {})}")
        train, evals = {}, {}
        for task in TASKS:
            entry = raw[task]
            if not isinstance(entry, dict) or set(entry) != {"train", "eval"}:
                raise InputError(path, "needs the keys 'train' (a list) and 'eval' (a string)", task)
            if not entry["train"] or not all(isinstance(t, str) for t in entry["train"]):
                raise InputError(path, "'train' must be a non-empty list of strings", task)
            for i, template in enumerate([entry["eval"], *entry["train"]]):
                slots = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
                if slots != SLOTS[task]:
                    where = f"{task}.eval" if i == 0 else f"{task}.train[{i - 1}]"
                    raise InputError(path, f"slots {sorted(slots)} in {template!r}, expected {sorted(SLOTS[task])}", where)
            train[task], evals[task] = list(entry["train"]), entry["eval"]
        return cls(train, evals)


def item_words(items) -> str:
    return " ".join(item_word(i) for i in items)


def fill(template: str, task: str, user: int, item: int | None = None, items=None) -> str:
    if task == "explanation":
        return template.format(user=user, item=item)
    if task == "sequential":
        return template.format(user=user, history=item_words(items))
    return template.format(user=user, candidates=item_words(items))


@dataclass
class TaskData:
    """The dataset as the generator needs it (from the data stage's tables)."""

    sequences: dict[int, np.ndarray]  # user id -> all items in time order (last two held out)
    catalogue: np.ndarray  # all item ids, sorted
    explanations: dict[str, dict[str, np.ndarray]]  # split -> user, item, text arrays
    valid_candidates: dict[int, tuple[int, np.ndarray]]  # user -> (validation target, negatives)

    @classmethod
    def from_tables(cls, tables: dict[str, pa.Table]) -> "TaskData":
        sequences, catalogue = user_sequences(tables["sequences"]), item_catalogue(tables["items"])
        exp = tables["explanations"].to_pandas()
        explanations = {
            split: {
                "user": part["user_id"].to_numpy(np.int64),
                "item": part["item_id"].to_numpy(np.int64),
                "text": part["explanation"].astype(str).to_numpy(),
            }
            for split, part in ((s, exp[exp["split"] == s]) for s in ("train", "valid"))
        }
        cand = tables["candidates"].to_pandas()
        cand = cand[cand["split"] == "valid"]
        valid_candidates = {
            int(u): (int(t), np.asarray(n, dtype=np.int64))
            for u, t, n in zip(cand["user_id"], cand["target"], cand["negatives"])
        }
        return cls(sequences, catalogue, explanations, valid_candidates)

    @classmethod
    def from_files(cls, paths: dict[str, str | Path]) -> "TaskData":
        """From the data stage's files ({table name: path}; GENERATOR_TABLES)."""
        return cls.from_tables(read_tables({name: paths[name] for name in GENERATOR_TABLES}))

    @classmethod
    def from_directory(cls, data_dir: str | Path) -> "TaskData":
        return cls.from_files(table_paths(data_dir, GENERATOR_TABLES))

    @property
    def n_users(self) -> int:
        return max(self.sequences)

    def tokenizer_corpus(self, templates: Templates, seed: int = 0) -> list[str]:
        """Texts to train the tiny backbone's tokenizer on: training explanations, every template
        filled with real ids, and every item id as a target."""
        rng = np.random.default_rng(seed)
        users = np.fromiter(self.sequences, dtype=np.int64)
        texts = list(self.explanations["train"]["text"])
        for task in TASKS:
            for template in templates.train[task] + [templates.eval[task]]:
                for _ in range(20):
                    ids = rng.choice(self.catalogue, size=min(10, len(self.catalogue)))
                    texts.append(fill(template, task, int(rng.choice(users)), int(ids[0]), ids))
        texts.extend(str(i) for i in self.catalogue)
        return texts


def collate(inputs: list[np.ndarray], words: list[np.ndarray], targets: list[np.ndarray],
            users: list[int], tasks: list[int], multiple: int = 1) -> dict[str, torch.Tensor]:
    """Pad to the longest in the batch (rounded up to ``multiple``); labels padded with -100."""
    B = len(inputs)
    T = -(-max(len(x) for x in inputs) // multiple) * multiple
    L = -(-max(len(y) for y in targets) // multiple) * multiple
    input_ids = np.zeros((B, T), np.int64)
    whole_word = np.zeros((B, T), np.int64)
    mask = np.zeros((B, T), np.int64)
    labels = np.full((B, L), -100, np.int64)
    for b, (x, w, y) in enumerate(zip(inputs, words, targets)):
        input_ids[b, : len(x)] = x
        whole_word[b, : len(w)] = w
        mask[b, : len(x)] = 1
        labels[b, : len(y)] = y
    return {
        "input_ids": torch.from_numpy(input_ids),
        "attention_mask": torch.from_numpy(mask),
        "whole_word_ids": torch.from_numpy(whole_word),
        "labels": torch.from_numpy(labels),
        "user_ids": torch.as_tensor(users, dtype=torch.long),
        "task_ids": torch.as_tensor(tasks, dtype=torch.long),
    }


class Batches:
    """Builds the training batches of any epoch and the fixed validation batches of a run."""

    def __init__(self, data: TaskData, tokenizer, templates: Templates, cfg: GeneratorConfig, seed: int,
                 pad_multiple: int = 1, pin_memory: bool = False):
        self.data, self.tokenizer, self.templates, self.cfg, self.seed = data, tokenizer, templates, cfg, seed
        self.pad_multiple = pad_multiple  # pad lengths to a multiple of this (8 suits GPU tensor cores)
        self.pin_memory = pin_memory  # pin batches in the background thread, for asynchronous copies
        self.ww = cfg.whole_word_size
        # Targets, tokenized once: each item id (its digits, or its own token), each explanation (its
        # first explanation_length tokens).
        max_item = int(data.catalogue.max())
        ids = self.tokenizer(item_target_texts(data.catalogue, cfg.item_tokens))["input_ids"]
        self.item_target: list[np.ndarray | None] = [None] * (max_item + 1)
        for item, t in zip(data.catalogue, ids):
            self.item_target[int(item)] = np.asarray(t, np.int64)
        self.exp_target = {
            split: [np.asarray(t, np.int64) for t in self._tokenize_targets(part["text"])]
            for split, part in data.explanations.items()
        }
        self.prompt_cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        # Training units per task; tasks without data (or not configured) are skipped.
        self.seq_users = np.array([u for u, s in data.sequences.items() if len(s) >= 4], np.int64)
        self.topn_users = np.array([u for u, s in data.sequences.items() if len(s) >= 3], np.int64)
        # sequential_units: prefixes: unit j is (user, position of its target among the user's items)
        self.prefix_users, self.prefix_ends = self._training_prefixes() if cfg.sequential_units == "prefixes" else (None, None)
        n_exp = len(data.explanations["train"]["user"])
        n_seq = len(self.seq_users) if self.prefix_users is None else len(self.prefix_users)
        counts = {"explanation": n_exp, "sequential": n_seq, "topn": len(self.topn_users)}
        self.units = {t: counts[t] for t in TASKS if t in cfg.tasks and counts[t] > 0}
        self.catalogue = data.catalogue
        self._history_mask = np.zeros(max_item + 1, bool)

    def _training_prefixes(self) -> tuple[np.ndarray, np.ndarray]:
        """(user, target position) of every training prefix: each training item after a user's first
        is a target once, the items before it its history (users with a sequential window only)."""
        users, ends = [], []
        for user in self.seq_users:
            n_train = len(training_items(self.data.sequences[int(user)]))
            users.append(np.full(n_train - 1, user, np.int64))
            ends.append(np.arange(1, n_train, dtype=np.int64))
        empty = np.zeros(0, np.int64)
        return (np.concatenate(users) if users else empty), (np.concatenate(ends) if ends else empty)

    def _tokenize_targets(self, texts) -> list[list[int]]:
        return explanation_targets(self.tokenizer, list(texts), self.cfg.explanation_length)

    # ---- epoch plan ------------------------------------------------------------------------
    def batches_per_task(self) -> dict[str, int]:
        """floor(units / batch size) batches per task (at least one when the task has data): the
        terms of the protocol's epoch length."""
        return {t: max(1, n // self.cfg.batch_size) for t, n in self.units.items()}

    def epoch_length(self) -> int:
        """Batches per epoch: floor(N_exp/B) + 2 floor(N_users/B) in the paper's setting, i.e. the
        sum of ``batches_per_task``, whatever the batching."""
        return sum(self.batches_per_task().values())

    def task_schedule(self) -> list[str]:
        """The task of each batch of an epoch under ``task`` batching: a strict rotation
        explanation, sequential, top-n (over the tasks that have data) for the whole epoch, so each
        task gets an equal share (the first tasks of the rotation one more when it does not divide).
        With ``sequential_units: prefixes`` each task gets its own ``batches_per_task`` instead,
        spread evenly over the epoch (batch k of a task with n batches sits at (k + 1/2) / n)."""
        order = list(self.units)
        if self.cfg.sequential_units == "prefixes":
            slots = [((k + 0.5) / n, order.index(task), task)
                     for task, n in self.batches_per_task().items() for k in range(n)]
            return [task for _, _, task in sorted(slots)]
        return [order[k % len(order)] for k in range(self.epoch_length())]

    def _unit_stream(self, rng: np.random.Generator, task: str, n: int) -> np.ndarray:
        """``n`` unit indices of ``task``: fresh permutations of its units, concatenated as often as
        needed (a sampler never runs out; each pass visits every unit once)."""
        units = self.units[task]
        passes = [rng.permutation(units) for _ in range(-(-n // units))]
        return np.concatenate(passes)[:n] if passes else np.zeros(0, np.int64)

    def epoch_plan(self, epoch: int) -> list[list[tuple[int, int]]]:
        """Batches of (task index, unit index) pairs; the same plan for the same (seed, epoch).

        ``task`` batching (the protocol): each batch holds one task, in the strict rotation of
        ``task_schedule``; a task's units come from ``_unit_stream``, so the recommendation tasks
        draw users again as often as their third of the epoch needs. ``mixed`` (a benchmark
        baseline): each task's floor(units/B) batches of samples, shuffled across tasks."""
        rng = np.random.default_rng([self.seed, epoch])
        B = self.cfg.batch_size
        if self.cfg.batching == "mixed":
            pool = []
            for task, n_batches in self.batches_per_task().items():
                t = TASKS.index(task)
                pool += [(t, int(j)) for j in self._unit_stream(rng, task, n_batches * B)]
            order = rng.permutation(len(pool))
            pool = [pool[i] for i in order]
            return [pool[i : i + B] for i in range(0, len(pool), B)]
        schedule = self.task_schedule()
        streams = {task: iter(self._unit_stream(rng, task, schedule.count(task) * B)) for task in self.units}
        plan = []
        for task in schedule:
            t = TASKS.index(task)
            plan.append([(t, int(next(streams[task]))) for _ in range(B)])
        return plan

    # ---- samples ---------------------------------------------------------------------------
    def _negatives(self, rng: np.random.Generator, history: np.ndarray) -> np.ndarray:
        k, C = self.cfg.negatives, len(self.catalogue)
        self._history_mask[history] = True
        try:
            free = C - int(self._history_mask[self.catalogue].sum())
            if free < k:
                raise ValueError(f"only {free} items outside a user's history, {k} negatives configured")
            chosen = np.empty(0, np.int64)
            while len(chosen) < k:
                draw = self.catalogue[rng.integers(0, C, size=2 * k + len(history))]
                draw = draw[~self._history_mask[draw]]
                merged = np.concatenate([chosen, draw])
                _, first = np.unique(merged, return_index=True)
                chosen = merged[np.sort(first)]
            return chosen[:k]
        finally:
            self._history_mask[history] = False

    def training_sample(self, task: int, unit: int, rng: np.random.Generator):
        """(user, prompt text or cached (ids, words), target ids) of one training unit."""
        name = TASKS[task]
        template_idx = int(rng.integers(len(self.templates.train[name])))
        template = self.templates.train[name][template_idx]
        if name == "explanation":
            part = self.data.explanations["train"]
            user, item = int(part["user"][unit]), int(part["item"][unit])
            key = (unit, template_idx)
            prompt = self.prompt_cache.get(key) or fill(template, name, user, item)
            return user, prompt, self.exp_target["train"][unit], key
        if name == "sequential" and self.prefix_users is not None:
            user, end = int(self.prefix_users[unit]), int(self.prefix_ends[unit])
            items = self.data.sequences[user]
            window = items[max(0, end - self.cfg.max_history) : end + 1]
            return user, fill(template, name, user, items=window[:-1]), self.item_target[int(window[-1])], None
        if name == "sequential":
            user = int(self.seq_users[unit])
            items = self.data.sequences[user]
            n_train = len(training_items(items))
            s = int(rng.integers(0, n_train - 1))  # window start, uniform in [0, n_train-2]
            e = int(rng.integers(s + 1, n_train))  # window end (the target), uniform in [s+1, n_train-1]
            window = items[s : e + 1][-(self.cfg.max_history + 1) :]
            return user, fill(template, name, user, items=window[:-1]), self.item_target[int(window[-1])], None
        user = int(self.topn_users[unit])
        items = self.data.sequences[user]
        train_items = training_items(items)
        positive = int(train_items[rng.integers(len(train_items))])
        candidates = rng.permutation(np.concatenate([[positive], self._negatives(rng, items)]))
        return user, fill(template, name, user, items=candidates), self.item_target[positive], None

    def build(self, epoch: int, k: int, entry: list[tuple[int, int]], pin: bool | None = None
              ) -> dict[str, torch.Tensor]:
        """Batch k of epoch ``epoch`` from its plan entry; its randomness is its own (so any process
        builds the same batch). ``pin``: pin its memory (default: as the Batches were set up)."""
        rng = np.random.default_rng([self.seed, epoch, k])
        samples = [self.training_sample(t, j, rng) for t, j in entry]
        inputs: list = [None] * len(samples)
        words: list = [None] * len(samples)
        todo = []
        for b, (_, prompt, _, key) in enumerate(samples):
            if isinstance(prompt, tuple):
                inputs[b], words[b] = prompt
            else:
                todo.append(b)
        if todo:
            ids, ww = encode_with_whole_words(self.tokenizer, [samples[b][1] for b in todo], self.ww)
            for b, x, w in zip(todo, ids, ww):
                inputs[b], words[b] = x, w
                key = samples[b][3]
                if key is not None:  # compact copies: int32 tokens, int16 whole-word ids (< 32768)
                    self.prompt_cache[key] = (x.astype(np.int32), w.astype(np.int16))
        batch = collate(inputs, words, [s[2] for s in samples], [s[0] for s in samples],
                        [t for t, _ in entry], self.pad_multiple)
        return self._pinned(batch) if (self.pin_memory if pin is None else pin) else batch

    @staticmethod
    def _pinned(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {name: t.pin_memory() for name, t in batch.items()}

    def iterate(self, epoch: int, start: int = 0, prefetch: int = 2, workers: int = 0
                ) -> Iterator[tuple[int, dict[str, torch.Tensor]]]:
        """(k, batch) for k = start.., built ``prefetch`` batches ahead in a background thread;
        with ``workers`` > 0 that thread hands the building to as many forked processes (a GPU
        step can outrun one core's batch building) and only pins the results. Every batch is
        the same whoever builds it (``build``)."""
        plan = self.epoch_plan(epoch)
        if prefetch <= 0 and workers <= 0:
            for k in range(start, len(plan)):
                yield k, self.build(epoch, k, plan[k])
            return
        q: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
        stop = threading.Event()

        def produce():
            try:
                for k, batch in (self._built_by_workers(epoch, start, plan, workers, prefetch, stop) if workers > 0
                                 else ((k, self.build(epoch, k, plan[k])) for k in range(start, len(plan)))):
                    if stop.is_set():
                        return
                    q.put((k, batch))
                q.put(None)
            except BaseException as exc:  # surfaced in the consumer
                q.put(exc)

        worker = threading.Thread(target=produce, daemon=True)
        worker.start()
        try:
            while True:
                item = q.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while worker.is_alive():
                try:
                    q.get_nowait()
                except queue.Empty:
                    worker.join(timeout=0.05)

    def _built_by_workers(self, epoch: int, start: int, plan: list, workers: int, prefetch: int,
                          stop: threading.Event) -> Iterator[tuple[int, dict[str, torch.Tensor]]]:
        """(k, batch) in order, built by ``workers`` forked processes at most ``workers + prefetch``
        batches ahead; pinned here when the Batches pin."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        global _FORKED_BATCHES
        _FORKED_BATCHES = self  # read by the forked workers (fork copies it; nothing is pickled)
        ahead = workers + max(1, prefetch)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            pending: dict[int, Any] = {}
            for k in range(start, len(plan)):
                for j in range(k, min(len(plan), k + ahead)):
                    if j not in pending:
                        pending[j] = pool.submit(_build_in_worker, epoch, j, plan[j])
                arrays = pending.pop(k).result()
                if stop.is_set():
                    for future in pending.values():
                        future.cancel()
                    return
                batch = {name: torch.from_numpy(a) for name, a in arrays.items()}
                yield k, self._pinned(batch) if self.pin_memory else batch

    # ---- validation ------------------------------------------------------------------------
    def validation(self) -> "Validation":
        return Validation.build(self)


@dataclass
class Validation:
    """Fixed validation prompts (seeded by ``validation_seed``, the same for every run), tokenized
    once and kept as padded batches; top-n also keeps its 100 candidates per user for scoring."""

    batches: dict[str, list[dict[str, torch.Tensor]]]  # task -> batches (bare template)
    topn_candidates: np.ndarray  # (U, 1 + negatives) candidate item ids, shuffled
    topn_target_index: np.ndarray  # (U,) position of the true item among them
    item_labels: torch.Tensor  # (max item + 1, L) each item's target ids, -100 padded
    targets: dict[str, np.ndarray]  # sequential, topn -> the held-out item of each prompt, in batch order

    @staticmethod
    def sampled_users(data: TaskData, cfg: GeneratorConfig) -> set[int] | None:
        """The users whose prompts the validation loss covers: all (None), or a fixed sample of
        ``validation_users`` stratified by history length, drawn with ``validation_seed``."""
        if cfg.validation_users is None:
            return None
        from peapod.sampling import stratified_sample

        users = np.fromiter(data.sequences, dtype=np.int64)
        lengths = np.asarray([len(history_before(data.sequences[int(u)], "valid")) for u in users], np.int64)
        return set(stratified_sample(users, lengths, cfg.validation_users, cfg.validation_seed).users.tolist())

    @classmethod
    def build(cls, b: Batches, users: int | None = None, tasks: tuple[str, ...] = TASKS, blind: bool = False
              ) -> "Validation":
        """The validation prompts of ``tasks`` for the users of ``validation_users`` (or a fixed
        stratified sample of ``users``, e.g. the per-epoch learning check's). ``blind``: the
        prompt-blind control of top-n (the evaluation's scoring_blind on the validation split):
        each user's own candidates and target, in a prompt written for the next user of the sample
        (user id in the text and in the user prompt)."""
        cfg, data = b.cfg, b.data
        rng = np.random.default_rng(cfg.validation_seed)
        units = [t for t in b.units if t in tasks]
        samples: dict[str, list[tuple[int, str, np.ndarray]]] = {t: [] for t in units}
        targets: dict[str, list[int]] = {"sequential": [], "topn": []}
        cand_rows, target_index = [], []
        keep = cls.sampled_users(data, cfg if users is None else cfg.with_overrides({"validation_users": users}))
        kept = [u for u in data.sequences if keep is None or u in keep]
        prompt_user = dict(zip(kept, kept[1:] + kept[:1])) if blind else dict(zip(kept, kept))
        if "explanation" in units:
            part = data.explanations["valid"]
            for r in range(len(part["user"])):
                user, item = int(part["user"][r]), int(part["item"][r])
                if keep is not None and user not in keep:
                    continue
                prompt = fill(b.templates.eval["explanation"], "explanation", user, item)
                samples["explanation"].append((user, prompt, b.exp_target["valid"][r]))
        for user, items in data.sequences.items():
            if keep is not None and user not in keep:
                continue
            if "sequential" in units and len(items) >= 3:
                history = history_before(items, "valid")[-cfg.max_history :]
                prompt = fill(b.templates.eval["sequential"], "sequential", user, items=history)
                target = int(held_out_target(items, "valid"))
                samples["sequential"].append((user, prompt, b.item_target[target]))
                targets["sequential"].append(target)
            if "topn" in units and user in data.valid_candidates:
                target, negatives = data.valid_candidates[user]
                candidates = rng.permutation(np.concatenate([[target], negatives]))
                other = prompt_user[user]
                prompt = fill(b.templates.eval["topn"], "topn", other, items=candidates)
                samples["topn"].append((other, prompt, b.item_target[target]))
                targets["topn"].append(target)
                cand_rows.append(candidates)
                target_index.append(int(np.flatnonzero(candidates == target)[0]))
        batches = {}
        for task, rows in samples.items():
            if not rows:
                continue
            ids, ww = encode_with_whole_words(b.tokenizer, [r[1] for r in rows], b.ww)
            t = TASKS.index(task)
            batches[task] = [
                collate(ids[i : i + cfg.eval_batch_size], ww[i : i + cfg.eval_batch_size],
                        [r[2] for r in rows[i : i + cfg.eval_batch_size]],
                        [r[0] for r in rows[i : i + cfg.eval_batch_size]],
                        [t] * len(rows[i : i + cfg.eval_batch_size]), b.pad_multiple)
                for i in range(0, len(rows), cfg.eval_batch_size)
            ]
        L = max(len(x) for x in b.item_target if x is not None)
        item_labels = torch.full((len(b.item_target), L), -100, dtype=torch.long)
        for item, x in enumerate(b.item_target):
            if x is not None:
                item_labels[item, : len(x)] = torch.from_numpy(x)
        width = 1 + cfg.negatives
        cands = np.stack(cand_rows) if cand_rows else np.zeros((0, width), np.int64)
        return cls(batches, cands, np.asarray(target_index, np.int64), item_labels,
                   {task: np.asarray(items, np.int64) for task, items in targets.items()})


_FORKED_BATCHES: Batches | None = None  # the Batches a forked loader worker builds from


def _build_in_worker(epoch: int, k: int, entry: list[tuple[int, int]]) -> dict[str, np.ndarray]:
    """Batch k built in a loader worker, as numpy arrays (pickled back; pinned by the parent)."""
    batch = _FORKED_BATCHES.build(epoch, k, entry, pin=False)
    return {name: t.numpy() for name, t in batch.items()}
