"""Evaluation speed: users/s per task and method, on CPU here and on a GPU when there is one.

    python benchmarks/bench_evaluation.py                      # tiny T5, demo data
    python benchmarks/bench_evaluation.py --shape t5-small     # t5-small-sized random weights

Compares constrained (prefix trie) and unconstrained beam search for sequential recommendation,
and exact candidate scoring against beam search for top-n (100 candidates), then extrapolates the
top-n scoring time to a Sports-sized test set (35,598 users). Weights are random: speed does not
depend on what the model learnt, except that unconstrained beams may end earlier or later.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from peapod.data.demo import DemoConfig, write_demo_dataset
from peapod.data.p5 import read_p5_directory
from peapod.data.tables import TABLE_NAMES, build_tables, write_dataset
from peapod.evaluation.evaluate import EvalData, EvalSettings, RunEvaluator
from peapod.generator.backbone import load_backbone, random_t5
from peapod.generator.config import GeneratorConfig
from peapod.generator.data import TaskData, Templates
from peapod.generator.model import PeaPOD
from peapod.generator.runtime import pick_device

REPO = Path(__file__).resolve().parents[1]
SPORTS_USERS = 35_598


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["tiny", "t5-small"], default="tiny")
    parser.add_argument("--users", type=int, default=128, help="users (prompts) per measurement")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    device = pick_device()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        demo = DemoConfig(n_users=max(args.users, 200), n_items=240, n_groups=8, seed=0)
        write_demo_dataset(demo, root / "raw")
        tables = build_tables(read_p5_directory(root / "raw"), "bench")
        write_dataset(tables, {n: root / "data" / f"{n}.parquet" for n in TABLE_NAMES}, root / "data" / "stats.json")
        templates = Templates.load(REPO / "config" / "templates.yaml")
        cfg = GeneratorConfig.from_dict({"user_prompt": "none", "backbone": "tiny"})
        t5, tok = load_backbone(cfg, TaskData.from_tables(tables.tables).tokenizer_corpus(templates))
        if args.shape == "t5-small":
            t5 = random_t5("t5-small", vocab_size=len(tok))
        model = PeaPOD(t5, cfg).to(device).eval()
        data = EvalData.from_directory(root / "data", "test")
        print(f"device {device}, backbone {args.shape} (random weights), {args.users} users per row, "
              f"batch {args.batch_size}, torch threads {torch.get_num_threads()}")
        print(f"{'task':<12} {'method':<24} {'seconds':>8} {'users/s':>9}")
        rows = {}

        def measure(task: str, method: str, **settings) -> None:
            s = EvalSettings(max_users=args.users, batch_size=args.batch_size, **settings)
            ev = RunEvaluator(model, tok, templates, s, data.catalogue, device)
            fn = {"sequential": ev.sequential, "topn": ev.topn, "explanation": lambda d: ev.explanation(d)[0]}[task]
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            fn(data)
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - t0
            n = min(args.users, len(data.explanations) if task == "explanation" else len(data.sequences))
            rows[(task, method)] = n / seconds
            print(f"{task:<12} {method:<24} {seconds:>8.2f} {n / seconds:>9.1f}", flush=True)

        measure("sequential", "beam, constrained", constrained=True)
        measure("sequential", "beam, unconstrained", constrained=False)
        measure("topn", "scoring (100 candidates)", topn_methods=("scoring",))
        measure("topn", "beam (paper's, free)", topn_methods=("beam",))
        measure("topn", "beam_candidates", topn_methods=("beam_candidates",))
        measure("explanation", "beam (7)")
        seq = rows[("sequential", "beam, constrained")] / rows[("sequential", "beam, unconstrained")]
        topn = rows[("topn", "scoring (100 candidates)")] / rows[("topn", "beam (paper's, free)")]
        print(f"constrained / unconstrained sequential speed: {seq:.2f}x")
        print(f"top-n scoring / beam speed: {topn:.2f}x")
        minutes = SPORTS_USERS / rows[("topn", "scoring (100 candidates)")] / 60
        print(f"top-n test by scoring, extrapolated to Sports ({SPORTS_USERS:,} users): {minutes:.1f} min")


if __name__ == "__main__":
    main()
