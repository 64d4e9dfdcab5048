"""The generator's training step on real prompts: samples/s (per thread on a CPU), and where the time goes.

Trains with the workflow's own ``fresh_model``, ``open_session`` and ``train_step``
(peapod.generator.train) at a study config's generator settings (default: the real-Beauty CPU
study, tiny T5, batches of 16, 99 negatives, one torch thread), on the data stage's tables of a
real dataset. The CF tables are random of the study's shape (512 dimensions, 20 neighbours): a
step's cost does not depend on their values, and the benchmark then needs no embedding stage.

    PYTHONPATH=src python benchmarks/bench_train_step.py --data results/beauty/data
    PYTHONPATH=src python benchmarks/bench_train_step.py --data results/beauty/data --profile 20   # + torch.profiler
    PYTHONPATH=src python benchmarks/bench_train_step.py --backbone t5-small --overrides '{"batch_size": 8}'

Before and after a change, in one sitting (the script uses only API both sides have):

    git worktree add ../before <commit>
    PYTHONPATH=../before/src python benchmarks/bench_train_step.py --tag before
    PYTHONPATH=src python benchmarks/bench_train_step.py --tag after

Each run prints one JSON line: samples/s and steps/s per task and overall, and the mean training
loss of the timed steps per task (the same batches in the same order on both sides, so equal
losses say the change kept the arithmetic; ``--losses-out FILE`` on one side and
``--losses-against FILE`` on the other say at which step their per-step losses part by more than
1e-5). ``--profile N`` adds torch.profiler's table of the
operators with the most host time over N steps, and the host time grouped by cause.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
import yaml

from peapod.generator.config import TASKS, variant_config
from peapod.generator.data import TaskData, Templates
from peapod.generator.train import fresh_model, open_session, train_step

REPO = Path(__file__).resolve().parents[1]

# Profiler operator names grouped into causes (first match wins; the rest is "other").
CAUSES = (
    ("attention (scores, softmax, position bias, masks)", ("softmax", "bmm", "baddbmm", "scaled_dot", "_efficient",
                                                           "_flash", "attention", "where", "masked_fill")),
    ("matmuls (linear layers)", ("addmm", "mm", "linear", "matmul")),
    ("optimizer (AdamW) and clipping", ("adam", "_foreach", "clip", "norm")),
    ("loss (log-softmax, NLL)", ("log_softmax", "nll_loss", "cross_entropy")),
    ("embeddings and gathers", ("embedding", "index", "gather", "scatter")),
    ("elementwise (activations, norms, adds, casts)", ("relu", "gelu", "mul", "add", "pow", "rsqrt", "mean",
                                                       "div", "sub", "to", "copy_", "_to_copy", "fill_", "zero_")),
    ("shape and memory (views, cats, allocations)", ("view", "reshape", "transpose", "permute", "cat", "empty",
                                                     "expand", "contiguous", "clone", "slice", "select", "unsqueeze",
                                                     "squeeze", "t", "as_strided", "stack", "ones", "zeros", "arange")),
)


def cause_of(name: str) -> str:
    base = name.split("::")[-1].lower()
    for cause, keys in CAUSES:
        if any(base == k or base.startswith(k) or k in base for k in keys):
            return cause
    return "other"


def build_session(args, device: torch.device = torch.device("cpu")):
    study = yaml.safe_load(Path(args.config).read_text())["generator"]
    overrides = json.loads(args.overrides)
    if args.backbone != "tiny":
        overrides["backbone"] = args.backbone
    cfg = variant_config(study, overrides)
    data = TaskData.from_directory(args.data)
    templates = Templates.load(REPO / "config" / "templates.yaml")
    collab = None
    if cfg.user_prompt != "none":
        rng = np.random.default_rng(0)
        emb = rng.standard_normal((data.n_users + 1, 512)).astype(np.float32)
        nbr = rng.integers(1, data.n_users + 1, size=(data.n_users + 1, cfg.neighbors))
        collab = (emb, nbr)
    resources = REPO / "resources"
    if args.backbone != "tiny":  # T5-small's shape with random weights: no checkpoint needed
        from peapod.generator.backbone import random_t5

        torch.manual_seed(args.seed)
        from peapod.generator.model import PeaPOD
        from peapod.generator.tokenization import train_tokenizer

        tokenizer = train_tokenizer(data.tokenizer_corpus(templates), 600, split_digits=True)
        t5 = random_t5(args.backbone)
        t5.resize_token_embeddings(len(tokenizer))
        model = PeaPOD(t5, cfg, *(collab or (None, None)))
    else:
        model, tokenizer = fresh_model(cfg, data, templates, args.seed, collab, None, resources)
    session = open_session(cfg, data, templates, args.seed, Path(tempfile.mkdtemp()), device, model, tokenizer, None)
    return cfg, session


def arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(REPO / "config" / "beauty_cpu.yaml"))
    parser.add_argument("--data", default=str(REPO / "results" / "beauty" / "data"))
    parser.add_argument("--overrides", default="{}", help="JSON: generator keys to change (as a variant's)")
    parser.add_argument("--backbone", default="tiny", help="tiny (the config's) or t5-small (its shape, random)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (peapod.generator.runtime)")
    parser.add_argument("--workers", type=int, default=0, help="batch-building processes (devices.loader_workers)")
    parser.add_argument("--precision", default="auto", help="auto, float32 or bf16 (devices.precision)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--steps", type=int, default=200, help="timed steps")
    parser.add_argument("--profile", type=int, default=0, help="profile this many further steps")
    parser.add_argument("--tag", default="")
    parser.add_argument("--losses-out", help="write the timed steps' losses, in order, to this JSON file")
    parser.add_argument("--losses-against", help="compare the timed steps' losses with such a file (another "
                                                 "commit's, the same settings): where they part by over 1e-5")
    return parser.parse_args(argv)


def measure(args: argparse.Namespace) -> dict:
    """Train ``args.warmup`` + ``args.steps`` steps; samples/s over the timed ones (one JSON-able dict).
    On a CPU each step is also timed alone (per task); on a GPU only the whole, with one
    synchronisation at the end, so that the host can run ahead as in training."""
    device = torch.device(args.device)
    if args.precision != "auto":  # code before the setting existed runs "auto" only
        from peapod.generator.runtime import set_precision

        set_precision(args.precision)
    cfg, s = build_session(args, device)
    if args.compile:
        from peapod.generator.runtime import compile_model

        compile_model(s.model, device)
    iterate = (lambda epoch: s.batches.iterate(epoch, prefetch=2, workers=args.workers)) if args.workers else (
        lambda epoch: s.batches.iterate(epoch, prefetch=2))  # code before the workers existed
    stream = (b for epoch in range(10**6) for _, b in iterate(epoch))
    cpu = device.type == "cpu"
    sync = (lambda: None) if cpu else torch.cuda.synchronize

    def step():
        batch = next(stream)
        task = TASKS[int(batch["task_ids"][0])]
        t0 = time.perf_counter()
        loss = train_step(s, batch).detach()
        s.state.global_step += 1
        return task, len(batch["user_ids"]), time.perf_counter() - t0, loss

    t0 = time.perf_counter()
    for _ in range(args.warmup):
        step()
    sync()
    warmup_s = time.perf_counter() - t0
    seconds, samples, steps, losses = defaultdict(float), defaultdict(int), defaultdict(int), defaultdict(list)
    in_order = []
    start = time.perf_counter()
    for _ in range(args.steps):
        task, n, dt, loss = step()
        seconds[task] += dt
        samples[task] += n
        steps[task] += 1
        losses[task].append(loss)
        in_order.append(loss)
    sync()
    wall = time.perf_counter() - start
    out = {"tag": args.tag, "torch": torch.__version__, "device": str(device), "threads": torch.get_num_threads(),
           "backbone": args.backbone, "compile": args.compile, "workers": args.workers, "precision": args.precision, "batch_size": cfg.batch_size,
           "user_prompt": cfg.user_prompt, "steps": args.steps, "warmup_s": round(warmup_s, 1),
           "samples_per_s": round(sum(samples.values()) / wall, 1)}
    for task in seconds:
        out[task] = {"steps": steps[task], "mean_loss": round(float(torch.stack(losses[task]).float().mean()), 6)}
        if cpu:
            out[task].update(ms_per_step=round(1000 * seconds[task] / steps[task], 2),
                             samples_per_s=round(samples[task] / seconds[task], 1))
    in_order = [float(loss) for loss in in_order]
    if args.losses_out:
        Path(args.losses_out).write_text(json.dumps(in_order))
    if args.losses_against:
        out["losses_against"] = compare_losses(in_order, json.loads(Path(args.losses_against).read_text()))
    if args.profile:
        out["profile"] = profile(step, args.profile, sync, cpu)
    return out


def compare_losses(ours: list[float], theirs: list[float], tolerance: float = 1e-5) -> dict:
    """Where two runs' per-step losses part: the first timed step whose relative difference
    exceeds ``tolerance``, the largest difference before it, and the mean of each run's losses.
    Float sums in another order part slowly over training (chaotic at a high learning rate), so the
    steps before they part say whether a change kept the arithmetic."""
    n = min(len(ours), len(theirs))
    diffs = [abs(a - b) / max(abs(b), 1e-12) for a, b in zip(ours[:n], theirs[:n])]
    parted = next((k for k, d in enumerate(diffs) if d > tolerance), None)
    return {"steps": n, "first_step_over_tolerance": parted, "tolerance": tolerance,
            "max_relative_difference_before": max(diffs[:parted if parted is not None else n], default=0.0),
            "mean_loss": [sum(ours[:n]) / n, sum(theirs[:n]) / n]}


def main() -> None:
    args = arguments()
    torch.set_num_threads(args.threads)
    out = measure(args)
    table = out.pop("profile", None)
    print(json.dumps(out), flush=True)
    if table:
        print(table)


def profile(step, n: int, sync, cpu: bool) -> str:
    """torch.profiler over ``n`` steps: the operators (CPU) or kernels (GPU) with the most time, and
    the host time grouped by cause."""
    from torch.profiler import ProfilerActivity, profile as torch_profile

    activities = [ProfilerActivity.CPU] + ([] if cpu else [ProfilerActivity.CUDA])
    with torch_profile(activities=activities) as prof:
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        sync()
        wall = time.perf_counter() - t0
    events = prof.key_averages()
    lines = [events.table(sort_by="self_cpu_time_total" if cpu else "self_device_time_total", row_limit=25)]
    by_cause: dict[str, float] = defaultdict(float)
    for e in events:
        by_cause[cause_of(e.key)] += e.self_cpu_time_total / 1e6
    ops = sum(by_cause.values())
    lines.append(f"host time by cause over {n} steps ({wall:.2f} s wall, {ops:.2f} s inside operators; the rest, "
                 f"{max(0.0, wall - ops):.2f} s, is Python, waiting and the profiler itself):")
    for cause, secs in sorted(by_cause.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {cause:<52} {secs:7.3f} s  {100 * secs / wall:5.1f}% of wall")
    if not cpu:
        # kernels only: an operator's event repeats its kernels' device time
        device_s = sum(e.self_device_time_total for e in events
                       if e.device_type == torch.autograd.DeviceType.CUDA) / 1e6
        lines.append(f"GPU busy {device_s:.3f} s of {wall:.3f} s wall ({100 * device_s / wall:.0f}%)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
