"""Recipe probe for the CPU generator on a real dataset: train one run for a fixed wall-time budget
and measure, every ``--every`` seconds, what the study's learning curves measure once an epoch.

Each line: seconds, optimizer steps and samples so far; the mean training loss per target token
since the last line and the teacher-forced validation loss per target token on a fixed 300-user
sample (per task; validation prompts carry the evaluation's candidates); and on a fixed 100-user probe the free-beam HR@10
(sequential and top-n, 10 beams), the share of top-n beams inside the prompt's candidates, and top-n
HR@10 by exact scoring of the 100 candidates. It answers "does this recipe start to copy from its
prompt within N steps?" in minutes, before a study spends hours on it.

Settings are the study config's ``generator`` section with JSON overrides (the workflow's own
variant_config), trained by the workflow's own session and step (peapod.generator.train), one torch
thread. The data stage must have run (``--data``). Example (docs/results/beauty-cpu.md, "Recipe
probes"):

    python benchmarks/probe_generator_recipe.py --overrides '{"user_prompt": "none", "batch_size": 16}' \
        --budget 600 --every 60 --tag b16lr2
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
from peapod.generator.config import TASKS, variant_config
from peapod.generator.data import TaskData, Templates, Validation
from peapod.generator.train import fresh_model, learning_check, open_session, train_step, validation_losses

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(REPO / "config" / "beauty_cpu_study.yaml"))
    parser.add_argument("--data", default=str(REPO / "results" / "beauty" / "data"))
    parser.add_argument("--cf", default=str(REPO / "results" / "beauty"),
                        help="directory with embeddings/<cf>/ and neighbors/<cf>/ (PeaPOD and MLP only)")
    parser.add_argument("--overrides", default="{}", help="JSON: generator keys to change (as a variant's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--budget", type=float, default=600.0, help="training seconds")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between measurements")
    parser.add_argument("--tag", default="probe")
    args = parser.parse_args()

    torch.set_num_threads(1)
    cfg = variant_config(yaml.safe_load(Path(args.config).read_text())["generator"], json.loads(args.overrides))
    data = TaskData.from_directory(args.data)
    templates = Templates.load(REPO / "config" / "templates.yaml")
    collab = None
    if cfg.user_prompt != "none":
        cf = Path(args.cf)
        collab = load_collaborative_inputs(cf / "embeddings" / cfg.cf_model / "user_embeddings.parquet",
                                           cf / "neighbors" / cfg.cf_model / "neighbors.parquet",
                                           cfg.neighbors, data.n_users)
    model, tokenizer = fresh_model(cfg, data, templates, args.seed, collab, None, REPO / "resources")
    s = open_session(cfg, data, templates, args.seed, Path(tempfile.mkdtemp()), torch.device("cpu"), model,
                     tokenizer, None)
    losses_on = Validation.build(s.batches, 300, ("sequential", "topn"))
    probe = Validation.build(s.batches, 100, ("sequential", "topn"))
    print(args.tag, "parameters", sum(p.numel() for p in model.parameters()), "batches/epoch",
          s.batches.epoch_length(), flush=True)

    start = time.perf_counter()
    steps = samples = 0
    window: dict[str, list[float]] = {}  # training loss per task since the last measurement

    def measure() -> None:
        t0 = time.perf_counter()
        losses = validation_losses(s.model, losses_on, s.dev)
        check = learning_check(s.model, probe, tokenizer, s.batches.catalogue, 10, s.dev)
        s.model.train()
        train = {k: round(float(np.mean(v)), 3) for k, v in window.items()}
        window.clear()
        print(args.tag, f"t={t0 - start:.0f}s steps={steps} samples={samples}", "train", train, "valid",
              {k: round(v, 3) for k, v in losses.items()}, {k: round(v, 3) for k, v in check.items()},
              f"measured in {time.perf_counter() - t0:.0f}s", flush=True)

    measure()
    last, epoch, done = time.perf_counter(), 0, False
    while not done:
        for _, batch in s.batches.iterate(epoch, start=0, prefetch=2):
            loss = train_step(s, batch)
            window.setdefault(TASKS[int(batch["task_ids"][0])], []).append(float(loss))
            s.state.global_step += 1  # the learning-rate schedule reads it (as train_epoch does)
            steps, samples = steps + 1, samples + len(batch["user_ids"])
            now = time.perf_counter()
            if now - last > args.every:
                measure()
                last = time.perf_counter()
            if now - start > args.budget:
                done = True
                break
        epoch += 1
    measure()


if __name__ == "__main__":
    main()
