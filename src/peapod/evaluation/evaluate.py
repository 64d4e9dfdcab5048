"""Evaluate one trained run on sequential recommendation, top-n recommendation and explanation
generation, with per-user results.

* Sequential: beam search over the whole catalogue, ``beams`` wide; the list is the ``top_k``
  best returned sequences, as the released code asks ``generate`` for (peapod.generator.decoding):
  a sequence is an item only if its beam ended with EOS and it spells a catalogue id; anything
  else is a miss that keeps its place, never refilled from lower beams nor replaced by a random
  item (as the released code did). By default decoding is free, as in the paper;
  ``constrained`` restricts every step with a prefix trie of the catalogue's ids instead.
* Top-n: the 100 candidates (target + 99 fixed negatives, shuffled with a seed per user) in the
  prompt, by up to four methods, each reported under its own name:
  ``beam`` (the paper's: free beam search, read as above; an id outside the candidates takes
  its place in the list), ``beam_candidates`` (beams restricted to the user's 100 candidates),
  ``scoring`` (all 100 ranked by teacher-forced log-likelihood; ties count against the target)
  and ``scoring_blind`` (the same, each user's candidates under the next user's prompt: a control
  that shows how much of ``scoring`` comes from item priors alone). Only ``beam`` measures what
  the paper measured.
* Beam diagnostics per user (peapod.metrics.BEAM_DIAGNOSTICS) beside the ranking metrics of every
  beam method: the shares of returned sequences that finished, spell an id, are catalogue items
  and (top-n) are among the prompt's candidates.
* Explanation: beam search with ``explanation_beams`` beams, min/max length as in the protocol.
  The protocol's 21 beams in 3 groups with no diversity penalty is the same search as 7 beams:
  without a penalty the groups evolve identically, so the best hypothesis is the 7-beam one.
  BLEU-4 and ROUGE-1/2/L (x100, whitespace tokens), scored ``standard`` (full reference text,
  rouge-score F1; method ``beam``) and/or as the ``reference`` code scored them (reference cut to
  the training target's tokens and decoded, n-gram-set ROUGE, ROUGE-L with beta = P/R; method
  ``beam_reference``).

The settings and the held-out data are peapod.evaluation.inputs', the step on files (load a run,
evaluate, write its outputs) peapod.evaluation.stage'; both are re-exported here.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch

from peapod.evaluation.inputs import (  # noqa: F401 (re-exported: the settings and data, as before the split)
    EXPLANATION_SCORING, TOPN_METHODS, EvalData, EvalSettings,
)
from peapod.evaluation.stage import (  # noqa: F401 (re-exported: the step on files, as before the split)
    evaluate_run, evaluate_run_directory, evaluate_run_files,
)
from peapod.evaluation.text_metrics import bleu4, mean_rows, per_pair_rouge, reference_style_rouge
from peapod.evaluation.trie import ItemTrie
from peapod.generator.config import TASKS
from peapod.generator.data import collate, fill
from peapod.generator.decoding import UNFINISHED, BeamLists, beam_diagnostics, beam_lists, lookup_table
from peapod.generator.tokenization import encode_with_whole_words, explanation_targets, item_target_texts
from peapod.generator.runtime import autocast, to_device
from peapod.metrics import rank_from_scores, rank_in_list, task_ranking_metrics
from peapod.progress import Progress
from peapod.splits import held_out_target, history_before

log = logging.getLogger(__name__)

CANDIDATE_SHUFFLE_SEED = 2022  # fixed order of each user's 100 candidates in the top-n prompt


class RunEvaluator:
    """Holds a trained model, its tokenizer and the item-id tries; evaluates each task."""

    def __init__(self, model, tokenizer, templates, settings: EvalSettings, catalogue: np.ndarray,
                 device: torch.device | str = "cpu", phase: str | None = None):
        self.model = model.eval()
        self.phase = phase or settings.split  # what the progress lines say is being done
        self.tokenizer = tokenizer
        self.templates = templates
        self.s = settings
        self.device = torch.device(device)
        self.cfg = model.cfg
        self.eos = tokenizer.eos_token_id
        self.start = model.t5.config.decoder_start_token_id
        ids = tokenizer(item_target_texts(catalogue, self.cfg.item_tokens))["input_ids"]
        self.item_tokens = {int(i): [t for t in toks if t != self.eos] for i, toks in zip(catalogue, ids)}
        self.catalogue_trie = ItemTrie(self.item_tokens, self.eos)
        self.in_catalogue = lookup_table(catalogue)  # id -> is a catalogue item
        self.max_item_len = max(len(t) for t in self.item_tokens.values()) + 1
        # (max item + 1, L): each item's target ids with the end token, -100 padded (for scoring)
        self.item_labels = torch.full((int(max(self.item_tokens)) + 1, self.max_item_len), -100, dtype=torch.long)
        for item, toks in self.item_tokens.items():
            self.item_labels[item, : len(toks) + 1] = torch.as_tensor(toks + [self.eos])

    # ---- batching ---------------------------------------------------------------------------
    def _encode(self, prompts: list[str]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Token and whole-word ids of every prompt, once per task (the top-n methods share them)."""
        if not prompts:
            return [], []
        ids, ww = encode_with_whole_words(self.tokenizer, prompts, self.cfg.whole_word_size)
        return list(ids), list(ww)

    def _batches(self, task: str, users: list[int], encoded, label: str):
        """(row indices, batch) with prompts batched by token length (longest first; little
        padding), and a progress line at least every ``progress_seconds`` and at the end."""
        ids, ww = encoded
        t = TASKS.index(task)
        order = sorted(range(len(ids)), key=lambda i: (-len(ids[i]), i))
        progress = Progress(log, f"{label} ({self.phase})", len(order), "users", 0, self.s.progress_seconds)
        for s in range(0, len(order), self.s.batch_size):
            rows = order[s : s + self.s.batch_size]
            dummy = [np.asarray([self.eos])] * len(rows)
            batch = collate([ids[i] for i in rows], [ww[i] for i in rows], dummy, [users[i] for i in rows],
                            [t] * len(rows))
            batch.pop("labels")
            yield rows, to_device(batch, self.device)
            progress.update(len(rows))

    def _beam_lists(self, batch, trie_of_row=None, candidate_paths: torch.Tensor | None = None) -> BeamLists:
        """The ``top_k`` best of ``beams`` returned sequences per row, read as ids (see
        peapod.generator.decoding). ``trie_of_row(row)`` gives a row's trie for constrained beams,
        ``candidate_paths`` each row's candidates' token paths; neither decodes freely."""
        allowed = self._allowed_fn(trie_of_row) if trie_of_row is not None else None
        with autocast(self.device):
            return beam_lists(self.model, batch, self.tokenizer, self.s.beams, self.s.top_k, self.max_item_len,
                              allowed, self.cfg.item_tokens, candidate_paths)

    def _allowed_fn(self, trie_of_row):
        start = self.start

        def allowed(batch_id: int, input_ids) -> list[int]:
            ids = input_ids.tolist()
            if ids and ids[0] == start:
                ids = ids[1:]
            return trie_of_row(batch_id).allowed(ids)

        return allowed

    # ---- tasks ------------------------------------------------------------------------------
    def sequential(self, data: EvalData) -> pd.DataFrame:
        users = sorted(data.sequences)[: self.s.max_users]
        prompts, targets, history = [], [], []
        for u in users:
            items = data.sequences[u]
            before = history_before(items, self.s.split)
            prompts.append(fill(self.templates.eval["sequential"], "sequential", u, items=before[-self.cfg.max_history :]))
            targets.append(int(held_out_target(items, self.s.split)))
            history.append(len(before))
        trie = (lambda row: self.catalogue_trie) if self.s.constrained else None
        beams = self._beam_rows("sequential", users, self._encode(prompts), "sequential beam", trie)
        ranked = beams.ranked(self.in_catalogue)
        diagnostics = beam_diagnostics(beams, self.in_catalogue)
        ranks = [rank_in_list(items, target) for items, target in zip(ranked, targets)]
        return self._rank_rows("sequential", users, ranks, history, "beam", diagnostics)

    def _beam_rows(self, task: str, users: list[int], encoded, label: str, trie_of_row=None,
                   candidate_rows: list[np.ndarray] | None = None) -> BeamLists:
        """Beam lists of every prompt, in the prompts' order. ``trie_of_row(i)`` gives prompt i's
        trie (constrained beams); ``candidate_rows[i]`` restricts prompt i's beams to those items
        (tensor operations, ``decoding.CandidatePaths``); neither decodes freely."""
        ids = np.full((len(users), self.s.top_k), UNFINISHED, np.int64)
        for rows, batch in self._batches(task, users, encoded, label):
            row_trie = None if trie_of_row is None else (lambda r, rows=rows: trie_of_row(rows[r]))
            paths = None
            if candidate_rows is not None:
                paths = self.item_labels[torch.as_tensor(np.stack([candidate_rows[i] for i in rows]))]  # (b, C, L)
            ids[rows] = self._beam_lists(batch, row_trie, paths).ids
        return BeamLists(ids)

    def _topn_inputs(self, data: EvalData):
        cands = data.candidates.iloc[: self.s.max_users]
        users, prompts, rows, target_index, history = [], [], [], [], []
        for u, target, negatives in zip(cands["user_id"], cands["target"], cands["negatives"]):
            u = int(u)
            rng = np.random.default_rng([CANDIDATE_SHUFFLE_SEED, u])
            candidates = rng.permutation(np.concatenate([[int(target)], np.asarray(negatives, np.int64)]))
            users.append(u)
            prompts.append(fill(self.templates.eval["topn"], "topn", u, items=candidates))
            rows.append(candidates)
            target_index.append(int(np.flatnonzero(candidates == int(target))[0]))
            history.append(len(history_before(data.sequences[u], self.s.split)))
        return users, prompts, rows, target_index, history

    def topn(self, data: EvalData) -> pd.DataFrame:
        users, prompts, cand_rows, target_index, history = self._topn_inputs(data)
        encoded = self._encode(prompts)
        targets = [int(c[t]) for c, t in zip(cand_rows, target_index)]
        frames = []
        for method in self.s.topn_methods:
            if method == "scoring":
                ranks = self._score_topn(users, encoded, cand_rows, target_index, "top-n scoring")
                frames.append(self._rank_rows("topn", users, ranks, history, method))
            elif method == "scoring_blind":
                # Prompt-blind control: each user's own candidates, scored under another user's
                # prompt (id and collaborative prompt); what survives comes from item priors alone.
                others = np.roll(np.asarray(users), -1).tolist()
                blind = [fill(self.templates.eval["topn"], "topn", o, items=c) for o, c in zip(others, cand_rows)]
                ranks = self._score_topn(others, self._encode(blind), cand_rows, target_index, "top-n scoring_blind")
                frames.append(self._rank_rows("topn", users, ranks, history, method))
            else:  # beam: the paper's, free decoding; beam_candidates: beams restricted to the candidates
                beams = self._beam_rows("topn", users, encoded, f"top-n {method}",
                                        candidate_rows=cand_rows if method == "beam_candidates" else None)
                ranks = [rank_in_list(items, t) for items, t in zip(beams.ranked(self.in_catalogue), targets)]
                frames.append(self._rank_rows("topn", users, ranks, history, method,
                                              beam_diagnostics(beams, self.in_catalogue, cand_rows)))
        return pd.concat(frames, ignore_index=True)

    def _score_topn(self, users, encoded, cand_rows, target_index, label: str) -> list[int]:
        """Rank of each prompt's target among its candidates by exact teacher-forced scoring."""
        ranks = [0] * len(users)
        for rows, batch in self._batches("topn", users, encoded, label):
            labels = self.item_labels[torch.as_tensor(np.stack([cand_rows[i] for i in rows]))]  # (b, C, L)
            with autocast(self.device):
                scores = self.model.score_candidates(batch, labels.to(self.device),
                                                     self.s.scoring_memory_mib).cpu().numpy()
            for j, i in enumerate(rows):
                ranks[i] = rank_from_scores(scores[j], target_index[i])
        return ranks

    @staticmethod
    def _rank_rows(task, users, ranks, history, method, diagnostics: dict[str, np.ndarray] | None = None
                   ) -> pd.DataFrame:
        frame = pd.DataFrame([
            {"user_id": u, "task": task, "method": method, "rank": r, "history_length": h,
             **task_ranking_metrics(r, task)}
            for u, r, h in zip(users, ranks, history)
        ])
        for name, values in (diagnostics or {}).items():
            frame[name] = values
        return frame

    def explanation(self, data: EvalData) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, dict[str, float]]]:
        """(per-user ROUGE rows per scoring method, generated texts beside references, corpus
        metrics per method)."""
        exp = data.explanations.iloc[: self.s.max_users]
        users = [int(u) for u in exp["user_id"]]
        items = [int(i) for i in exp["item_id"]]
        generated = self.generate_explanations(users, items)
        references = {"standard": [str(t) for t in exp["explanation"]]}
        references["reference"] = self.targets_as_trained(references["standard"])
        texts = pd.DataFrame({"user_id": users, "item_id": items, "reference": references["standard"],
                              "reference_as_trained": references["reference"], "generated": generated})
        history = data.history_lengths(users, self.s.split).tolist()
        frames, corpus = [], {}
        for style in self.s.explanation_scoring:
            method, refs = EXPLANATION_SCORING[style], references[style]
            rows = per_pair_rouge(refs, generated) if style == "standard" else reference_style_rouge(refs, generated)
            frames.append(pd.DataFrame([{"user_id": u, "task": "explanation", "method": method, "history_length": h, **r}
                                        for u, h, r in zip(users, history, rows)]))
            if refs:
                corpus[method] = {"bleu4": bleu4(refs, generated), **mean_rows(rows)}
        return pd.concat(frames, ignore_index=True), texts, corpus

    def generate_explanations(self, users: list[int], items: list[int]) -> list[str]:
        """The explanation beam search's text for each (user, item) pair, in the pairs' order."""
        prompts = [fill(self.templates.eval["explanation"], "explanation", u, i) for u, i in zip(users, items)]
        generated: list[str] = [""] * len(users)
        for rows, batch in self._batches("explanation", users, self._encode(prompts), "explanation beam"):
            with autocast(self.device):
                out = self.model.generate(
                    batch, num_beams=self.s.explanation_beams, num_return_sequences=1, do_sample=False,
                    min_length=self.s.explanation_min_length, max_length=self.s.explanation_max_length,
                    early_stopping=True,
                ).cpu()
            for i, text in zip(rows, self.tokenizer.batch_decode(out, skip_special_tokens=True)):
                generated[i] = text.strip()
        return generated

    def targets_as_trained(self, texts: list[str]) -> list[str]:
        """Each reference as the model was trained to produce it: its first ``explanation_length``
        backbone tokens (peapod.generator.tokenization.explanation_targets), decoded (the released
        code's scoring target)."""
        if not texts:
            return []
        ids = explanation_targets(self.tokenizer, texts, self.cfg.explanation_length)
        return [t.strip() for t in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]
