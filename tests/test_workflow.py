"""The workflow itself: dry run, lint, config errors, and the demo end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def workflow_copy(tmp_path: Path) -> Path:
    """The workflow files in a scratch directory, so runs never touch the repository's results/."""
    work = tmp_path / "wf"
    work.mkdir()
    for name in ("Snakefile", "workflow", "config", "profiles", "envs"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / name)
    return work


def run(args, cwd, check=True):
    proc = subprocess.run(SNAKEMAKE + args, cwd=cwd, capture_output=True, text=True, timeout=1800)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def test_dry_run_and_lint(tmp_path):
    work = workflow_copy(tmp_path)
    dry = run(["-n", "--cores", "2"], work)
    assert "make_demo_dataset" in dry.stdout and "preprocess" in dry.stdout
    lint = run(["--lint"], work)
    assert "good condition" in lint.stdout + lint.stderr


def test_config_typo_stops_the_run_naming_the_key(tmp_path):
    work = workflow_copy(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets:\n  demo:\n    source: demo\n    demo: {n_user: 10}\n")
    proc = run(["-n", "--configfile", str(bad)], work, check=False)
    assert proc.returncode != 0
    assert "datasets.demo.demo: unknown key(s) 'n_user'" in proc.stdout + proc.stderr


def test_paper_config_replaces_the_demo(tmp_path):
    """--configfile config/paper.yaml must not also run the demo (Snakemake would merge them)."""
    work = workflow_copy(tmp_path)
    for name in ("sports", "beauty", "toys"):
        d = work / "resources" / "p5" / name
        d.mkdir(parents=True)
        (d / "sequential_data.txt").write_text("1 1 2 3\n")
    proc = run(["-n", "--configfile", "config/paper.yaml", "--quiet", "rules"], work)
    out = proc.stdout + proc.stderr
    assert "make_demo_dataset" not in out
    assert "preprocess" in out


def test_bad_input_fails_the_job_with_the_message_in_its_log(tmp_path):
    work = workflow_copy(tmp_path)
    data = work / "resources" / "p5" / "broken"
    data.mkdir(parents=True)
    (data / "sequential_data.txt").write_text("1 1 2 3\n2 4 5\n")
    cfg = tmp_path / "broken.yaml"
    cfg.write_text("datasets:\n  broken:\n    source: p5\n    path: resources/p5/broken\n")
    proc = run(["--cores", "1", "--configfile", str(cfg)], work, check=False)
    assert proc.returncode != 0
    log = (work / "results" / "broken" / "logs" / "preprocess.log").read_text()
    assert "sequential_data.txt, line 2: user 2 has 2 item(s)" in log
    assert not list((work / "results" / "broken").glob("data/*.parquet"))
    left = [p for p in (work / "results" / "broken").rglob("*") if p.is_file() and "logs" not in p.parts]
    assert not left, f"half-written or temporary outputs left behind: {left}"


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path):
    work = workflow_copy(tmp_path)
    run(["--cores", "2"], work)
    data = work / "results" / "demo" / "data"
    stats = json.loads((data / "stats.json").read_text())
    assert stats["users"] == 400 and stats["explanation_task"] is True
    for name in ("users", "items", "sequences", "candidates", "explanations"):
        assert len(pd.read_parquet(data / f"{name}.parquet")) > 0
    table = pd.read_csv(work / "results" / "tables" / "dataset_statistics.csv")
    assert table.loc[0, "dataset"] == "demo" and table.loc[0, "reviews"] == stats["reviews"]
    # Second invocation: nothing left to do.
    again = run(["--cores", "2", "-n"], work)
    assert "Nothing to be done" in again.stdout + again.stderr
