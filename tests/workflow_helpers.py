"""Running Snakemake on a scratch copy of the workflow, and reading what a dry run plans."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO

SNAKEMAKE = [sys.executable, "-m", "snakemake"]

# For whole-workflow runs in the tests: generator jobs on one thread each, so that two jobs share
# the two cores. Two-thread torch jobs beside another test's jobs wait on each other's threads: the
# demo took 40 minutes that way under CI (each training 4x slower than alone), against 2 minutes per
# training with a core to itself.
ONE_THREAD_PER_JOB = ["--set-threads", "train_generator=1", "evaluate_generator=1"]


def workflow_copy(tmp_path: Path) -> Path:
    """The workflow files in a scratch directory, so runs never touch the repository's results/."""
    work = tmp_path / "wf"
    work.mkdir()
    for name in ("Snakefile", "workflow", "config", "profiles", "envs", "resources/reported"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / name)
    return work


# The running test's time limit (pytest-timeout's, set by tests/conftest.py for each test): a helper
# waits at most a minute less, so that its own message, naming the command, is what a hang shows.
TEST_LIMIT_S = 600.0


def helper_wait_s() -> float:
    return max(30.0, TEST_LIMIT_S - 60.0)


def run(args, cwd, check=True, timeout: float | None = None):
    """Snakemake in ``cwd``, waited for until a minute before the test's own limit (``timeout``:
    less)."""
    wait = min(timeout or helper_wait_s(), helper_wait_s())
    try:
        proc = subprocess.run(SNAKEMAKE + args, cwd=cwd, capture_output=True, text=True, timeout=wait)
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"snakemake {' '.join(args)} did not finish in {wait:.0f} s (the test's limit is "
                             f"{TEST_LIMIT_S:.0f} s):\n{(error.stdout or b'')[-3000:]!r}") from None
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def paper_workflow(tmp_path: Path) -> Path:
    """A workflow copy with stand-in P5 files for the paper's datasets (a dry run reads no data)."""
    work = workflow_copy(tmp_path)
    for name in ("sports", "beauty", "toys"):
        d = work / "resources" / "p5" / name
        d.mkdir(parents=True)
        (d / "sequential_data.txt").write_text("1 1 2 3\n")
    return work


def dry_run(work: Path, args: list[str], cores: int = 8) -> subprocess.CompletedProcess:
    """A dry run of ``args``: its stdout lists the jobs, its stderr starts with the study's plan."""
    return run([*args, "-n", "--cores", str(cores), "--resources", "gpu=1"], work)  # targets before nargs options


def dry_run_outputs(work: Path, args: list[str], cores: int = 8) -> dict[str, list[str]]:
    """rule -> the first output file of each of its jobs in a dry run of ``args``."""
    return planned_outputs(dry_run(work, args, cores).stdout)


def planned_outputs(stdout: str) -> dict[str, list[str]]:
    """rule -> the first output file of each of its jobs, read from a dry run's stdout."""
    jobs: dict[str, list[str]] = {}
    rule = None
    for line in stdout.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] in ("rule", "localrule") and words[1].endswith(":"):
            rule = words[1][:-1]
            jobs.setdefault(rule, [])
        elif rule and line.strip().startswith("output:"):
            jobs[rule].append(line.split(":", 1)[1].split(",")[0].strip())
        elif rule and line.strip().startswith("jobid:") and rule.startswith("ablation_"):
            jobs[rule].append("")  # a target rule has no output
    return jobs


def dry_run_resources(work: Path, args: list[str]) -> dict[str, list[dict[str, str]]]:
    """rule -> the resources each of its jobs would request, as a dry run of ``args`` prints them."""
    proc = run([*args, "-n"], work)
    jobs: dict[str, list[dict[str, str]]] = {}
    rule = None
    for line in proc.stdout.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] in ("rule", "localrule") and words[1].endswith(":"):
            rule = words[1][:-1]
        elif rule and line.strip().startswith("resources:"):
            pairs = (item.strip().split("=", 1) for item in line.split(":", 1)[1].split(","))
            jobs.setdefault(rule, []).append({k: v for k, v in pairs})
            rule = None
    return jobs


def request_dirs(work: Path, dataset: str = "demo") -> list[Path]:
    """The recommendation requests written in ``work`` (each directory with its request.json)."""
    return sorted(p.parent for p in (work / "results" / dataset / "recommendations").glob("*/request.json"))


def runs_of(outputs: list[str]) -> set[tuple[str, str]]:
    """(dataset, variant) of results/<dataset>/runs/<variant>/<run_key>/seed<k>/... paths."""
    return {(Path(o).parts[1], Path(o).parts[3]) for o in outputs}


# Where the demo config's (config/config.yaml) tables, aggregate and figures go (peapod.paths).
DEMO_STUDY_DIR = "results/studies/demo"


def config_of(path: Path) -> dict:
    """A config file read as the workflow reads it: validated, its defaults filled."""
    import yaml

    from peapod.config import with_defaults

    return with_defaults(yaml.safe_load(Path(path).read_text()))


def run_dir(results: Path, config: dict, variant: str, seed: int, dataset: str = "demo") -> Path:
    """The folder of one run of ``config`` under ``results``: named by its settings' key."""
    from peapod.generator.runs import run_path
    from peapod.paths import RUN_DIR

    return Path(run_path(RUN_DIR, config, dataset, variant, seed, root=results))


# One tiny POD run at one seed, trained in seconds: the generator, variant and aggregation settings
# that the run-loop and recommendation tests put after their own datasets.
ONE_TINY_POD_RUN = """seeds: [0]
preprocess: {n_negatives: 9}
generator:
  backbone: tiny
  tiny: {d_model: 32, d_ff: 64, num_layers: 1, num_heads: 2, vocab_size: 300, dropout_rate: 0.0}
  batch_size: 16
  negatives: 4
  epochs: 1
variants:
  pod: {user_prompt: none}
aggregate: {default_variant: pod, baseline_variant: pod}
baselines: {models: []}
"""
