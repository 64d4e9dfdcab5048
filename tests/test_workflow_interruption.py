"""The whole workflow killed mid-run and started again ends with the metrics of an uninterrupted run;
two runs from scratch give identical metrics tables (CPU, a small demo)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.workflow_helpers import ONE_THREAD_PER_JOB, SNAKEMAKE, dry_run_outputs, run, runs_of, workflow_copy

# The demo's shape, shrunk so that a run from scratch takes a few minutes on 2 cores: every stage,
# PeaPOD, MLP and POD, the heads ablation; one seed (aggregation over seeds is the end-to-end demo's).
SMALL_DEMO = """
datasets:
  demo:
    source: demo
    demo: {n_users: 80, n_items: 60, n_groups: 4, min_length: 6, max_length: 10, explanation_fraction: 0.3}
seeds: [0]
preprocess: {n_negatives: 19}
embeddings:
  models: [pmf]
  dim: 16
  pmf: {max_iter: 5}
neighbors: {k: 10}
generator:
  backbone: tiny
  tiny: {d_model: 32, d_ff: 64, num_layers: 1, num_heads: 2, vocab_size: 300, dropout_rate: 0.1}
  neighbors: 10
  heads: 2
  batch_size: 8
  negatives: 9
  epochs: 4
  patience: 4
  learning_rate: 0.002
variants:
  peapod: {}
  mlp: {user_prompt: mlp}
  pod: {user_prompt: none}
ablations:
  heads: {variants: [mlp, peapod]}
evaluation: {beams: 10, explanation_beams: 2, explanation_min_length: 2, explanation_max_length: 12}
baselines: {models: []}  # the RecBole baselines have their own tests; this one is about the generator
"""

# The small workflow from start to end, as each run below invokes it.
SMALL_RUN = ["--cores", "2", *ONE_THREAD_PER_JOB, "--configfile", "small.yaml"]


def small_workflow(tmp_path: Path, name: str) -> Path:
    (tmp_path / name).mkdir()
    work = workflow_copy(tmp_path / name)
    (work / "small.yaml").write_text(SMALL_DEMO)
    return work


def metrics_tables(work: Path) -> dict[str, pd.DataFrame]:
    """Every run's metrics and the aggregated tables, by path."""
    results = work / "results"
    study = results / "studies" / "small"  # the config file's name
    paths = sorted(results.glob("demo/runs/*/*/seed*/metrics.parquet")) + sorted(study.glob("tables/*.csv"))
    paths += [study / "aggregate" / "summary.csv"]
    return {str(p.relative_to(work)): pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p) for p in paths}


def resumable_runs(work: Path) -> list[Path]:
    """Training runs that have saved their state (last/state.json) and not finished (no run.json)."""
    states = (work / "results" / "demo" / "runs").glob("*/*/seed*/last/state.json")
    return [state.parent.parent for state in states if not (state.parent.parent / "run.json").exists()]


def freeze_with_resumable_training(work: Path, proc: subprocess.Popen, timeout: float = 600) -> Path:
    """Stop the workflow's whole process group (SIGSTOP) at a moment when a training run has saved
    its state and not finished, and return that run's directory. The check is made again after the
    stop, with nothing running, so the run cannot finish between the check and the kill."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if resumable_runs(work):
            os.killpg(proc.pid, signal.SIGSTOP)
            frozen = resumable_runs(work)
            if frozen:
                return frozen[0]
            os.killpg(proc.pid, signal.SIGCONT)  # it finished in between: wait for the next one
        assert proc.poll() is None, "the workflow ended before any training state was saved"
        time.sleep(0.05)
    raise AssertionError(f"no training state within {timeout} s")


@pytest.mark.slow
@pytest.mark.timeout(1200)  # measured 3.7 min on 2 cores, 3 under CI
def test_killed_workflow_resumes_and_two_runs_agree(tmp_path):
    reference = small_workflow(tmp_path, "reference")
    run(SMALL_RUN, reference)

    work = small_workflow(tmp_path, "killed")
    # Snakemake and its jobs in their own process group, killed together as a crash or scancel would.
    proc = subprocess.Popen(SNAKEMAKE + SMALL_RUN, cwd=work,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        run_dir = freeze_with_resumable_training(work, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # also ends stopped processes
        proc.wait()
    assert not (run_dir / "run.json").exists()

    # Started again: a killed Snakemake leaves its lock, so --unlock first (as a user would); the
    # profile reruns incomplete jobs; everything completes and the killed run resumes.
    run(["--unlock", "--configfile", "small.yaml"], work)
    run(SMALL_RUN, work)
    assert json.loads((run_dir / "run.json").read_text())["resumed"] >= 1

    expected, got = metrics_tables(reference), metrics_tables(work)
    assert sorted(got) == sorted(expected) and len(got) >= 3 + 4
    for path, table in expected.items():
        pd.testing.assert_frame_equal(got[path], table, check_exact=True, obj=path)
    again = run([*SMALL_RUN, "-n"], work)
    assert "Nothing to be done" in again.stdout + again.stderr

    # Re-training one ablation after the fact reruns only its own runs (and their downstream).
    jobs = dry_run_outputs(work, ["ablation_heads", "-R", "train_generator", "--configfile", "small.yaml"])
    assert {v for _, v in runs_of(jobs["train_generator"])} == {"mlp", "peapod"}
    assert len(jobs["train_generator"]) == 2 and "preprocess" not in jobs and "collect_metrics" not in jobs


def pod_only(epochs: int) -> str:
    """The small demo with POD alone (no CF stage) and one seed: `snakemake train` makes one run in
    seconds."""
    return SMALL_DEMO.split("variants:")[0].replace("epochs: 4", f"epochs: {epochs}") + (
        "variants:\n  pod: {user_prompt: none}\n"
        "aggregate: {default_variant: pod, baseline_variant: pod}\nbaselines: {models: []}\n")


def files_with_times(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``directory``: its bytes and modification time (ns)."""
    return {str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_changed_setting_trains_a_new_run_and_leaves_the_old_one(tmp_path):
    """A rerun after `epochs` changed trains in a new folder (no traceback asking to delete the old
    one); the old run's files keep their bytes and times, and the old settings still need nothing."""
    work = small_workflow(tmp_path, "changed")
    train = ["train", "--cores", "2", *ONE_THREAD_PER_JOB, "--configfile", "pod.yaml"]
    (work / "pod.yaml").write_text(pod_only(epochs=2))
    run(train, work)
    [old] = (work / "results" / "demo" / "runs" / "pod").glob("*/seed0")
    before = files_with_times(old)
    assert "run.json" in before and "model.safetensors" in before

    (work / "pod.yaml").write_text(pod_only(epochs=3))
    run(train, work)
    runs = sorted((work / "results" / "demo" / "runs" / "pod").glob("*/seed0"))
    [new] = [r for r in runs if r != old]
    assert len(runs) == 2 and json.loads((new / "run.json").read_text())["config"]["epochs"] == 3
    assert files_with_times(old) == before
    assert json.loads((old / "run.json").read_text())["config"]["epochs"] == 2

    (work / "pod.yaml").write_text(pod_only(epochs=2))  # back to the first settings: its run stands
    again = run([*train, "-n"], work)
    assert "Nothing to be done" in again.stdout + again.stderr
