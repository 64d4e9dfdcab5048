"""Recipe probe for the CPU generator on a real dataset, on the VALIDATION split: train one run of a
config's variant for a budget of training samples, then measure what the ladder of issue 38 asks,
on a fixed sample of validation users (1,000 by default: enough to see a 0.03 HR@10 difference).

The final measurement, on the same users:
- top-n HR@10 and NDCG@10 by exact scoring of the 100 candidates, and by the same scoring under the
  next user's prompt (the prompt-blind control), with the paired difference of per-user NDCG@10
  and a one-sided paired t-test (does the user prompt carry signal?);
- top-n and sequential HR@10 by free beam search (20 beams, the 10 best returned sequences), the
  share of top-n beams inside the prompt's candidates;
- most popular on the same users (top-n: the candidates ranked by training count; sequential: the
  catalogue ranked by training count), so every number reads against it.
On the way, every ``--every-samples`` samples: the mean training loss, the validation loss and the
learning check of the study's curves on ``--curve-users`` users.

Settings: the config's ``generator`` section with the variant's overrides (the workflow's own
settings_of_run), then ``--overrides`` (JSON), trained by the workflow's own session and step
(peapod.generator.train), one torch thread. The learning-rate schedule is the config's (its epochs),
so ``--samples`` below a full run stops before the schedule ends (the output says so). The data
stage must have run, and the CF stages for PeaPOD/MLP or ``item_init: cf``. Example
(docs/results/beauty-cpu.md, "Recipe probes"):

    python benchmarks/probe_generator_recipe.py --config config/beauty_cpu.yaml --variant peapod \\
        --overrides '{"epochs": 4}' --tag peapod-e4 --out probes.jsonl
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from scipy import stats

from peapod.generator.collab import load_collaborative_inputs
from peapod.generator.config import TASKS, settings_of_run
from peapod.generator.data import TaskData, Templates, Validation
from peapod.generator.train import (fresh_model, learning_check, load_item_factors, open_session, score_topn,
                                    train_step, validation_losses)
from peapod.metrics import ranks_from_score_matrix
from peapod.splits import training_items

REPO = Path(__file__).resolve().parents[1]
K = 10  # HR@10 / NDCG@10, the ladder's cut-off


def per_user_at_k(ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hit@K, NDCG@K) per user from 0-based ranks."""
    ranks = np.asarray(ranks, np.float64)
    hit = ranks < K
    return hit.astype(np.float64), np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0)


def most_popular_on(data: TaskData, final: Validation) -> dict[str, float]:
    """Most popular on the probe's users: counts over every user's training items (pessimistic ties)."""
    counts = np.zeros(int(data.catalogue.max()) + 1, np.int64)
    for items in data.sequences.values():
        np.add.at(counts, np.asarray(training_items(items), np.int64), 1)
    cands = final.topn_candidates
    topn_ranks = ranks_from_score_matrix(counts[cands].astype(np.float64), final.topn_target_index)
    ordered = np.sort(counts[data.catalogue])
    seq_targets = final.targets["sequential"]
    seq_ranks = len(ordered) - np.searchsorted(ordered, counts[seq_targets], side="left") - 1
    return {"topn_hr10": float(per_user_at_k(topn_ranks)[0].mean()),
            "topn_ndcg10": float(per_user_at_k(topn_ranks)[1].mean()),
            "sequential_hr10": float(per_user_at_k(seq_ranks)[0].mean())}


def prompt_signal(model, final: Validation, blind: Validation, dev) -> dict[str, float]:
    """Exact top-n scoring against its prompt-blind control, paired over the same users."""
    own = ranks_from_score_matrix(score_topn(model, final, dev), final.topn_target_index)
    other = ranks_from_score_matrix(score_topn(model, blind, dev), blind.topn_target_index)
    (hit, ndcg), (hit_b, ndcg_b) = per_user_at_k(own), per_user_at_k(other)
    test = stats.ttest_rel(ndcg, ndcg_b, alternative="greater")
    return {"topn_hr10_scoring": float(hit.mean()), "topn_ndcg10_scoring": float(ndcg.mean()),
            "topn_hr10_blind": float(hit_b.mean()), "topn_ndcg10_blind": float(ndcg_b.mean()),
            "ndcg10_minus_blind": float((ndcg - ndcg_b).mean()), "hr10_minus_blind": float((hit - hit_b).mean()),
            "p_one_sided": float(test.pvalue) if np.isfinite(test.pvalue) else 1.0}


def load_inputs(args, cfg, data):
    cf = Path(args.cf)
    collab = None
    if cfg.user_prompt != "none":
        collab = load_collaborative_inputs(cf / "embeddings" / cfg.cf_model / "user_embeddings.parquet",
                                           cf / "neighbors" / cfg.cf_model / "neighbors.parquet",
                                           cfg.neighbors, data.n_users)
    item_factors = load_item_factors(cfg, cf / "embeddings" / cfg.cf_model / "item_embeddings.parquet")
    return collab, item_factors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(REPO / "config" / "beauty_cpu.yaml"))
    parser.add_argument("--dataset", default="beauty", help="the config's dataset whose settings apply")
    parser.add_argument("--variant", default="peapod", help="the config's variant (its overrides apply)")
    parser.add_argument("--data", default=str(REPO / "results" / "beauty" / "data"))
    parser.add_argument("--cf", default=str(REPO / "results" / "beauty"),
                        help="directory with embeddings/<cf>/ and neighbors/<cf>/")
    parser.add_argument("--overrides", default="{}", help="JSON: generator keys to change (as a variant's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--samples", type=int, default=0, help="training samples (0: the config's whole run)")
    parser.add_argument("--every-samples", type=int, default=0, help="samples between curve points (0: none)")
    parser.add_argument("--users", type=int, default=1000, help="validation users of the final measurement")
    parser.add_argument("--curve-users", type=int, default=200)
    parser.add_argument("--beams", type=int, default=20)
    parser.add_argument("--tag", default="probe")
    parser.add_argument("--out", default=None, help="append the final record (JSON) to this file")
    args = parser.parse_args()

    torch.set_num_threads(1)
    config = yaml.safe_load(Path(args.config).read_text())
    cfg = settings_of_run(config, args.dataset, args.variant).with_overrides(json.loads(args.overrides))
    data = TaskData.from_directory(args.data)
    templates = Templates.load(REPO / "config" / "templates.yaml")
    collab, item_factors = load_inputs(args, cfg, data)
    model, tokenizer = fresh_model(cfg, data, templates, args.seed, collab, None, REPO / "resources", item_factors)
    s = open_session(cfg, data, templates, args.seed, Path(tempfile.mkdtemp()), torch.device("cpu"), model,
                     tokenizer, None)
    per_epoch = s.batches.epoch_length() * cfg.batch_size
    budget = args.samples or cfg.epochs * per_epoch
    losses_on = Validation.build(s.batches, 300, ("sequential", "topn"))
    curve = Validation.build(s.batches, args.curve_users, ("sequential", "topn"))
    print(args.tag, "parameters", sum(p.numel() for p in model.parameters()), "samples/epoch", per_epoch,
          "budget", budget, f"({budget / per_epoch:.2f} epochs of the schedule's {cfg.epochs})", flush=True)

    start = time.perf_counter()
    steps = samples = 0
    window: dict[str, list[float]] = {}  # training loss per task since the last curve point

    def curve_point() -> None:
        t0 = time.perf_counter()
        losses = validation_losses(s.model, losses_on, s.dev)
        check = learning_check(s.model, curve, tokenizer, s.batches.catalogue, K, s.dev)
        s.model.train()
        train = {k: round(float(np.mean(v)), 3) for k, v in window.items()}
        window.clear()
        print(args.tag, f"t={t0 - start:.0f}s samples={samples} train {train} valid",
              {k: round(v, 3) for k, v in losses.items()}, {k: round(v, 3) for k, v in check.items()}, flush=True)

    next_point, epoch, done = args.every_samples, 0, False
    while not done:
        for _, batch in s.batches.iterate(epoch, start=0, prefetch=2):
            loss = train_step(s, batch)
            window.setdefault(TASKS[int(batch["task_ids"][0])], []).append(float(loss.detach()))
            s.state.global_step += 1  # the learning-rate schedule reads it (as train_epoch does)
            steps, samples = steps + 1, samples + len(batch["user_ids"])
            if args.every_samples and samples >= next_point:
                curve_point()
                next_point += args.every_samples
            if samples >= budget:
                done = True
                break
        epoch += 1
    train_seconds = time.perf_counter() - start

    t0 = time.perf_counter()
    final = Validation.build(s.batches, args.users, ("sequential", "topn"))
    blind = Validation.build(s.batches, args.users, ("topn",), blind=True)
    record = {"tag": args.tag, "variant": args.variant, "seed": args.seed, "overrides": json.loads(args.overrides),
              "samples": samples, "epochs_of_schedule": round(samples / per_epoch, 3), "schedule_epochs": cfg.epochs,
              "train_seconds": round(train_seconds, 1), "samples_per_second": round(samples / train_seconds, 1),
              "users": len(final.topn_target_index)}
    record.update(prompt_signal(s.model, final, blind, s.dev))
    check = learning_check(s.model, final, tokenizer, s.batches.catalogue, args.beams, s.dev)
    record.update({key: check[key] for key in check if key != "curve_seconds"})
    record["most_popular"] = most_popular_on(data, final)
    record["measure_seconds"] = round(time.perf_counter() - t0, 1)
    print(args.tag, "FINAL", json.dumps(record), flush=True)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
