"""Evaluation time per 1,000 users on real data with a briefly trained model, before and after a
code change, in one run on one machine.

    PYTHONPATH=src python benchmarks/bench_evaluation_real.py --data results/beauty/data \
        --config config/beauty_cpu.yaml --dataset beauty --variant pod --users 200 --before "$before/src"  # before=$(mktemp -d); git archive REV src | tar -x -C "$before"

Trains the (dataset, variant)'s generator of the config for ``--train-batches`` batches (so beams
behave like a model that has learnt something; an untrained model ends its beams at once), saves
it, then times sequential beam search and top-n (the paper's beam and exact scoring) on the first
``--users`` test users in a subprocess per source tree: ``--before`` (e.g. an exported older
commit's src/) and this checkout's src/. One torch thread each, one after the other. With
``--before`` it also says whether every user's rank is the same on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

TIMER = r"""
import json, sys, time, torch
from pathlib import Path
torch.set_num_threads(1)
from peapod.evaluation.evaluate import EvalData, EvalSettings, RunEvaluator
from peapod.generator.checkpoint import load_model_dir
from peapod.generator.data import Templates
run, data_dir, templates, users, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
model, tok, _ = load_model_dir(Path(run), torch.device("cpu"))
data = EvalData.from_directory(data_dir, "test")
out, ranks = {}, {}
for name, task, methods in (("sequential beam 20", "sequential", ("beam",)), ("top-n beam 20 (paper)", "topn", ("beam",)),
                            ("top-n scoring (100 candidates)", "topn", ("scoring",)),
                            ("top-n beam 20 in the candidates", "topn", ("beam_candidates",))):
    s = EvalSettings(beams=20, top_k=10, batch_size=batch, topn_methods=methods, max_users=users)
    ev = RunEvaluator(model, tok, Templates.load(templates), s, data.catalogue)
    t0 = time.perf_counter()
    frame = getattr(ev, task)(data)
    out[name] = (time.perf_counter() - t0) / users * 1000
    ranks[name] = frame["rank"].tolist()
print(json.dumps({"seconds": out, "ranks": ranks}))
"""


def train_briefly(args, run_dir: Path) -> None:
    import numpy as np  # noqa: F401
    import torch
    import yaml

    from peapod.generator.backbone import load_backbone
    from peapod.generator.checkpoint import save_model_dir
    from peapod.generator.config import settings_of_run
    from peapod.generator.data import Batches, TaskData, Templates
    from peapod.generator.model import PeaPOD

    torch.set_num_threads(1)
    config = yaml.safe_load(Path(args.config).read_text())
    cfg = settings_of_run(config, args.dataset, args.variant).with_overrides({"validation_users": None})
    if cfg.user_prompt != "none":
        raise SystemExit("use a variant without a user prompt (e.g. pod): the benchmark reads no CF files")
    data = TaskData.from_directory(args.data)
    templates = Templates.load(REPO / "config" / "templates.yaml")
    torch.manual_seed(0)
    t5, tok = load_backbone(cfg, data.tokenizer_corpus(templates), items=data.catalogue)
    model = PeaPOD(t5, cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate)
    model.train()
    t0 = time.perf_counter()
    for k, batch in Batches(data, tok, templates, cfg, 0).iterate(0):
        loss = model(batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if k + 1 == args.train_batches:
            break
    print(f"trained {args.train_batches} batches in {time.perf_counter() - t0:.0f}s, last loss {float(loss):.3f}", flush=True)
    save_model_dir(run_dir, model.eval(), tok)
    # Older code knows no validation_users (a training-only key; None is its default): drop it.
    meta = json.loads((run_dir / "config.json").read_text())
    if meta["generator"].get("validation_users", 0) is None:
        del meta["generator"]["validation_users"]
        (run_dir / "config.json").write_text(json.dumps(meta))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a data stage directory (results/<dataset>/data)")
    parser.add_argument("--config", default="config/beauty_cpu.yaml")
    parser.add_argument("--dataset", default="beauty")
    parser.add_argument("--variant", default="pod")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-batches", type=int, default=300)
    parser.add_argument("--before", help="src/ of the code to compare with (e.g. an exported older commit)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        train_briefly(args, run_dir)
        trees = ([("before", args.before)] if args.before else []) + [("after", str(REPO / "src"))]
        results = {}
        for label, src in trees:
            env = {**os.environ, "PYTHONPATH": src}
            proc = subprocess.run([sys.executable, "-c", TIMER, str(run_dir), args.data,
                                   str(REPO / "config" / "templates.yaml"), str(args.users), str(args.batch_size)],
                                  env=env, capture_output=True, text=True)
            if proc.returncode:
                raise SystemExit(f"{label} failed:\n{proc.stderr[-3000:]}")
            results[label] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"seconds per 1,000 users ({args.users} users timed, batch {args.batch_size}, one thread)")
        print(f"{'method':<34}" + "".join(f"{label:>10}" for label in results)
              + ("  ranks identical" if len(results) > 1 else ""))
        for name in results["after"]["seconds"]:
            same = ""
            if len(results) > 1:
                same = "  yes" if results["before"]["ranks"][name] == results["after"]["ranks"][name] else "  NO"
            print(f"{name:<34}" + "".join(f"{results[label]['seconds'][name]:>10.1f}" for label in results) + same)


if __name__ == "__main__":
    main()
