"""Scale benchmark: synthetic P5 data at Sports size and at N x Sports size through the data,
embedding (PMF) and neighbour stages; wall time and peak resident memory per stage.

    nice -n 10 env PYTHONPATH=src python benchmarks/bench_scale.py --scales 1 10 [--pmf-epochs 2]
        [--slow-models] [--slow-max-scale 1]

Each stage runs in its own subprocess (this script with ``--stage``) so its peak RSS (ru_maxrss,
interpreter and libraries included) is its own. Embedding and neighbour settings come from the
paper's config (512 dims, k = 20, 256 MiB similarity blocks); only the epoch counts are reduced.
Seconds per epoch is the fit time (setup included: negative sampling, cornac's dataset) over the
epochs run, so the projection to the config's epochs is an upper bound.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MEMORY_BUDGET_GIB = 24  # the target machine class: a 24 GiB workstation
EPOCH_KEY = {"pmf": "max_iter", "bivae": "n_epochs", "lightgcn": "epochs"}  # each settings' epoch field
SLOW_MODELS = ("bivae", "lightgcn")  # ~150 s per epoch on CPU at Beauty size: opt-in, 1 epoch


def stage_generate(work: Path, scale: float, args) -> dict:
    from peapod.data.synthetic import SPORTS, write_synthetic_p5

    sizes = (int(SPORTS[key] * scale) for key in ("users", "items", "interactions"))
    write_synthetic_p5(work / "raw", *sizes)
    return {}


def stage_data(work: Path, scale: float, args) -> dict:
    from peapod.data.preprocess import preprocess_dataset
    from peapod.data.tables import TABLE_NAMES

    outputs = {name: str(work / "data" / f"{name}.parquet") for name in TABLE_NAMES}
    outputs["stats"] = str(work / "data" / "stats.json")
    raw = {
        "sequences": str(work / "raw" / "sequential_data.txt"),
        "datamaps": str(work / "raw" / "datamaps.json"),
    }
    preprocess_dataset("scale", {"source": "p5"}, raw, outputs)
    return {}


def stage_embeddings(work: Path, scale: float, args, model: str) -> dict:
    """The workflow's train_embeddings step (fit, write vectors, top-n metrics) with fewer epochs."""
    import torch  # noqa: F401  (imports count to the stage, not to the per-epoch fit time)

    from peapod.embeddings.stage import train_embeddings

    if model != "lightgcn":
        import cornac.models  # noqa: F401

    config = load_config(args.config)["embeddings"]
    epochs = args.pmf_epochs if model == "pmf" else 1
    full_epochs = config[model][EPOCH_KEY[model]]
    config[model] = {**config[model], EPOCH_KEY[model]: epochs}
    names = ("sequences", "users", "items", "candidates")
    tables = {name: work / "data" / f"{name}.parquet" for name in names}
    out = work / "embeddings" / model
    outputs = {"embeddings": out / "user_embeddings.parquet", "metrics": out / "metrics.json"}
    record = train_embeddings("scale", model, tables, outputs, config)
    per_epoch = record["fit_seconds"] / epochs
    return {
        "note": f"{config['dim']} dims, {epochs} epoch(s): fit {record['fit_seconds']:.1f} s, "
        f"{per_epoch:.1f} s/epoch, <= {per_epoch * full_epochs / 60:.1f} min for {full_epochs}"
    }


def stage_neighbors(work: Path, scale: float, args) -> dict:
    from peapod.neighbors import block_rows_for, build_neighbors_stage

    config = load_config(args.config)["neighbors"]
    embeddings = work / "embeddings" / "pmf" / "user_embeddings.parquet"
    build_neighbors_stage(embeddings, work / "neighbors.parquet", config["k"], config["block_mib"])
    n_users = json.loads((work / "data" / "stats.json").read_text())["users"]
    rows = block_rows_for(n_users, config["block_mib"])
    return {"note": f"k = {config['k']}, {config['block_mib']} MiB blocks ({rows} rows each)"}


def stages(scale: float, args) -> list[str]:
    names = ["generate", "data", "embeddings:pmf"]
    if args.slow_models and scale <= args.slow_max_scale:
        names += [f"embeddings:{model}" for model in SLOW_MODELS]
    return names + ["neighbors"]


def load_config(path: str) -> dict:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def run_in_child(stage: str, work: Path, scale: float, args) -> None:
    """Child side of ``--stage``: run one stage and print its JSON record on the last line."""
    name, _, model = stage.partition(":")
    start = time.perf_counter()
    if name == "embeddings":
        info = stage_embeddings(work, scale, args, model)
    else:
        run = {"generate": stage_generate, "data": stage_data, "neighbors": stage_neighbors}[name]
        info = run(work, scale, args)
    seconds = time.perf_counter() - start
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux reports KiB
    print(json.dumps({"seconds": seconds, "peak_gib": peak_gib, **info}))


def run_stage(stage: str, work: str, scale: float, args) -> dict:
    """Run one stage in a fresh interpreter (its own peak RSS) and return its record.

    Linux carries the parent's RSS at fork into the child's ru_maxrss, so this parent process
    stays light (no numpy, no data) for the child's figure to be the stage's own."""
    command = [sys.executable, __file__, "--stage", stage, "--work", work, "--scales", str(scale),
               "--pmf-epochs", str(args.pmf_epochs), "--config", args.config]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"stage {stage} at scale {scale:g} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def total_ram_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0], help="multiples of Sports")
    parser.add_argument("--pmf-epochs", type=int, default=2, help="PMF epochs timed (the paper: 100)")
    parser.add_argument("--slow-models", action="store_true", help="also BiVAE and LightGCN, 1 epoch each")
    parser.add_argument("--slow-max-scale", type=float, default=1.0, help="largest scale for the slow models")
    parser.add_argument("--config", default=str(ROOT / "config" / "paper.yaml"), help="embeddings, neighbors")
    parser.add_argument("--stage", help=argparse.SUPPRESS)  # internal: run one stage in this process
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        run_in_child(args.stage, Path(args.work), args.scales[0], args)
        return

    print(f"machine: {os.cpu_count()} CPUs, {total_ram_gib():.1f} GiB RAM; config {args.config}")
    print(f"{'scale':>6} {'stage':<20} {'seconds':>9} {'peak GiB':>9}")
    peaks = []
    for scale in args.scales:
        with tempfile.TemporaryDirectory() as work:
            for stage in stages(scale, args):
                record = run_stage(stage, work, scale, args)
                peaks.append((scale, stage, record["peak_gib"]))
                note = f"  {record['note']}" if "note" in record else ""
                row = f"{scale:>6g} {stage:<20} {record['seconds']:>9.1f} {record['peak_gib']:>9.2f}"
                print(row + note, flush=True)
                if stage == "data":
                    stats = json.loads((Path(work) / "data" / "stats.json").read_text())
                    print(f"{'':>6} {stats['users']:,} users, {stats['items']:,} items, "
                          f"{stats['reviews']:,} interactions")  # fmt: skip
    scale, stage, peak = max(peaks, key=lambda p: p[2])
    fits = peak <= MEMORY_BUDGET_GIB
    print(f"largest stage peak: {peak:.2f} GiB ({stage} at {scale:g}x): "
          f"{'every stage fits' if fits else 'it does NOT fit'} in {MEMORY_BUDGET_GIB} GiB")  # fmt: skip


if __name__ == "__main__":
    main()
