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

from peapod.generator.collab import load_collaborative_inputs
from peapod.generator.config import settings_of_run
from peapod.generator.data import TaskData, Templates, Validation
from peapod.generator.recipe_check import K, most_popular_on, prompt_signal, train_for
from peapod.generator.train import fresh_model, learning_check, load_item_factors, open_session, validation_losses

REPO = Path(__file__).resolve().parents[1]


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
    measuring = [0.0]  # seconds spent on curve points (not training)

    def curve_point(samples: int, window: dict[str, list[float]]) -> None:
        t0 = time.perf_counter()
        losses = validation_losses(s.model, losses_on, s.dev)
        check = learning_check(s.model, curve, tokenizer, s.batches.catalogue, K, s.dev)
        s.model.train()
        train = {k: round(float(np.mean(v)), 3) for k, v in window.items()}
        print(args.tag, f"t={t0 - start:.0f}s samples={samples} train {train} valid",
              {k: round(v, 3) for k, v in losses.items()}, {k: round(v, 3) for k, v in check.items()}, flush=True)
        measuring[0] += time.perf_counter() - t0

    samples = train_for(s, budget, args.every_samples, curve_point)
    train_seconds = time.perf_counter() - start - measuring[0]

    t0 = time.perf_counter()
    final = Validation.build(s.batches, args.users, ("sequential", "topn"))
    blind = Validation.build(s.batches, args.users, ("topn",), blind=True)
    record = {"tag": args.tag, "config": Path(args.config).name, "data": args.data, "variant": args.variant,
              "seed": args.seed, "overrides": json.loads(args.overrides),
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
