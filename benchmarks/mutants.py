"""Mutation check: apply small realistic bugs ("broken copies") one at a time and run the tests that
own each; a mutant the tests still pass is a survivor (docs/development.md, "Mutation check").

    nice -n 15 env PYTHONPATH=src .venv/bin/python benchmarks/mutants.py [--only NAME ...] [--list]
        [--timeout 600]

Each mutant is (file, the exact original snippet, its replacement, the owning test node ids). The
tree's tracked and untracked-but-not-ignored files are copied once into a temporary directory; each
mutant is applied to that copy (never to the working tree), its tests are run there with the copy's
``src`` first on the path, and the file is restored. A snippet found zero times or more than once
is reported as "stale" (the code moved on; mend the entry), never silently skipped. Exit status: 0
when every mutant is caught, 1 otherwise. Not part of CI: about 15 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str  # relative to the repository root
    original: str  # must occur exactly once in the file
    replacement: str
    tests: tuple[str, ...]  # pytest node ids (files or single tests) that own this code


G = "src/peapod/generator/"
R = "tests/test_recipe_routes.py"
INV = "tests/test_scoring_invariants.py::"
MUTANTS = [
    # ---- issue 39's eight survivors ------------------------------------------------------------
    Mutant("copy head reads beams prompt-minor", G + "copy_head.py",
           "hidden = hidden.float().reshape(B, -1, hidden.shape[-1])",
           "hidden = hidden.float().reshape(-1, B, hidden.shape[1], hidden.shape[-1]).transpose(0, 1)"
           ".reshape(B, -1, hidden.shape[-1])",
           (INV + "test_beam_scores_equal_the_exact_score_of_the_returned_sequence",)),
    Mutant("grouped scoring copies from the whole batch", G + "model.py",
           "with self.copying_from(source.rows(slice(b0, b1)) if source is not None else None):",
           "with self.copying_from(source):",
           (INV + "test_scoring_split_into_groups_equals_unsplit_scoring_with_the_copy_head",)),
    Mutant("restricted beams index candidates within the batch", "src/peapod/evaluation/evaluate.py",
           "np.stack([candidate_rows[i] for i in rows])",
           "np.stack([candidate_rows[i] for i in range(len(rows))])",
           ("tests/test_evaluate.py::test_beams_restricted_to_candidates_are_each_users_own_candidates_across_batches",)),
    Mutant("validation top-n scoring never moves on", G + "validation.py",
           "        offset += B\n    return torch.cat(rows)",
           "    return torch.cat(rows)",
           (INV + "test_validation_scores_read_each_users_own_candidates_across_batches",)),
    Mutant("copy attention scaled by sqrt(d)", G + "copy_head.py",
           "self.scale = d_model ** -0.5", "self.scale = d_model ** 0.5",
           (INV + "test_copy_head_is_the_pointer_generator_formula_by_hand",)),
    Mutant("an edited pairs file keeps its request name", "src/peapod/evaluation/recommend_request.py",
           "content[key] = everything if entry is None else entry[\"sha256\"] or f\"missing {entry['path']}\"",
           "content[key] = everything if entry is None else (entry[\"sha256\"] if key == \"users\" else "
           "entry[\"path\"]) or f\"missing {entry['path']}\"",
           ("tests/test_recommend_request.py::test_an_edited_pairs_file_is_a_new_request",)),
    Mutant("validation loss divides by padding too", G + "validation.py",
           "            count += keep.sum()", "            count += keep.numel()",
           (INV + "test_validation_loss_is_the_mean_over_real_target_tokens",)),
    Mutant("a missing file's hash ignores its path", "src/peapod/evaluation/recommend_request.py",
           "or f\"missing {entry['path']}\"", "or \"missing\"",
           ("tests/test_recommend_request.py::test_missing_files_at_different_paths_are_different_requests",)),
    # ---- metrics -------------------------------------------------------------------------------
    Mutant("NDCG discounts by log2(rank + 1)", "src/peapod/metrics.py",
           "return 1.0 / math.log2(rank + 2) if", "return 1.0 / math.log2(rank + 1.5) if",
           ("tests/test_eval_metrics.py",)),
    Mutant("HR counts rank k as a hit", "src/peapod/metrics.py",
           "return 1.0 if rank is not None and rank < k else 0.0",
           "return 1.0 if rank is not None and rank <= k else 0.0", ("tests/test_eval_metrics.py",)),
    Mutant("ties break for the truth", "src/peapod/metrics.py",
           "ahead = np.sum(scores > truth_score) + np.sum(scores == truth_score) - 1",
           "ahead = np.sum(scores > truth_score)", ("tests/test_eval_metrics.py",)),
    Mutant("score-matrix ranks count the truth as its own tie", "src/peapod/metrics.py",
           "tied = (scores == truth).sum(axis=1) - 1", "tied = (scores == truth).sum(axis=1)",
           ("tests/test_eval_metrics.py",)),
    Mutant("mean HR@k counts rank k", "src/peapod/metrics.py",
           "out[f\"hr@{k}\"] = float(np.mean(ranks < k))", "out[f\"hr@{k}\"] = float(np.mean(ranks <= k))",
           ("tests/test_eval_metrics.py",)),
    # ---- splits and negatives ------------------------------------------------------------------
    Mutant("validation history includes its target", "src/peapod/splits.py",
           "return items[: len(items) - held_out_offset(split)]",
           "return items[: len(items) - held_out_offset(split) + (split == \"valid\")]",
           ("tests/test_generator.py::test_samplers_follow_the_protocol", "tests/test_p5_formats.py")),
    Mutant("training sees the validation item", "src/peapod/splits.py",
           "return items[: len(items) - N_HELD_OUT]", "return items[: len(items) - N_HELD_OUT + 1]",
           ("tests/test_generator.py::test_samplers_follow_the_protocol", "tests/test_p5_formats.py")),
    Mutant("negatives may be the user's own items", "src/peapod/data/tables.py",
           "                if item not in history:\n", "                if True:\n",
           ("tests/test_p5_formats.py",)),
    # ---- beams and ids -------------------------------------------------------------------------
    Mutant("beam lists drop invalid ids", G + "decoding.py",
           "return [[int(i) if k else None for i, k in zip(row, keep)] for row, keep in zip(self.ids, ok)]",
           "return [[int(i) for i, k in zip(row, keep) if k] for row, keep in zip(self.ids, ok)]",
           ("tests/test_evaluate.py",)),
    Mutant("a beam cut off before EOS reads as an id", G + "decoding.py",
           "        if eos not in seq:\n            out[n] = UNFINISHED\n            continue\n",
           "        if eos not in seq:\n            seq = seq + [eos]\n",
           ("tests/test_evaluate.py::test_a_beam_cut_off_before_eos_is_no_id",)),
    Mutant("ids with leading zeros are read", G + "decoding.py",
           "return is_id_token(text) and len(text) < 19 and text == str(int(text))",
           "return is_id_token(text) and len(text) < 19",
           ("tests/test_from_scratch_switches.py::test_generated_text_reads_as_an_item_only_in_its_own_indexing",)),
    Mutant("candidate paths repeated prompt-minor", G + "decoding.py",
           "self.paths = paths.repeat_interleave(num_beams, 0)", "self.paths = paths.repeat(num_beams, 1, 1)",
           ("tests/test_evaluate.py::test_candidate_paths_restrict_beams_exactly_as_the_trie",)),
    Mutant("whole-word ids count from 0", G + "tokenization.py",
           "out[hit] = np.minimum(k[hit] + 1, size - 1)", "out[hit] = np.minimum(k[hit], size - 1)",
           ("tests/test_generator.py::test_whole_word_ids_follow_the_id_words",)),
    Mutant("exact scoring ranks against another row's target", "src/peapod/evaluation/evaluate.py",
           "ranks[i] = rank_from_scores(scores[j], target_index[i])",
           "ranks[i] = rank_from_scores(scores[j], target_index[j])",
           ("tests/test_evaluate.py::test_exact_scoring_ranks_each_users_own_target_across_batches",)),
    # ---- neighbours and statistics -------------------------------------------------------------
    Mutant("a user is its own neighbour", "src/peapod/neighbors.py",
           "        sim[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # the user itself\n", "",
           ("tests/test_neighbors.py",)),
    Mutant("paired t-test reversed", "src/peapod/aggregate/stats.py",
           "res = stats.ttest_rel(xa, xb)", "res = stats.ttest_rel(xb, xa)", ("tests/test_aggregate.py",)),
    Mutant("Holm without the step-down", "src/peapod/aggregate/stats.py",
           "adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))",
           "adjusted = np.minimum(1.0, np.maximum.accumulate(m * p[order]))", ("tests/test_aggregate.py",)),
    # ---- model, loss, scoring ------------------------------------------------------------------
    Mutant("training loss divides by padding too", G + "model.py",
           "return -log_probs.masked_fill(~keep, 0.0).sum() / keep.sum()",
           "return -log_probs.masked_fill(~keep, 0.0).sum() / keep.numel()",
           ("tests/test_lean_t5.py::test_training_losses_and_gradients_equal_hugging_faces_forward",)),
    Mutant("copy head gate swapped", G + "copy_head.py",
           "probs = gate * torch.softmax(vocab_logits.reshape(B, rT, V), dim=-1) + (1.0 - gate) * copied",
           "probs = (1.0 - gate) * torch.softmax(vocab_logits.reshape(B, rT, V), dim=-1) + gate * copied",
           ("tests/test_from_scratch_switches.py::test_copy_head_is_the_stated_mixture",)),
    Mutant("copy head copies padding", G + "copy_head.py",
           "        scores = scores.masked_fill(~source.copyable[:, None, :], torch.finfo(scores.dtype).min)\n", "",
           (INV + "test_copy_head_is_the_pointer_generator_formula_by_hand",)),
    Mutant("copy head's target-only copied mass reads the wrong token", G + "copy_head.py",
           "copied = (attention * (source.token_ids[:, None, :] == flat[:, :, None])).sum(-1)",
           "copied = (attention * (source.token_ids[:, None, :] != flat[:, :, None])).sum(-1)",
           ("tests/test_lean_t5.py::test_training_losses_and_gradients_equal_hugging_faces_forward",)),
    Mutant("packed candidates attend across blocks", G + "model.py",
           "allowed = (block[:, None] == block[None, :]) & (position[None, :] <= position[:, None])",
           "allowed = position[None, :] <= position[:, None]",
           ("tests/test_generator.py::test_candidate_scoring_matches_a_full_forward_per_candidate",)),
    Mutant("packed decoder inputs not shifted", G + "model.py",
           "decoder_inputs = torch.cat([start, tokens[:, :, :-1].masked_fill(~keep[:, :, :-1], 0)], dim=2)",
           "decoder_inputs = tokens.masked_fill(~keep, 0)",
           ("tests/test_generator.py::test_candidate_scoring_matches_a_full_forward_per_candidate",)),
    Mutant("pads counted in the loss by default", G + "model.py",
           "        if not self.cfg.mask_pad_in_loss:\n", "        if self.cfg.mask_pad_in_loss:\n",
           ("tests/test_generator.py::test_padding_changes_nothing_and_pads_are_out_of_the_loss",)),
    Mutant("prompt positions masked out of the encoder", G + "model.py",
           "ones = torch.ones(mask.shape[0], prompt.shape[1], dtype=mask.dtype, device=mask.device)",
           "ones = torch.zeros(mask.shape[0], prompt.shape[1], dtype=mask.dtype, device=mask.device)",
           ("tests/test_generator.py::test_encoder_input_shapes_and_masks",)),
    Mutant("user prompt attention scaled by sqrt(d)", G + "model.py",
           "att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)",
           "att = torch.softmax(q @ k.transpose(-1, -2) * math.sqrt(dh), dim=-1)",
           ("tests/test_generator.py::test_user_prompt_attention_runs_in_the_models_width",)),
    Mutant("combined attention mask rebuilt in every layer", G + "attention.py",
           "if cached is not None and cached[0]() is position_bias", "if False and cached[0]() is position_bias",
           ("tests/test_training_speed.py::test_combined_mask_is_built_once_per_stack",)),
    Mutant("combined attention mask lets padding through", G + "attention.py",
           "        combined = additive_bias(position_bias, mask, dtype)\n",
           "        combined = position_bias.to(dtype)\n",
           ("tests/test_training_speed.py::test_combined_mask_is_built_once_per_stack",)),
    Mutant("lean decoder output not scaled for tied embeddings", G + "lean_t5.py",
           "    if scales_decoder_outputs(t5.config):\n", "    if False:\n",
           ("tests/test_lean_t5.py::test_training_losses_and_gradients_equal_hugging_faces_forward",)),
    Mutant("lean encoder skips the embeddings' dropout", G + "lean_t5.py",
           "hidden = F.dropout(inputs_embeds, stack.dropout.p, training)", "hidden = inputs_embeds",
           ("tests/test_lean_t5.py::test_dropout_draws_the_same_masks_as_hugging_face",)),
    Mutant("copy head tempers the vocabulary's softmax", G + "copy_head.py",
           "probs = gate * torch.softmax(vocab_logits.reshape(B, rT, V), dim=-1) + (1.0 - gate) * copied",
           "probs = gate * torch.softmax(vocab_logits.reshape(B, rT, V) / 2, dim=-1) + (1.0 - gate) * copied",
           ("tests/test_from_scratch_switches.py::test_copy_head_is_the_stated_mixture",)),
    Mutant("learning check's seconds are a clock reading", G + "validation.py",
           'out["curve_seconds"] = time.perf_counter() - start', 'out["curve_seconds"] = time.perf_counter()',
           ("tests/test_generator_training.py::test_learning_curves_are_logged_each_epoch_and_read_as_the_evaluation_reads",)),
    Mutant("learning check never moves on", G + "validation.py",
           "            offset += n\n", "",
           (INV + "test_learning_check_reads_each_users_own_target_across_batches",)),
    # issue 38's recipe routes (every prefix, the CF start) and the recipe check's measurements
    Mutant("a prefix sample takes the item after its target", G + "data.py",
           "window = items[max(0, end - self.cfg.max_history) : end + 1]",
           "window = items[max(0, end - self.cfg.max_history) : end + 2]",
           (R + "::test_a_prefix_sample_is_the_items_before_its_target",)),
    Mutant("prefix epochs keep the strict rotation", G + "data.py",
           'if self.cfg.sequential_units == "prefixes":', "if False:",
           (R + "::test_prefix_schedule_gives_each_task_its_own_batches_spread_evenly",)),
    Mutant("the CF start keeps the factors' own scale", G + "item_init.py",
           "table.weight[index] = torch.as_tensor(rows * scale", "table.weight[index] = torch.as_tensor(rows * 1.0",
           (R + "::test_item_tokens_start_from_the_cf_factors_and_other_rows_do_not_move",)),
    Mutant("the prompt-blind control keeps each user's own prompt", G + "data.py",
           "kept[1:] + kept[:1])) if blind", "kept)) if blind",
           (R + "::test_blind_validation_prompts_are_the_next_users_with_own_candidates",)),
    Mutant("the blind figure is read from the user's own scores", G + "recipe_check.py",
           "blind_ranks = ranks_from_score_matrix(score_topn(model, blind",
           "blind_ranks = ranks_from_score_matrix(score_topn(model, own",
           (R + "::test_prompt_signal_pairs_the_same_users_and_is_zero_against_itself",)),
    Mutant("most popular counts the held-out items too", G + "recipe_check.py",
           "np.add.at(counts, np.asarray(training_items(items), np.int64), 1)",
           "np.add.at(counts, np.asarray(items, np.int64), 1)",
           (R + "::test_most_popular_on_the_given_users_only_by_hand",)),
    # ---- paired tests over users (peapod.aggregate.user_tests) -----------------------------------
    Mutant("user tests read the first shared seed only", "src/peapod/aggregate/user_tests.py",
           "frame = pd.concat([per_seed[s] for s in seeds], axis=1, join=\"inner\")\n    return frame.mean(axis=1)",
           "return per_seed[seeds[0]]",
           ("tests/test_user_tests.py",)),
    Mutant("one-sided p on the wrong side", "src/peapod/aggregate/user_tests.py",
           "one_sided = res.pvalue / 2 if res.statistic > 0 else 1 - res.pvalue / 2",
           "one_sided = res.pvalue / 2",
           ("tests/test_user_tests.py",)),
    Mutant("a user's rows counted as users", "src/peapod/aggregate/user_tests.py",
           "long = long.groupby([\"task\", \"method\", \"metric\", \"user_id\"], sort=False)[\"value\"].mean().reset_index()",
           "long = long.drop_duplicates([\"task\", \"method\", \"metric\", \"user_id\"])",
           ("tests/test_user_tests.py",)),
    Mutant("prompt-blind control compared with itself", "src/peapod/aggregate/user_tests.py",
           "(dataset, variant, task, \"scoring_blind\", metric), scores))",
           "(dataset, variant, task, \"scoring\", metric), scores))",
           ("tests/test_user_tests.py",)),
]


def tree_files(root: Path) -> list[str]:
    """Tracked files and untracked ones git does not ignore (the tree as it is being changed)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                         check=True, capture_output=True).stdout
    return [name for name in out.decode().split("\0") if name and (root / name).is_file()]


def copy_tree(root: Path, dest: Path) -> None:
    for name in tree_files(root):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)


def run_mutant(mutant: Mutant, tree: Path, timeout: float) -> tuple[str, float, str]:
    """(caught | survived | stale | timeout, seconds, a line of detail) of one mutant on ``tree``."""
    path = tree / mutant.file
    original = path.read_text()
    found = original.count(mutant.original)
    if found != 1:
        return "stale", 0.0, f"snippet found {found} times in {mutant.file}"
    path.write_text(original.replace(mutant.original, mutant.replacement))
    env = {**os.environ, "PYTHONPATH": str(tree / "src") + os.pathsep + str(tree)}
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-n", "0", "-p", "no:cacheprovider", "-x", "-q",
                               *mutant.tests], cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - start, f"no verdict within {timeout:.0f} s"
    finally:
        path.write_text(original)
    seconds = time.perf_counter() - start
    if proc.returncode == 0:
        return "survived", seconds, "the owning tests pass"
    if proc.returncode in (1,):
        lines = proc.stdout.splitlines()
        failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))][:1]
        why = [line.strip() for line in lines if line.startswith("E ")][:1]  # the assertion's first line
        return "caught", seconds, "\n".join(failed + why)[:400] or "tests failed"
    return "error", seconds, f"pytest exit {proc.returncode}: {proc.stdout[-300:]!r}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="names (or parts of names) of the mutants to run")
    parser.add_argument("--list", action="store_true", help="list the mutants and their tests, run nothing")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per mutant's test run")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.only or any(part in m.name for part in args.only)]
    if args.list:
        for m in chosen:
            print(f"{m.name}\n    {m.file}\n    " + "\n    ".join(m.tests))
        return 0
    results = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="peapod-mutants-") as tmp:
        tree = Path(tmp)
        copy_tree(ROOT, tree)
        for m in chosen:
            verdict, seconds, detail = run_mutant(m, tree, args.timeout)
            results.append((m, verdict))
            print(f"{verdict:9s} {seconds:6.1f} s  {m.name}  ({m.file})\n{'':19s}{detail}", flush=True)
    counts = {v: sum(1 for _, r in results if r == v) for v in ("caught", "survived", "stale", "timeout", "error")}
    print(f"\n{len(results)} mutants in {time.perf_counter() - start:.0f} s: "
          + ", ".join(f"{n} {v}" for v, n in counts.items() if n))
    return 0 if counts["caught"] == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
