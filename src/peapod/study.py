"""The study a config plans, said at the start of every run (and dry run): its datasets, variants and
seeds, what the tables compare, the long jobs, and a rough time from what earlier runs recorded.

The times come from the long rules' Snakemake benchmark files (``results/<dataset>/benchmarks/``,
one per finished job): a job still to run is estimated by the median time of the recorded jobs of
its kind (the same rule, dataset and variant or model; else the same rule and dataset). Times of
another dataset are not used, and where nothing is recorded the plan says so rather than guess.
"""

from __future__ import annotations

import csv
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from peapod import paths
from peapod.progress import format_seconds

# Each long rule, with the file among the default target's inputs that stands for one of its jobs
# (an evaluated run implies its training).
LONG_RULES = {
    "train_embeddings": paths.CF_METRICS,
    "build_neighbors": paths.NEIGHBORS,
    "train_generator": paths.RUN_METRICS,
    "evaluate_generator": paths.RUN_METRICS,
    "train_baseline": paths.baseline_file("metrics.parquet"),
}
JOB_NAMES = {
    "train_embeddings": "CF model training",
    "build_neighbors": "neighbour table",
    "train_generator": "generator training",
    "evaluate_generator": "evaluation",
    "train_baseline": "RecBole baseline training",
}
_WILDCARD = re.compile(r"\{(\w+)(?:,[^}]*)?\}")


def _jobs_of(rule: str, n: int) -> str:
    return f"{n} {JOB_NAMES[rule]}" + ("" if n == 1 else "s")


@dataclass(frozen=True)
class Job:
    rule: str
    wildcards: tuple[tuple[str, str], ...]

    @property
    def values(self) -> dict[str, str]:
        return dict(self.wildcards)


def _pattern_regex(pattern: str) -> re.Pattern:
    parts, last = [], 0
    for match in _WILDCARD.finditer(pattern):
        parts += [re.escape(pattern[last:match.start()]), f"(?P<{match.group(1)}>[^/]+)"]
        last = match.end()
    return re.compile("".join(parts) + re.escape(pattern[last:]) + "$")


def long_jobs(targets: Iterable[str]) -> list[Job]:
    """The long rules' jobs that the target files (the default target's inputs) stand for."""
    regexes = {rule: _pattern_regex(pattern) for rule, pattern in LONG_RULES.items()}
    jobs = []
    for target in dict.fromkeys(map(str, targets)):
        for rule, regex in regexes.items():
            match = regex.match(target)
            if match:
                jobs.append(Job(rule, tuple(match.groupdict().items())))
    return jobs


def _fill(pattern: str, values: Mapping[str, str]) -> str:
    """``pattern`` with the given wildcards filled and the others as ``*`` (a glob)."""
    return _WILDCARD.sub(lambda m: values.get(m.group(1), "*"), pattern)


def recorded_seconds(path: str | Path) -> float | None:
    """The wall time of a Snakemake benchmark file (its ``s`` column; the mean of repeats), or
    None when the file is absent or holds no time."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            times = [float(row["s"]) for row in csv.DictReader(handle, delimiter="\t") if row.get("s")]
    except (OSError, ValueError, KeyError):
        return None
    return sum(times) / len(times) if times else None


def _recorded(glob: str, root: Path) -> list[float]:
    times = (recorded_seconds(p) for p in sorted(root.glob(glob)))
    return [t for t in times if t is not None]


@dataclass
class Estimate:
    """Long jobs and their times: those that ran (their own benchmark file exists), those still to
    run with a time estimated from recorded jobs of their kind, and those with none (by rule)."""

    jobs: int = 0
    ran: int = 0
    ran_seconds: float = 0.0
    estimated: int = 0
    seconds: float = 0.0
    unknown: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        if not self.ran and not self.estimated:
            return ("no recorded job times yet (each long job records its time in results/<dataset>/benchmarks/; "
                    "the next run estimates from them)")
        parts = []
        if self.estimated:
            parts.append(f"about {format_seconds(self.seconds)} of job time for {self.estimated} long job(s) still to "
                         "run, from recorded jobs of the same rule on the same dataset (summed: jobs side by side "
                         "end sooner)")
        if self.unknown:
            counts = ", ".join(_jobs_of(rule, n) for rule, n in self.unknown.items())
            parts.append(f"{sum(self.unknown.values())} still to run with no recorded time on their dataset ({counts})")
        if self.ran:
            parts.append(f"{self.ran} of {self.jobs} already ran ({format_seconds(self.ran_seconds)}; "
                         "skipped unless their inputs or settings changed)")
        return ";\n        ".join(parts)


def estimate(jobs: Iterable[Job], benchmarks: Mapping[str, str], root: str | Path = ".",
             all_to_run: bool = False) -> Estimate:
    """The time of ``jobs`` from the benchmark files under ``root`` (``benchmarks``: rule -> its
    benchmark pattern, e.g. results/{dataset}/benchmarks/train_generator/{variant}/seed{seed}.tsv).
    ``all_to_run``: every job will run (Snakemake said so), its own earlier record its estimate."""
    root = Path(root)
    result = Estimate()
    peers: dict[str, list[float]] = {}  # glob -> recorded times, read once
    for job in jobs:
        result.jobs += 1
        pattern = benchmarks[job.rule]
        own = recorded_seconds(root / _fill(pattern, job.values))
        if own is not None and all_to_run:
            result.estimated += 1
            result.seconds += own
            continue
        if own is not None:
            result.ran += 1
            result.ran_seconds += own
            continue
        kind = {k: v for k, v in job.values.items() if k != "seed"}
        times: list[float] = []
        for values in (kind, {"dataset": job.values["dataset"]}):
            glob = _fill(pattern, values)
            times = peers.setdefault(glob, _recorded(glob, root))
            if times:
                break
        if times:
            result.estimated += 1
            result.seconds += statistics.median(times)
        else:
            result.unknown[job.rule] = result.unknown.get(job.rule, 0) + 1
    return result


# Training rates measured by benchmarks/README.md (bench_training.py, task batches, fp32, 2 shared CPU
# cores, 2026-11-22), the basis of the first estimate before any job of a dataset has a record.
MEASURED_RATES = {"tiny": 594.3, "t5-small": 1.9}  # samples per second
RATE_BASIS = "benchmarks/README.md's training rate of the {backbone} backbone on 2 CPU cores"


def samples_per_epoch(stats: Mapping[str, Any], tasks: Iterable[str]) -> int:
    """Training samples of one epoch from a dataset's stats.json: one per user for the sequential
    and top-n tasks, one per training explanation (peapod.generator.data's units)."""
    per_task = {"sequential": stats["users"], "topn": stats["users"],
                "explanation": stats.get("explanations", {}).get("train", 0)}
    return sum(per_task.get(task, 0) for task in tasks)


def first_estimate(trainings: Iterable[tuple[str, Any]], root: str | Path = ".") -> str:
    """Before any record: the time of the generator trainings' steps (``trainings``: (dataset,
    GeneratorConfig) of each), epochs x samples per epoch / a rate measured in benchmarks/, with
    its basis stated; or what it waits for (the data stage's statistics, a measured rate)."""
    import json

    seconds, basis, waiting = 0.0, {}, set()
    for dataset, run in trainings:
        stats_path = Path(root) / paths.DATASET_STATS.format(dataset=dataset)
        rate = MEASURED_RATES.get(run.backbone)
        if rate is None or not stats_path.is_file():
            waiting.add(f"a rate is measured for {run.backbone}" if rate is None else "the data stage has run")
            continue
        samples = samples_per_epoch(json.loads(stats_path.read_text(encoding="utf-8")), run.tasks)
        seconds += run.epochs * samples / rate
        basis.setdefault(run.backbone, []).append(f"{run.epochs} epochs x {samples:,} samples")
    parts = []
    if basis:
        counted = sum(map(len, basis.values()))
        ways = "; ".join(f"{', '.join(dict.fromkeys(runs))} at {MEASURED_RATES[b]:g} samples/s ("
                         f"{RATE_BASIS.format(backbone=b)})" for b, runs in basis.items())
        parts.append(f"about {format_seconds(seconds)} of generator training steps for {counted} run(s): {ways}; "
                     "plus each job's start-up, validation and learning checks; early stopping ends sooner; "
                     "other jobs are not counted")
    if waiting:
        parts.append("the generator's time follows from the samples per epoch once "
                     + " and ".join(sorted(waiting)) + " (`snakemake data`): epochs x samples "
                     "per epoch / a measured rate, e.g. " + ", ".join(f"{r:g} samples/s for {b}" for b, r in
                                                                   MEASURED_RATES.items()) + " on 2 CPU cores "
                     "(benchmarks/README.md)")
    return ";\n        ".join(parts)


def _listed(values: Iterable[Any]) -> str:
    return ", ".join(map(str, values)) or "none"


def plan_header(targets: Iterable[str] | None) -> str:
    """The plan's first line: it covers the default target; a command naming others is told so
    (``targets``: those named, None when the command is not known)."""
    named = [t for t in (targets or ()) if t != "all"]
    if targets is not None and not named:
        return "Study planned by this config (snakemake's default target, all):"
    asked = f"this command asks for {', '.join(named)}" if named else "this command's targets are not known here"
    return (f"Study planned by this config (the whole config, snakemake's default target, all; {asked}: "
            "Snakemake's job table lists its jobs, and a run that is not dry counts its long jobs when it starts):")


def targets_plan(dag_jobs: Iterable[tuple[str, Mapping[str, str]]], benchmarks: Mapping[str, str],
                 targets: Iterable[str], root: str | Path = ".") -> str:
    """The long jobs Snakemake will run for the targets named and their time (``dag_jobs``: (rule,
    wildcards) of each job it will run, from its job graph)."""
    jobs = [Job(rule, tuple(sorted((k, str(v)) for k, v in wildcards.items())))
            for rule, wildcards in dag_jobs if rule in LONG_RULES]
    counts = {rule: sum(job.rule == rule for job in jobs) for rule in LONG_RULES}
    listed = ", ".join(_jobs_of(rule, n) for rule, n in counts.items() if n) or "none"
    return "\n".join([f"Jobs this command runs for {', '.join(targets)}:", f"  long jobs: {listed}",
                      "  time: " + (estimate(jobs, benchmarks, root, all_to_run=True).line() if jobs else "no long job")])


def study_summary(config: dict[str, Any], plan: Any, settings: Mapping[tuple[str, str], Any],
                  targets: Iterable[str], benchmarks: Mapping[str, str], root: str | Path = ".",
                  asked: Iterable[str] | None = ()) -> str:
    """The plan of a run, a few lines for the terminal.

    ``config``: the validated config with its defaults; ``plan``: its AggregationPlan
    (peapod.aggregate.settings.make_plan); ``settings``: each (dataset, variant)'s generator
    settings; ``targets``: the default target's input files; ``benchmarks``: rule -> benchmark
    pattern of the long rules; ``asked``: the targets the command names (plan_header)."""
    jobs = long_jobs(targets)
    trained = [job.values for job in jobs if job.rule == "train_generator"]
    ordered = [plan.default_variant, plan.baseline_variant, *plan.table_variants, *(t["variant"] for t in trained)]
    variants = [v for v in dict.fromkeys(ordered) if any(t["variant"] == v for t in trained)]
    labels = config["aggregate"]["labels"]
    seeds = list(plan.seeds)
    lines = [plan_header(asked),
             f"  datasets: {_listed(config['datasets'])}",
             f"  variants: {_listed(variants)} at seeds {_listed(seeds)}"]
    default, baseline = plan.default_variant, plan.baseline_variant
    if baseline is None:
        missing = config["aggregate"]["baseline_variant"]
        lines.append(f"  tables: no {missing!r} run (aggregate.baseline_variant is not under variants:), so no "
                     f"paired test of {labels.get(default, default)} against it")
    elif len(seeds) < 2:
        lines.append(f"  tables: {labels.get(default, default)} against {labels.get(baseline, baseline)}, but one "
                     "seed: no t-test (it needs 2 or more)")
    else:
        lines.append(f"  tables: {labels.get(default, default)} against {labels.get(baseline, baseline)}, "
                     f"paired t-tests over {len(seeds)} seeds")
    if plan.ablations:
        lines.append(f"  ablations: {_listed(plan.ablations)}")
    described: dict[str, list[str]] = {}  # the generator's cost settings -> datasets
    for dataset in config["datasets"]:
        run = settings.get((dataset, default))
        if run is not None:
            text = (f"{run.backbone} backbone, at most {run.epochs} epochs (patience {run.patience}), "
                    f"{run.negatives} negatives per top-n training prompt")
            described.setdefault(text, []).append(dataset)
    for text, datasets in described.items():
        where = "" if len(described) == 1 else f" on {_listed(datasets)}"
        lines.append(f"  generator ({default}{where}): {text}")
    models = config["baselines"]["models"]
    baselines = (f"{_listed(models)} at seeds {_listed(config['baselines']['seeds'])}" if models
                 else "none (baselines.models)")
    lines.append(f"  CF models: {_listed(config['embeddings']['models'])}; RecBole baselines: {baselines}")
    counts = {rule: sum(job.rule == rule for job in jobs) for rule in LONG_RULES}
    lines.append("  long jobs: " + (", ".join(_jobs_of(rule, n) for rule, n in counts.items() if n) or "none"))
    times = estimate(jobs, benchmarks, root)
    lines.append("  time: " + times.line())
    if not times.ran and not times.estimated:
        first = first_estimate([(t["dataset"], settings[t["dataset"], t["variant"]]) for t in trained], root)
        if first:
            lines.append("  before any record: " + first)
    return "\n".join(lines)


def setting_warnings(settings: Mapping[tuple[str, str], Any], runs: Iterable[tuple[str, str, int]],
                     evaluated_negatives: int) -> list[str]:
    """Each deliberate setting worth a warning, once for the whole run (the jobs write it to their
    logs only): top-n training prompts with fewer candidates than the evaluation's
    (``evaluated_negatives``: preprocess.n_negatives), as in peapod.generator.train."""
    fewer: dict[int, list[str]] = {}
    for dataset, variant, _ in runs:
        run = settings[dataset, variant]
        if "topn" in run.tasks and run.negatives < evaluated_negatives:
            where = fewer.setdefault(run.negatives, [])
            if f"{dataset}/{variant}" not in where:
                where.append(f"{dataset}/{variant}")
    return [f"WARNING: generator.negatives is {n} ({_listed(where)}): top-n training prompts carry {n + 1} "
            f"candidates, evaluation prompts {evaluated_negatives + 1}, so positions and whole-word ids beyond the "
            f"training prompts' are never trained; set generator.negatives: {evaluated_negatives} to train on "
            "prompts like the evaluation's (each job's log says it too)" for n, where in fewer.items()]


def closing_block(groups: Mapping[str, Iterable[str]], report_command: str, root: str | Path = ".") -> str:
    """What a finished run prints last: the files to open that exist now, by kind (``groups``: kind ->
    files), and how to build the HTML report. Kinds with no file yet are left out; with none at all
    the block says how to make them."""
    root = Path(root)
    lines = ["Done. To look at:"]
    for kind, files in groups.items():
        present = [f for f in dict.fromkeys(map(str, files)) if (root / f).exists()]
        if present:
            shown = present if len(present) <= 4 else [*present[:3], f"... ({len(present)} files)"]
            lines.append(f"  {kind + ':':<9} {shown[0]}")
            lines += [f"  {'':<9} {f}" for f in shown[1:]]
    if len(lines) == 1:
        lines.append("  no tables or figures yet: `snakemake` (the default target) makes them")
    else:
        lines.append(f"  {'report:':<9} {report_command}  (every table, figure and verdict with captions)")
    return "\n".join(lines)
