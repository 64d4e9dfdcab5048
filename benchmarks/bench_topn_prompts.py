"""Top-n training steps on CPU: what a 100-candidate prompt costs, and what the tiny backbone's
heads and dropout change. Ratios are against the first row, measured in the same run.

A top-n prompt with 99 negatives is ~330 tokens (each item_N is ~3 tokens); the encoder's
attention tensors (batch x heads x T x T) then dominate a step, and attention dropout draws a
mask of that size every layer. Per setting: ms per top-n batch (build + forward + backward + AdamW)
and samples/s, one torch thread. Example (real Beauty, after its data stage):

    PYTHONPATH=src python benchmarks/bench_topn_prompts.py --data results/beauty/data
    PYTHONPATH=src python benchmarks/bench_topn_prompts.py            # a synthetic catalogue of 2,000 items
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from peapod.data.demo import DemoConfig, write_demo_dataset
from peapod.data.p5 import read_p5_directory
from peapod.data.tables import build_tables
from peapod.generator.backbone import load_backbone, offline
from peapod.generator.config import GeneratorConfig
from peapod.generator.data import Batches, TaskData, Templates
from peapod.generator.model import PeaPOD

TEMPLATES = Path(__file__).resolve().parents[1] / "config" / "templates.yaml"
# (negatives, tiny num_heads, dropout): the first row is the baseline of every ratio.
SETTINGS = [(19, 4, 0.1), (99, 4, 0.1), (99, 4, 0.0), (99, 2, 0.1), (99, 2, 0.0)]


def task_data(data_dir: str | None, tmp: Path) -> TaskData:
    if data_dir:
        return TaskData.from_directory(data_dir)
    write_demo_dataset(DemoConfig(n_users=2000, n_items=2000, n_groups=8, min_length=6, max_length=14), tmp)
    return TaskData.from_tables(build_tables(read_p5_directory(tmp), "bench").tables)


def measure(data: TaskData, templates: Templates, negatives: int, heads: int, dropout: float, args) -> dict:
    cfg = GeneratorConfig.from_dict({
        "tiny": {"d_model": args.d_model, "d_ff": 2 * args.d_model, "num_layers": 2, "num_heads": heads,
                 "vocab_size": 600, "dropout_rate": dropout},
        "user_prompt": "none", "negatives": negatives, "tasks": ["sequential", "topn"], "curve_users": 0})
    torch.manual_seed(0)
    t5, tok = load_backbone(cfg, data.tokenizer_corpus(templates))
    model = PeaPOD(t5, cfg).train()
    batches = Batches(data, tok, templates, cfg, seed=0)
    plan = batches.epoch_plan(0)
    topn = [k for k, entry in enumerate(plan) if entry[0][0] == 2][: args.warmup + args.steps]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    elapsed, tokens = 0.0, 0
    for i, k in enumerate(topn):
        start = time.perf_counter()
        batch = batches.build(0, k, plan[k])
        loss = model(batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if i >= args.warmup:
            elapsed += time.perf_counter() - start
            tokens = batch["input_ids"].shape[1]
    n = len(topn) - args.warmup
    return {"ms": 1000 * elapsed / n, "samples_s": n * cfg.batch_size / elapsed, "tokens": tokens}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a data stage's output directory (default: a synthetic catalogue)")
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()
    offline()
    torch.set_num_threads(1)
    templates = Templates.load(TEMPLATES)
    with tempfile.TemporaryDirectory() as tmp:
        data = task_data(args.data, Path(tmp))
        rows = [(s, measure(data, templates, *s, args)) for s in SETTINGS]
    base = rows[0][1]["ms"]
    print(f"top-n training batches of 64, d_model {args.d_model}, 2+2 layers, one thread "
          f"({'real data: ' + args.data if args.data else 'synthetic catalogue'})")
    print("| negatives | heads | dropout | prompt tokens | ms/batch | samples/s | time vs first row |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for (negatives, heads, dropout), r in rows:
        print(f"| {negatives} | {heads} | {dropout} | {r['tokens']} | {r['ms']:.0f} | {r['samples_s']:.1f} | "
              f"{r['ms'] / base:.2f}x |")


if __name__ == "__main__":
    main()
