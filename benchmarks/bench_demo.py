"""Wall time of the README's demo command, `snakemake --cores 2` on the default config from an
empty results/, before and after the demo's speed settings (benchmarks/demo_before.yaml restores
the old ones), in one sitting; prints the time per rule and the ratio.

    PYTHONPATH=src python benchmarks/bench_demo.py                 # before, then after
    PYTHONPATH=src python benchmarks/bench_demo.py --runs after    # only the current settings

Each run works in a fresh copy of the workflow under a temporary directory (the repository's
results/ is never touched). Job times come from each rule's benchmark files; the test HR@10 of the
paper's top-n beam shows that PeaPOD still finds the planted groups where POD cannot.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "profiles", "envs", "resources/reported", "benchmarks")
OVERLAYS = {"before": ["config/config.yaml", "benchmarks/demo_before.yaml"], "after": []}


def copy_workflow(root: Path) -> Path:
    work = root / "wf"
    work.mkdir(parents=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        dest = work / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest)
    return work


def job_seconds(results: Path) -> dict[str, tuple[int, float]]:
    """rule -> (jobs, summed wall seconds) from the benchmark files of one run."""
    per_rule: dict[str, list[float]] = defaultdict(list)
    for path in results.glob("*/benchmarks/**/*.tsv"):
        relative = path.relative_to(results).parts[2:]  # <rule>/<...>.tsv or <rule>_<wildcards>.tsv
        rule = relative[0] if len(relative) > 1 else next(
            r for r in ("train_embeddings", "build_neighbors", "train_baseline") if relative[0].startswith(r))
        per_rule[rule].append(float(pd.read_csv(path, sep="\t")["s"].iloc[-1]))
    return {rule: (len(times), sum(times)) for rule, times in sorted(per_rule.items())}


def topn_beam_hr10(results: Path) -> dict[str, float]:
    summary = pd.read_csv(results / "aggregate" / "summary.csv")
    rows = summary.query("task == 'topn' and method == 'beam' and metric == 'hr@10' and split == 'test'")
    return {r.variant: round(float(r.mean), 4) for r in rows.itertuples()}


def run(name: str, cores: int) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"bench-demo-{name}-") as tmp:
        work = copy_workflow(Path(tmp))
        command = [sys.executable, "-m", "snakemake", "--cores", str(cores)]
        if OVERLAYS[name]:
            command += ["--configfile", *OVERLAYS[name]]
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=work, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{name}: snakemake failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        results = work / "results"
        return {"wall": wall, "jobs": proc.stdout.count("Finished jobid") + proc.stderr.count("Finished jobid"),
                "rules": job_seconds(results), "hr10": topn_beam_hr10(results)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", choices=list(OVERLAYS), default=list(OVERLAYS))
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    measured = {}
    for name in args.runs:
        measured[name] = run(name, args.cores)
        m = measured[name]
        print(f"{name}: {m['wall']:.0f} s wall ({m['wall'] / 60:.1f} min), {m['jobs']} jobs; "
              f"test top-n HR@10 by the paper's beam: {m['hr10']}", flush=True)
        for rule, (jobs, seconds) in m["rules"].items():
            print(f"  {rule:22s} {jobs:2d} jobs {seconds:7.1f} s job time ({seconds / jobs:5.1f} s each)")
    if {"before", "after"} <= set(measured):
        print(f"after / before: {measured['after']['wall'] / measured['before']['wall']:.2f} "
              f"({measured['before']['wall']:.0f} s -> {measured['after']['wall']:.0f} s)")


if __name__ == "__main__":
    main()
