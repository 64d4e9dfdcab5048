"""Peak working memory of exact top-n candidate scoring at the paper's shapes (random weights).

    PYTHONPATH=src python benchmarks/bench_scoring_memory.py                  # t5-small and t5-base
    PYTHONPATH=src python benchmarks/bench_scoring_memory.py --budgets 1024 4096 --shapes t5-base

One prompt batch of the paper's inference size (32 prompts x 100 candidates, each prompt
``--source-length`` tokens, each candidate target ``--label-length`` tokens) is scored by
``PeaPOD.score_candidates`` under each memory budget, each in its own subprocess. On CPU the peak
is the growth of the process's ru_maxrss during scoring; on a GPU, torch.cuda.max_memory_allocated
above what the model and inputs hold. Printed beside it: the budget, and the memory the previous
method needed (cross-attention keys/values copied for every (prompt, candidate) pair), computed
from the shapes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

SHAPES = ("t5-small", "t5-base")


def previous_method_bytes(config, pairs: int, source_length: int, label_length: int, bytes_per_value: int) -> int:
    """The copied cross-attention cache of the previous method, plus its float32 logits."""
    inner = config.num_heads * config.d_kv
    cache = pairs * config.num_decoder_layers * 2 * source_length * inner * bytes_per_value
    return cache + pairs * (label_length - 1) * config.vocab_size * 4 * 2


def measure(shape: str, budget: float, batch: int, candidates: int, source_length: int, label_length: int) -> dict:
    """Runs in a fresh subprocess: build the model, then score once and report the peak."""
    import torch

    from peapod.generator.backbone import random_t5
    from peapod.generator.config import GeneratorConfig
    from peapod.generator.model import PeaPOD
    from peapod.generator.runtime import autocast, describe_precision, pick_device

    device = pick_device()
    torch.manual_seed(0)
    t5 = random_t5(shape, dropout_rate=0.0)
    model = PeaPOD(t5, GeneratorConfig(user_prompt="none", backbone=shape)).to(device).eval()
    V = t5.config.vocab_size
    inputs = {
        "input_ids": torch.randint(3, V, (batch, source_length), device=device),
        "attention_mask": torch.ones(batch, source_length, dtype=torch.long, device=device),
        "whole_word_ids": torch.zeros(batch, source_length, dtype=torch.long, device=device),
        "task_ids": torch.full((batch,), 2, dtype=torch.long, device=device),
        "user_ids": torch.ones(batch, dtype=torch.long, device=device),
    }
    labels = torch.randint(3, V, (batch, candidates, label_length), device=device)
    labels[:, :, -1] = t5.config.eos_token_id
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    high_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with open("/proc/self/statm") as handle:  # resident set now (the high-water mark may be older)
        before = int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    t0 = time.perf_counter()
    with autocast(device):
        scores = model.score_candidates(inputs, labels, memory_mib=budget)
    if device.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        high = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        # When scoring never rose above the earlier high-water mark, this is an upper bound.
        peak = max(high, high_before) - before
    seconds = time.perf_counter() - t0
    assert scores.shape == (batch, candidates) and torch.isfinite(scores).all()
    previous = previous_method_bytes(t5.config, batch * candidates, source_length + 6, label_length,
                                     2 if "bf16" in describe_precision(device) else 4)
    return {"shape": shape, "budget_mib": budget, "peak_mib": peak / 2**20, "seconds": seconds,
            "previous_mib": previous / 2**20, "device": str(device), "precision": describe_precision(device)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    parser.add_argument("--budgets", nargs="+", type=float, default=[1024, 4096], help="scoring_memory_mib values")
    parser.add_argument("--batch", type=int, default=32, help="prompts (the paper's inference batch)")
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--source-length", type=int, default=506, help="prompt tokens (100 item ids ~ 5 tokens each)")
    parser.add_argument("--label-length", type=int, default=5, help="candidate target tokens, end token included")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        shape, budget = args.child.split(":")
        print(json.dumps(measure(shape, float(budget), args.batch, args.candidates, args.source_length,
                                 args.label_length)))
        return
    print(f"exact scoring of {args.batch} prompts x {args.candidates} candidates, prompt {args.source_length} "
          f"tokens, target {args.label_length} tokens; random weights; each row its own process")
    print(f"{'shape':<9} {'budget MiB':>10} {'peak MiB':>9} {'seconds':>8} {'previous method MiB':>20}  device")
    for shape in args.shapes:
        for budget in args.budgets:
            cmd = [sys.executable, __file__, "--child", f"{shape}:{budget}", "--batch", str(args.batch),
                   "--candidates", str(args.candidates), "--source-length", str(args.source_length),
                   "--label-length", str(args.label_length)]
            out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"{r['shape']:<9} {r['budget_mib']:>10.0f} {r['peak_mib']:>9.0f} {r['seconds']:>8.1f} "
                  f"{r['previous_mib']:>20,.0f}  {r['device']} ({r['precision']})", flush=True)


if __name__ == "__main__":
    main()
