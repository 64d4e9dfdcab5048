"""Training throughput of the generator: task-alternated versus sample-mixed batches.

Prints samples/s, tokens/s (non-pad input + target tokens) and the share of step time spent
waiting for data, for the tiny demo backbone and a T5-small-shaped model with random weights
(no download). Runs unchanged on CPU (fp32) and CUDA (bf16 autocast, fused AdamW). Example:

    PYTHONPATH=src python benchmarks/bench_training.py                     # CPU, both backbones
    PYTHONPATH=src python benchmarks/bench_training.py --users 4000      # GPU: a bigger demo, one epoch per row

Reference: POD's released Sports log shows about 218 samples/s (batch 64) for the whole training.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from peapod.data.demo import DemoConfig, write_demo_dataset
from peapod.data.p5 import read_p5_directory
from peapod.data.tables import build_tables
from peapod.generator.backbone import offline, random_t5, t5_config
from peapod.generator.config import GeneratorConfig
from peapod.generator.data import Batches, TaskData, Templates
from peapod.generator.model import PeaPOD
from peapod.generator.tokenization import train_tokenizer
from peapod.generator.runtime import autocast, pick_device, to_device

REFERENCE_SAMPLES_PER_S = 218.0
TEMPLATES = Path(__file__).resolve().parents[1] / "config" / "templates.yaml"


def make_data(users: int, items: int, tmp: Path) -> TaskData:
    groups = 8
    cfg = DemoConfig(n_users=users, n_items=items, n_groups=groups, min_length=6, max_length=14)
    write_demo_dataset(cfg, tmp)
    return TaskData.from_tables(build_tables(read_p5_directory(tmp), "bench").tables)


def build_model(backbone: str, tokenizer, n_users: int, cf_dim: int, neighbors: int, cfg: GeneratorConfig, seed: int):
    torch.manual_seed(seed)
    if backbone == "tiny":
        t = cfg.tiny
        t5 = __import__("transformers").T5ForConditionalGeneration(
            t5_config(len(tokenizer), t.d_model, t.d_ff, t.num_layers, t.num_heads, t.dropout_rate))
    else:
        t5 = random_t5(backbone)  # published shape, 32,128-token vocabulary, random weights
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((n_users + 1, cf_dim)).astype(np.float32)
    nbr = rng.integers(1, n_users + 1, size=(n_users + 1, neighbors))
    return PeaPOD(t5, cfg, emb, nbr)


def run(backbone: str, batching: str, data: TaskData, tokenizer, templates, args, device) -> dict:
    settings = {"backbone": "tiny", "batching": batching, "batch_size": args.batch_size, "neighbors": 20}
    if backbone == "tiny":
        settings["tiny"] = {"d_model": 64, "d_ff": 128, "num_layers": 2, "num_heads": 2, "dropout_rate": 0.0}
    cfg = GeneratorConfig.from_dict(settings)
    cf_dim = 64 if backbone == "tiny" else 512
    model = build_model(backbone, tokenizer, data.n_users, cf_dim, cfg.neighbors, cfg, args.seed).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, fused=device.type == "cuda" or None)
    batches = Batches(data, tokenizer, templates, cfg, args.seed, pad_multiple=8 if device.type == "cuda" else 1,
                      pin_memory=device.type == "cuda")
    steps = args.steps or len(batches.epoch_plan(0))  # default: one epoch, so the task mix is the epoch's
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def stream():
        epoch = 0
        while True:
            yield from (b for _, b in batches.iterate(epoch, prefetch=args.prefetch))
            epoch += 1

    it = stream()
    model.train()
    samples = tokens = padded = 0
    wait = 0.0
    total_steps = args.warmup + steps
    for step in range(total_steps):
        if step == args.warmup:
            sync()
            start, wait, samples, tokens, padded = time.perf_counter(), 0.0, 0, 0, 0
        t0 = time.perf_counter()
        batch = next(it)
        batch = to_device(batch, device)
        wait += time.perf_counter() - t0
        with autocast(device):
            loss = model(batch).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        samples += batch["input_ids"].shape[0]
        tokens += int(batch["attention_mask"].sum()) + int((batch["labels"] != -100).sum())
        padded += batch["input_ids"].numel() + batch["labels"].numel()
    sync()
    elapsed = time.perf_counter() - start
    return {"backbone": backbone, "batching": batching, "steps": steps, "samples_per_s": samples / elapsed,
            "tokens_per_s": tokens / elapsed, "padding_share": 1 - tokens / padded, "data_wait_share": wait / elapsed,
            "ms_per_step": 1000 * elapsed / steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", choices=["tiny", "t5-small", "all"], default="all")
    parser.add_argument("--batching", choices=["task", "mixed", "both"], default="both")
    parser.add_argument("--users", type=int, default=400, help="demo users (items = 0.6 x users, at least 240)")
    parser.add_argument("--steps", type=int, default=0, help="timed steps (default: one epoch's batches)")
    parser.add_argument("--warmup", type=int, default=0, help="untimed steps first (default: 3 on CPU, 30 on CUDA)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--prefetch", type=int, default=4, help="batches built ahead in a background thread")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    offline()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    args.warmup = args.warmup or (30 if device.type == "cuda" else 3)
    with tempfile.TemporaryDirectory() as tmp:
        data = make_data(args.users, max(240, int(0.6 * args.users)), Path(tmp))
    templates = Templates.load(TEMPLATES)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; precision: {'bf16 autocast' if device.type == 'cuda' else 'fp32'}; torch {torch.__version__}")
    print(f"data: demo with {args.users} users, {len(data.catalogue)} items, "
          f"{len(data.explanations['train']['user'])} train explanations; batch {args.batch_size}; "
          f"{args.warmup} warm-up + {args.steps or 'one epoch of'} timed steps per row")
    backbones = ["tiny", "t5-small"] if args.backbone == "all" else [args.backbone]
    modes = ["task", "mixed"] if args.batching == "both" else [args.batching]
    header = f"{'backbone':<9} {'batching':<8} {'steps':>5} {'samples/s':>10} {'tokens/s':>10} {'ms/step':>8} {'pad':>6} {'data wait':>10} {'vs 218/s':>9}"
    print(header)
    for backbone in backbones:
        # tiny: the demo tokenizer; t5-small: digits one per token, so ids cost about as many tokens as with T5's.
        tokenizer = train_tokenizer(data.tokenizer_corpus(templates), 600, split_digits=backbone != "tiny")
        for mode in modes:
            r = run(backbone, mode, data, tokenizer, templates, args, device)
            print(f"{r['backbone']:<9} {r['batching']:<8} {r['steps']:>5} {r['samples_per_s']:>10.1f} {r['tokens_per_s']:>10.0f} "
                  f"{r['ms_per_step']:>8.1f} {100 * r['padding_share']:>5.1f}% {100 * r['data_wait_share']:>9.1f}% "
                  f"{r['samples_per_s'] / REFERENCE_SAMPLES_PER_S:>8.2f}x", flush=True)


if __name__ == "__main__":
    main()
