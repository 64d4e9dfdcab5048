"""The GPU benchmark in one command: training throughput beside a reference-style path, peak
memory, evaluation time per 1,000 users, and how many runs can share one GPU.

    PYTHONPATH=src python benchmarks/gpu_suite.py            # on a GPU machine, about 5-8 minutes
    PYTHONPATH=src python benchmarks/gpu_suite.py --smoke    # seconds, on CPU (the tests run this)

1. Training, T5-small shape with random weights, batch 64: ours (task-alternated batches padded
   per batch, pads masked out of the loss, bf16 autocast where the GPU has it natively, pinned
   memory, fused AdamW) and, in the same run, a reference-style path (samples of all tasks mixed
   in each batch, pads in the loss, float32, no pinned memory), so the ratio is measured side by
   side. Samples/s, tokens/s (non-pad input + target tokens), peak memory.
2. Evaluation of the same model, per 1,000 users: sequential beam search (20 beams) and top-n by
   the paper's free beam, beams restricted to the candidates, and exact scoring of all 100.
3. Sharing: the training loop in k concurrent processes on one device (k = 1, 2, 4), total
   samples/s; where it stops growing, more runs per GPU (devices.jobs_per_device) stop paying.

Targets on an H100/H200-class GPU (issue 16): training >= 4,400 samples/s (20x POD's published
~218), top-n for Sports' 35,598 users by exact scoring under 1 minute, sequential under 3 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import REFERENCE_SAMPLES_PER_S, TEMPLATES, build_model, make_data  # noqa: E402

from peapod.generator.backbone import offline  # noqa: E402
from peapod.generator.config import GeneratorConfig  # noqa: E402
from peapod.generator.data import Batches, Templates  # noqa: E402
from peapod.generator.reference import use_hugging_face_forward  # noqa: E402
from peapod.generator.runtime import autocast, compile_model, describe_precision, pick_device, to_device  # noqa: E402
from peapod.generator.tokenization import train_tokenizer  # noqa: E402

SPORTS_USERS = 35_598
SIZES = {  # full run on a GPU; smoke on a CPU in seconds
    "full": dict(backbone="t5-small", users=2000, batch=64, steps=150, warmup=20, eval_users=512, share=(1, 2, 4),
                 share_seconds=20.0),
    "smoke": dict(backbone="tiny", users=200, batch=8, steps=3, warmup=1, eval_users=8, share=(1, 2),
                  share_seconds=2.0),
}


def setup(size: dict, seed: int = 0):
    """Demo data at ``size``'s scale and a tokenizer that spells ids digit by digit (as T5 costs)."""
    with tempfile.TemporaryDirectory() as tmp:
        data = make_data(size["users"], max(240, int(0.6 * size["users"])), Path(tmp))
    templates = Templates.load(TEMPLATES)
    tokenizer = train_tokenizer(data.tokenizer_corpus(templates), 600, split_digits=size["backbone"] != "tiny")
    return data, templates, tokenizer


def generator_settings(size: dict, reference_style: bool) -> GeneratorConfig:
    settings = {"backbone": "tiny", "batch_size": size["batch"], "neighbors": 20,
                "batching": "mixed" if reference_style else "task", "mask_pad_in_loss": not reference_style}
    if size["backbone"] == "tiny":
        settings["tiny"] = {"d_model": 64, "d_ff": 128, "num_layers": 2, "num_heads": 2, "dropout_rate": 0.0}
    return GeneratorConfig.from_dict(settings)


def train_throughput(size: dict, data, templates, tokenizer, device, reference_style: bool,
                     seconds: float | None = None, compiled: bool = False, workers: int = 0) -> dict:
    """Samples/s and tokens/s of the training loop (``seconds``: run for that long instead of steps);
    ``compiled``: under torch.compile (its compilation falls in the warm-up steps); ``workers``:
    batch-building processes."""
    cfg = generator_settings(size, reference_style)
    cf_dim = 64 if size["backbone"] == "tiny" else 512
    model = build_model(size["backbone"], tokenizer, data.n_users, cf_dim, cfg.neighbors, cfg, 0).to(device)
    use_hugging_face_forward(model, reference_style)  # the reference: Hugging Face's own T5 forward
    if compiled:
        compile_model(model, device)
    cuda = device.type == "cuda"
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4, fused=cuda or None)
    batches = Batches(data, tokenizer, templates, cfg, 0, pad_multiple=8 if cuda and not reference_style else 1,
                      pin_memory=cuda and not reference_style)
    precision = contextlib.nullcontext if reference_style else (lambda: autocast(device))
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    stream = (b for epoch in range(10**6) for _, b in batches.iterate(epoch, workers=workers))
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    model.train()
    samples = tokens = steps = 0
    for step in range(10**9):
        if step == size["warmup"]:
            sync()
            start, samples, tokens = time.perf_counter(), 0, 0
        batch = next(stream)
        n_tokens = int(batch["attention_mask"].sum()) + int((batch["labels"] != -100).sum())  # on the host
        batch = to_device(batch, device)
        with precision():
            loss = model(batch).loss if reference_style else model.training_loss(batch)  # as train_step
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        samples += batch["input_ids"].shape[0]
        tokens += n_tokens
        if step >= size["warmup"]:
            steps += 1
            if (seconds is None and steps >= size["steps"]) or (seconds and time.perf_counter() - start >= seconds):
                break
    sync()
    elapsed = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    return {"samples_per_s": samples / elapsed, "tokens_per_s": tokens / elapsed, "steps": steps, "peak_gib": peak,
            "model": model}


def evaluation_times(size: dict, model, data, templates, tokenizer, device, root: Path) -> dict[str, float]:
    """Seconds per 1,000 users of each evaluation method on the demo's test split."""
    from peapod.data.p5 import read_p5_directory
    from peapod.data.tables import TABLE_NAMES, build_tables, write_dataset
    from peapod.evaluation.evaluate import EvalData, EvalSettings, RunEvaluator
    from peapod.data.demo import DemoConfig, write_demo_dataset

    demo = DemoConfig(n_users=max(size["eval_users"], 200), n_items=240, n_groups=8, seed=0)
    write_demo_dataset(demo, root / "raw")
    tables = build_tables(read_p5_directory(root / "raw"), "bench")
    write_dataset(tables, {n: root / "data" / f"{n}.parquet" for n in TABLE_NAMES}, root / "data" / "stats.json")
    test = EvalData.from_directory(root / "data", "test")
    model.eval()
    out = {}
    for name, task, settings in (("sequential, beam 20", "sequential", {}),
                                 ("top-n, beam (paper's)", "topn", {"topn_methods": ("beam",)}),
                                 ("top-n, beam_candidates", "topn", {"topn_methods": ("beam_candidates",)}),
                                 ("top-n, scoring", "topn", {"topn_methods": ("scoring",)})):
        evaluator = RunEvaluator(model, tokenizer, templates, EvalSettings(max_users=size["eval_users"], **settings),
                                 test.catalogue, device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        getattr(evaluator, task)(test)
        if device.type == "cuda":
            torch.cuda.synchronize()
        out[name] = (time.perf_counter() - t0) / size["eval_users"] * 1000
    return out


def share_child(size_name: str, seconds: float) -> None:
    """One of k concurrent training processes: prints its samples/s as JSON."""
    size = SIZES[size_name]
    device = pick_device()
    data, templates, tokenizer = setup(size)
    r = train_throughput(size, data, templates, tokenizer, device, reference_style=False, seconds=seconds,
                         workers=int(os.environ.get("PEAPOD_SHARE_WORKERS", "0")))
    print(json.dumps({"samples_per_s": r["samples_per_s"]}))


def sharing(size_name: str) -> dict[int, float]:
    """Total samples/s of k training processes sharing the device, for each k."""
    size, totals = SIZES[size_name], {}
    for k in size["share"]:
        cmd = [sys.executable, __file__, "--share-child", size_name]
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=os.environ) for _ in range(k)]
        rates = [json.loads(p.communicate()[0].strip().splitlines()[-1])["samples_per_s"] for p in procs]
        totals[k] = sum(rates)
    return totals


def real_prompt_rows(size_name: str, data_dir: Path, device) -> None:
    """Training on a real dataset's prompts with the workflow's own session and step
    (bench_train_step.measure): T5-small's shape, POD, batch 64, plain and with torch.compile and
    batch-building workers; then torch.profiler over 10 plain steps (GPU kernels, host time)."""
    from bench_train_step import arguments, measure

    small = size_name == "full"
    common = ["--data", str(data_dir), "--device", str(device), "--backbone", "t5-small" if small else "tiny",
              "--overrides", json.dumps({"user_prompt": "none", "batch_size": 64 if small else 8}),
              "--warmup", "20" if small else "1", "--steps", "150" if small else "3"]
    print(f"training on real prompts ({data_dir}), {'T5-small shape' if small else 'tiny'}, POD, batch "
          f"{64 if small else 8}, the workflow's Session and train_step:")
    fast = ("compiled, 4 loader workers", ["--compile", "--workers", "4"]) if small else (
        "2 loader workers", ["--workers", "2"])  # compilation alone takes minutes on a small CPU
    for label, extra in (("plain", ["--profile", "10" if small else "1"]), fast):
        try:
            out = measure(arguments(common + extra))
        except Exception as error:  # report and go on: the other rows still count
            print(f"  {label:<28} failed: {type(error).__name__}: {str(error)[:300]}")
            continue
        table = out.pop("profile", None)
        print(f"  {label:<28} {out['samples_per_s']:>9.1f} samples/s (warm-up {out['warmup_s']} s, "
              f"losses {json.dumps({t: out[t]['mean_loss'] for t in ('sequential', 'topn') if t in out})})")
        if table:
            print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on whatever device there is (seconds)")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / "results" / "beauty" / "data"),
                        help="a real dataset's data-stage tables (skipped when absent)")
    parser.add_argument("--share-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    offline()
    if args.share_child:
        share_child(args.share_child, SIZES[args.share_child]["share_seconds"])
        return
    size_name = "smoke" if args.smoke else "full"
    size = SIZES[size_name]
    device = pick_device()
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"gpu_suite ({size_name}): {name}; ours: {describe_precision(device)}; torch {torch.__version__}", flush=True)
    data, templates, tokenizer = setup(size)
    print(f"training: {size['backbone']} shape, random weights, batch {size['batch']}, "
          f"{size['warmup']} warm-up + {size['steps']} timed steps")
    rows = {"reference-style (mixed, pads in loss, fp32)": dict(reference_style=True),
            "ours (task, masked, bf16 if native)": dict(reference_style=False),
            "ours, 4 loader workers": dict(reference_style=False, workers=4),
            "ours, compiled, 4 loader workers": dict(reference_style=False, compiled=True, workers=4)}
    if size_name == "smoke":  # compilation alone takes minutes on a small CPU
        rows.pop("ours, compiled, 4 loader workers")
    results = {}
    for label, settings in rows.items():
        try:
            results[label] = train_throughput(size, data, templates, tokenizer, device, **settings)
        except Exception as error:  # e.g. torch.compile unavailable: the other rows still count
            print(f"  {label:<45} failed: {type(error).__name__}: {str(error)[:300]}")
            continue
        r = results[label]
        peak = f"peak {r['peak_gib']:.2f} GiB" if device.type == "cuda" else "peak n/a on CPU"
        print(f"  {label:<45} {r['samples_per_s']:>9.1f} samples/s {r['tokens_per_s']:>11,.0f} tokens/s "
              f"{peak}  ({r['samples_per_s'] / REFERENCE_SAMPLES_PER_S:.2f}x POD's 218/s)", flush=True)
    ref, ours = (results.get(label) for label in list(rows)[:2])
    if ref and ours:
        print(f"  ours / reference-style: {ours['samples_per_s'] / ref['samples_per_s']:.2f}x samples/s, "
              f"{ours['tokens_per_s'] / ref['tokens_per_s']:.2f}x tokens/s")
    with tempfile.TemporaryDirectory() as tmp:
        times = evaluation_times(size, ours["model"], data, templates, tokenizer, device, Path(tmp))
    print(f"evaluation ({size['eval_users']} users, batch 32), seconds per 1,000 users:")
    for method, per_1000 in times.items():
        print(f"  {method:<24} {per_1000:>8.1f} s   (Sports' {SPORTS_USERS:,} users: "
              f"{per_1000 * SPORTS_USERS / 1000 / 60:.1f} min)", flush=True)
    del ours, ref, results
    if device.type == "cuda":
        torch.cuda.empty_cache()
    if Path(args.data).is_dir():
        real_prompt_rows(size_name, Path(args.data), device)
    else:
        print(f"training on real prompts: skipped, no data-stage tables at {args.data}")
    totals = sharing(size_name)
    print(f"sharing one device ({size['share_seconds']:.0f} s each), total samples/s by concurrent runs:")
    for k, total in totals.items():
        print(f"  {k} run(s): {total:>9.1f} samples/s ({total / totals[1]:.2f}x one run)")


if __name__ == "__main__":
    main()
