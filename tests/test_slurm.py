"""The workflow on a real (one-node) SLURM cluster through profiles/slurm, and a training job
cancelled with scancel that is resubmitted and resumes from its epoch checkpoint.

The cluster is started by tests/slurm/cluster.sh (installed by `.ci/run` as root, or by hand with
`tests/slurm/cluster.sh install`) and stopped at the end by its pid files. Without root or without
the SLURM packages these tests are skipped, saying why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.helpers import REPO
from tests.workflow_helpers import SNAKEMAKE, config_of, request_dirs, run_dir, workflow_copy

# One cluster per module: under pytest-xdist, the module's tests share one worker (xdist_group).
pytestmark = [pytest.mark.slow, pytest.mark.slurm, pytest.mark.xdist_group("slurm")]

CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"

# Every rule of the workflow at toy sizes: one seed, PeaPOD, MLP and POD, the heads ablation.
SLURM_DEMO = """
datasets:
  demo:
    source: demo
    demo: {n_users: 40, n_items: 40, n_groups: 4, min_length: 6, max_length: 8, explanation_fraction: 0.3}
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
  epochs: 3
  patience: 3
  learning_rate: 0.002
  validation_topn_scoring: false
variants:
  peapod: {}
  mlp: {user_prompt: mlp}
  pod: {user_prompt: none}
ablations:
  heads: {variants: [mlp, peapod]}
evaluation: {beams: 10, explanation_beams: 2, explanation_min_length: 2, explanation_max_length: 8}
# one sequential and one top-n RecBole baseline, one seed, tiny: the rule runs, not the study
baselines:
  models: [SASRec, MF]
  seeds: [0]
  SASRec: {epochs: 2, stopping_step: 1, max_seq_length: 8, recbole: {hidden_size: 16, inner_size: 32, train_batch_size: 64}}
  MF: {epochs: 2, stopping_step: 1, recbole: {embedding_size: 16, train_batch_size: 64}}
"""

# What a site sets in profiles/slurm/config.yaml, with this cluster's values.
PARTITION = "debug"  # the test cluster's only partition, for CPU and GPU rules alike
SITE_RESOURCES = {"mem_mb": 2000, "cpus_per_task": 1}  # what the one 2-CPU node can give each job
SITE_SETTINGS = {
    "slurm-status-command": "squeue",  # no accounting here, so no sacct
    "slurm-init-seconds-before-status-checks": 10,  # short jobs: first status check after 10 s, not 40
}


FETCH_RULES = {"fetch_backbone", "fetch_amazon_reviews"}  # only with download: true (tests/test_fetch.py)


def workflow_rules() -> set[str]:
    """Every rule defined in workflow/rules/ (the shrunk demo must run each one but the fetch rules)."""
    return {name for smk in (REPO / "workflow" / "rules").glob("*.smk")
            for name in re.findall(r"^rule (\w+):", smk.read_text(), re.M)}


def site_profile(work: Path) -> str:
    """A copy of profiles/slurm with only the site values replaced: the partitions, no account (this
    cluster has no accounting to validate one against), per-job requests the node can meet, and the
    executor's status settings for a cluster without accounting."""
    profile = yaml.safe_load((work / "profiles" / "slurm" / "config.yaml").read_text())
    defaults = profile["default-resources"]
    assert defaults.pop("slurm_account") == "<account>"
    assert defaults["slurm_partition"] == "<cpu-partition>"
    defaults.update(slurm_partition=PARTITION, **SITE_RESOURCES)
    for rule, resources in profile["set-resources"].items():
        if "slurm_partition" in resources:
            assert resources["slurm_partition"] == "<gpu-partition>", rule
            resources["slurm_partition"] = PARTITION
        resources.update({key: value for key, value in SITE_RESOURCES.items() if key in resources})
    profile.update(SITE_SETTINGS)
    assert "<" not in yaml.safe_dump(profile), "a placeholder was left in the profile"
    site = work / "profiles" / "slurm-site"
    site.mkdir()
    (site / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return "profiles/slurm-site"


@pytest.fixture(scope="module")
def slurm_env():
    """Start the test cluster for this module; the environment that reaches it (and this checkout)."""
    if os.geteuid() != 0:
        pytest.skip("a real SLURM cluster needs root (tests/slurm/cluster.sh starts munged, slurmctld, slurmd)")
    if not (shutil.which("slurmctld") and shutil.which("slurmd") and shutil.which("sbatch")):
        pytest.skip("SLURM is not installed: run `tests/slurm/cluster.sh install` as root (.ci/run does)")
    # $PEAPOD_SLURM_DIR when set (.ci/run sets it, to stop the daemons even if pytest is killed)
    state = Path(os.environ.get("PEAPOD_SLURM_DIR") or tempfile.mkdtemp(prefix="peapod-slurm-"))
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o755)  # munged runs as the munge user
    start = subprocess.run([str(CLUSTER), "start", str(state)], capture_output=True, text=True, timeout=300)
    try:
        assert start.returncode == 0, f"cluster did not start:\n{start.stdout}\n{start.stderr}"
        yield {**os.environ, "SLURM_CONF": str(state / "slurm.conf"),
               # the jobs import this checkout's package, as the tests do
               "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))}
    finally:
        subprocess.run([str(CLUSTER), "stop", str(state)], capture_output=True, timeout=120)
        shutil.rmtree(state, ignore_errors=True)


def slurm_workflow(root: Path, *targets: str) -> tuple[Path, list[str]]:
    root.mkdir()
    work = workflow_copy(root)
    (work / "slurm_demo.yaml").write_text(SLURM_DEMO)
    # targets before --configfile, which takes several values
    return work, SNAKEMAKE + [*targets, "--profile", site_profile(work), "--configfile", "slurm_demo.yaml"]


def run_metrics(work: Path) -> dict[str, pd.DataFrame]:
    return {str(p.relative_to(work)): pd.read_parquet(p) for p in sorted(work.glob("results/demo/runs/*/*/seed*/metrics.parquet"))}


@pytest.fixture(scope="module")
def slurm_run(slurm_env, tmp_path_factory):
    """The shrunk demo, every rule, run to completion through the SLURM profile."""
    work, command = slurm_workflow(tmp_path_factory.mktemp("slurm") / "full")
    start = time.monotonic()
    proc = subprocess.run(command, cwd=work, env=slurm_env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, f"SLURM run failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
    print(f"SLURM run of the shrunk demo: {time.monotonic() - start:.0f} s")
    # Then `snakemake recommendations` from the finished run, with a pairs file of the demo's own ids
    # (they exist once the data stage ran), so the two recommendation rules go through sbatch too.
    data = work / "results" / "demo" / "data"
    user = pd.read_parquet(data / "users.parquet")["raw_id"].iloc[0]
    item = pd.read_parquet(data / "items.parquet")["raw_id"].iloc[0]
    (work / "pairs.csv").write_text(f"user,item\n{user},{item}\n")
    (work / "ask.yaml").write_text("recommend: {pairs: pairs.csv, top_k: 3, beams: 5}\n")
    at = len(SNAKEMAKE)
    asked = subprocess.run([*command[:at], "recommendations", *command[at:], "ask.yaml"], cwd=work, env=slurm_env,
                           capture_output=True, text=True, timeout=600)
    assert asked.returncode == 0, f"SLURM recommendations failed:\n{asked.stdout[-4000:]}\n{asked.stderr[-6000:]}"
    return work, proc.stdout + proc.stderr + asked.stdout + asked.stderr


@pytest.mark.timeout(2400)  # includes the module's cluster run (slurm_run: at most 1500 + 600 s)
def test_every_rule_runs_through_the_slurm_profile(slurm_run, slurm_env):
    work, log = slurm_run
    results = work / "results"
    assert len(run_metrics(work)) == 3
    study = results / "studies" / "slurm_demo"  # the config file's name
    for table in ("sequential", "topn", "explanation"):
        assert (study / "tables" / f"{table}.csv").stat().st_size > 0
    assert (study / "figures" / "ablation_heads.png").read_bytes()[:4] == b"\x89PNG"
    # Every rule's jobs went through sbatch and completed; GPU rules asked SLURM for a GPU.
    submitted = re.findall(r"submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/rule_(\w+)/", log)
    assert {rule for _, rule in submitted} == workflow_rules() - FETCH_RULES, submitted
    # The test cluster keeps every finished job's record for hours (MinJobAge, tests/slurm/cluster.sh),
    # so the final states are there however long the run took (the default purges them after 300 s).
    config = subprocess.run(["scontrol", "show", "config"], env=slurm_env, capture_output=True, text=True,
                            check=True).stdout
    age = re.search(r"^MinJobAge\s*=\s*(\d+) sec", config, re.M)
    assert age and int(age.group(1)) >= 6 * 3600, f"the test cluster purges finished jobs: {age}"
    states = dict(line.split("|") for line in subprocess.run(
        ["squeue", "-h", "--states=all", "-o", "%i|%T"], env=slurm_env, capture_output=True, text=True,
        check=True).stdout.split())
    assert {states[job] for job, _ in submitted} == {"COMPLETED"}, states
    for job, rule in submitted:
        if rule in ("train_generator", "evaluate_generator", "recommend_next_items", "explain_pairs"):
            shown = subprocess.run(["scontrol", "show", "job", "-o", job], env=slurm_env, capture_output=True,
                                   text=True, check=True).stdout
            assert "gpu:1" in shown, shown
    [request] = request_dirs(work)  # the one request made, under its own name
    asked = request / "peapod" / "seed0"
    assert len(pd.read_parquet(asked / "next_items.parquet")) == 3 * 40
    assert len(pd.read_parquet(asked / "explanations.parquet")) == 1
    # The stand-in GPU is no CUDA device: the device claim falls back to the CPU.
    pod_run = run_dir(results, config_of(work / "slurm_demo.yaml"), "pod", 0)
    assert json.loads((pod_run / "run.json").read_text())["device"] == "cpu"


def wait_for_epoch_checkpoint(directory: Path, proc: subprocess.Popen, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while not (directory / "last" / "state.json").exists():
        assert proc.poll() is None, "the workflow ended before the training job saved a checkpoint"
        assert time.monotonic() < deadline, "no epoch checkpoint within the timeout"
        time.sleep(0.05)


def training_job_ids(env: dict) -> list[str]:
    """SLURM ids of the running train_generator jobs (the executor names the rule in the comment)."""
    out = subprocess.run(["squeue", "-h", "--states=RUNNING", "-o", "%i|%k"], env=env, capture_output=True,
                         text=True, check=True).stdout
    return [line.split("|")[0] for line in out.split() if "train_generator" in line]


@pytest.mark.timeout(2400)  # the module took 8 min under CI, mostly waiting on the cluster
def test_cancelled_training_job_is_resubmitted_and_resumes(slurm_run, slurm_env, tmp_path):
    reference, _ = slurm_run
    pod_run = run_dir(Path("results"), config_of(reference / "slurm_demo.yaml"), "pod", 0)
    target = f"{pod_run}/metrics.parquet"
    work, command = slurm_workflow(tmp_path / "cancelled", target)
    start = time.monotonic()
    proc = subprocess.Popen(command, cwd=work, env=slurm_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        pod_dir = work / pod_run
        wait_for_epoch_checkpoint(pod_dir, proc)
        jobs = training_job_ids(slurm_env)
        assert len(jobs) == 1, jobs
        subprocess.run(["scancel", jobs[0]], env=slurm_env, check=True)
        assert not (pod_dir / "run.json").exists(), "the training job finished before it was cancelled"
        out, _ = proc.communicate(timeout=1200)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out[-6000:]
    print(f"SLURM run with a cancelled training job: {time.monotonic() - start:.0f} s")
    state = subprocess.run(["squeue", "-h", "--states=all", "-j", jobs[0], "-o", "%T"], env=slurm_env,
                           capture_output=True, text=True).stdout.strip()
    assert state == "CANCELLED", state
    assert f"SLURM-job '{jobs[0]}' failed" in out  # the executor saw the cancellation and resubmitted
    assert json.loads((pod_dir / "run.json").read_text())["resumed"] >= 1
    expected = run_metrics(reference)[target]
    pd.testing.assert_frame_equal(pd.read_parquet(work / target), expected, check_exact=True)
