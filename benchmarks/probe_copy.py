"""Does the tiny generator learn to copy from its prompt, and at which learning rates?

Trains the planted copy task of peapod.generator.copy_check (each prompt: K random token ids; the
target: one of them) with a config's generator settings, once per learning rate, and prints the
target token's loss per window of steps beside its two reference points: log(K) (copying) and
log(vocabulary) (ignoring the prompt). One torch thread. Example (docs/results/beauty-cpu.md):

    python benchmarks/probe_copy.py --learning-rates 5e-3 2e-3 1e-3 5e-4 3e-4 --candidates 5
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import yaml

from peapod.generator.config import variant_config
from peapod.generator.copy_check import copy_curve

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(REPO / "config" / "beauty_cpu.yaml"))
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[5e-3, 2e-3, 1e-3, 5e-4])
    parser.add_argument("--candidates", type=int, default=5)
    parser.add_argument("--vocab", type=int, default=600)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--window", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(1)
    base = yaml.safe_load(Path(args.config).read_text())["generator"]
    for lr in args.learning_rates:
        cfg = variant_config(base, {"learning_rate": lr})
        start = time.perf_counter()
        curve = copy_curve(cfg, args.vocab, args.candidates, args.steps, args.window, args.seed)
        losses = " ".join(f"{loss:.2f}" for loss in curve.losses)
        print(f"lr {lr:g} (batch {cfg.batch_size}, warm-up {cfg.warmup_steps}, clip {cfg.clip_norm:g}): "
              f"loss per {args.window} steps {losses}; copying {curve.copy_loss:.2f}, ignoring the prompt "
              f"{curve.prior_loss:.2f}; learned {curve.learned_share():.0%}; {time.perf_counter() - start:.0f} s",
              flush=True)


if __name__ == "__main__":
    main()
