"""A researcher's loop (issue 40): what a failed run names last, the checks made when the workflow
loads (before Snakemake removes any output), and what a finished run says to open."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from peapod.generator.backbone import BackboneMissing, load_backbone
from peapod.generator.config import GeneratorConfig
from peapod.logs import error_line, failure_summary, run_logged
from tests.workflow_helpers import ONE_TINY_POD_RUN


def failed_job_log(tmp_path: Path, main) -> Path:
    """The log a job writes when ``main`` fails inside run_logged, as a workflow script does."""
    log = tmp_path / "logs" / "train_generator" / "big" / "seed0.log"
    with pytest.raises(BaseException):
        run_logged(SimpleNamespace(log=[str(log)]), main)  # the script's snakemake object: only its log
    return log


def snakemake_log_naming(tmp_path: Path, rule: str, job_log: Path) -> Path:
    """Snakemake's own log of a run whose one failed job is ``rule`` with log ``job_log``."""
    path = tmp_path / "snakemake.log"
    path.write_text(f"Error in rule {rule}:\n    jobid: 3\n    output: results/mine/runs/big/seed0/model.safetensors\n"
                    f"    log: {job_log} (check log file(s) for error details)\nShutting down\n")
    return path


def test_the_summary_names_a_non_input_errors_own_message(tmp_path):
    """A backbone missing offline (an error that is not bad input): the last lines carry the
    exception's own line, not run_logged's generic 'job failed'."""
    def main(smk, logger):
        load_backbone(GeneratorConfig(backbone="t5-small", model_dir=str(tmp_path / "nowhere")))

    log = failed_job_log(tmp_path, main)
    assert " ERROR peapod: job failed" in log.read_text()  # the line the summary used to show
    summary = failure_summary([snakemake_log_naming(tmp_path, "train_generator", log)])
    error = summary.splitlines()[-2]
    assert error.startswith("    error: BackboneMissing: backbone t5-small not found offline"), summary
    assert str(tmp_path / "nowhere") in error


def test_the_last_traceback_and_an_input_errors_own_record_are_what_is_named(tmp_path):
    def chained(smk, logger):
        try:
            raise KeyError("first")
        except KeyError:
            raise BackboneMissing("the second, which the job died of") from None

    assert error_line(failed_job_log(tmp_path, chained)) == "BackboneMissing: the second, which the job died of"
    log = tmp_path / "input.log"
    log.write_text("2026-12-07 10:00:00,000 INFO peapod: reading\n"
                   "2026-12-07 10:00:01,000 ERROR peapod: bad input: seq.txt, line 4: user 1 has 2 item(s)\n")
    assert error_line(log) == "bad input: seq.txt, line 4: user 1 has 2 item(s)"
    assert error_line(tmp_path / "absent.log") is None


# ---- checks when the workflow loads: a doomed rerun removes nothing -------------------------------
# Own interactions (30 users, each with 6 items in time order; line n+2 is row n) and one POD run,
# trained in seconds: what a researcher has after a first run of their own data.
OWN_RUN = """
datasets:
  mine: {source: interactions, path: mine.csv}
""" + ONE_TINY_POD_RUN + """
embeddings: {models: [pmf]}
devices: {threads_per_job: 1, gpus_per_job: 0}
"""


def interactions_lines() -> list[str]:
    rows = [f"u{u},i{(u * 7 + k * 3) % 24},{1000 * u + k}" for u in range(30) for k in range(6)]
    return ["user,item,timestamp", *rows]


def files_of(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``directory``: its bytes and modification time."""
    return {str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, str]:
    """A workflow copy whose own-data study ran to the end (the default target), and what it printed."""
    from tests.workflow_helpers import run, workflow_copy

    work = workflow_copy(tmp_path_factory.mktemp("loop"))
    (work / "mine.csv").write_text("\n".join(interactions_lines()) + "\n")
    (work / "own.yaml").write_text(OWN_RUN)
    proc = run(["--cores", "2", "--configfile", "own.yaml"], work)
    assert len(list((work / "results/mine/runs/pod").glob("*/seed0/model.safetensors"))) == 1  # its settings' folder
    return work, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def trained(finished) -> Path:
    return finished[0]


@pytest.mark.slow
@pytest.mark.xdist_group("run_loop")
def test_a_finished_run_says_what_to_open_and_a_deliberate_setting_once(finished):
    work, out = finished
    closing = out[out.index("Done. To look at:"):]
    study = "results/studies/own"  # the study's name: its config file's
    for line in (f"tables:   {study}/tables/sequential.md", f"verdicts: {study}/aggregate/reproduced_vs_reported.md",
                 f"claims:   {study}/aggregate/claims.md", f"figures:  {study}/figures/reproduced_vs_reported.png",
                 f" {study}/figures/learning_curves_mine.png",
                 f"report:   snakemake --report {study}/report.html --configfile own.yaml "):
        assert line in closing, closing
    assert "ablation_" not in closing  # no ablation configured: no figure of one named
    # negatives 4 against 9 evaluation negatives: said once, at load; the training job's log keeps it
    assert out.count("WARNING: generator.negatives is 4 (mine/pod)") == 1, out
    job_line = "carry 5 candidates (negatives: 4), evaluation prompts 10"  # the training job's own wording
    [job_log] = (work / "results/mine/logs/train_generator/pod").glob("*/seed0.log")
    assert job_line not in out and job_line in job_log.read_text()


def doomed(work: Path, args: list[str], *expected: str) -> str:
    """Run ``args``; it must stop when the workflow loads, saying ``expected``, with every file of
    results/ as it was (bytes and modification times) and no traceback."""
    from tests.workflow_helpers import run

    before = files_of(work / "results")
    proc = run(args, work, check=False)
    out = proc.stdout + proc.stderr
    after = files_of(work / "results")
    assert [k for k in before if after.get(k) != before[k]] == [], "changed or removed"
    assert proc.returncode != 0, out[-2000:]
    assert "Stopped before any job ran (nothing was removed)" in out, out[-2000:]
    for text in expected:
        assert text in out, out[-2000:]
    assert "Traceback" not in out and "InputFunctionException" not in out, out[-2000:]
    assert after == before  # nor any file added
    return out


@pytest.mark.slow
@pytest.mark.xdist_group("run_loop")
def test_a_backbone_missing_offline_stops_the_rerun_before_its_run_is_removed(trained):
    (trained / "big.yaml").write_text("generator: {backbone: t5-small, model_dir: no/such/dir}\n")
    doomed(trained, ["train", "--cores", "2", "--configfile", "own.yaml", "big.yaml"],
           "backbone t5-small (runs mine/pod) not found offline: looked in generator.model_dir no/such/dir/")


@pytest.mark.slow
@pytest.mark.xdist_group("run_loop")
def test_a_bad_timestamp_edited_into_the_interactions_stops_before_the_tables_are_removed(trained):
    source = trained / "mine.csv"
    good = source.read_bytes()
    lines = interactions_lines()
    lines[4] = "u0,i9,yesterday"
    source.write_text("\n".join(lines) + "\n")
    try:
        doomed(trained, ["train", "--cores", "2", "--configfile", "own.yaml"],
               "mine.csv, line 5: timestamp 'yesterday'", "tables in results/mine/data/ are kept")
    finally:
        source.write_bytes(good)


@pytest.mark.slow
@pytest.mark.xdist_group("run_loop")
def test_a_requests_unknown_user_and_a_reused_label_stop_before_any_job(trained):
    from peapod.evaluation import recommend_request
    from peapod.io import write_json

    (trained / "bad.txt").write_text("u3\nnobody\n")
    (trained / "ask.yaml").write_text("recommend: {users: bad.txt}\n")
    doomed(trained, ["recommendations", "--cores", "2", "--configfile", "own.yaml", "ask.yaml"],
           "bad.txt, line 2: user 'nobody' is not in the dataset")
    # A label recorded for another request (as record_recommend_request writes it) is not reused.
    other = recommend_request.asked({"top_k": 3, "beams": 20, "history": "all", "exclude_history": True,
                                     "users": None, "pairs": None}, {}, "mine")
    record = trained / "results/mine/recommendations/mine/request.json"
    write_json(recommend_request.request_record("mine", "mine", "mine", other, ["pod"], [0]), record)
    (trained / "ask.yaml").write_text("recommend: {label: mine}\n")
    doomed(trained, ["recommendations", "--cores", "2", "--configfile", "own.yaml", "ask.yaml"],
           "holds an earlier request")


def test_an_ablation_target_the_config_lacks_names_the_overlay_that_defines_it(tmp_path):
    from tests.workflow_helpers import run, workflow_copy

    work = workflow_copy(tmp_path)
    proc = run(["ablation_embedding", "-n"], work, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "no target ablation_embedding: this config has no ablation 'embedding' (its ablations: heads)" in out, out
    assert "snakemake ablation_embedding --configfile config/config.yaml config/demo_ablations.yaml" in out, out
    assert "MissingRuleException" not in out and "Traceback" not in out
    assert "Nothing to be done" not in out and "Building DAG" not in out  # stopped when the workflow loaded


def test_futurewarnings_inside_the_recbole_sandbox_are_not_shown_and_others_are(tmp_path):
    import warnings

    from peapod.embeddings.recbole_compat import recbole_sandbox

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with recbole_sandbox(tmp_path / "sandbox"):
            warnings.warn("a pandas API RecBole calls will change", FutureWarning)
            warnings.warn("something the user should see", UserWarning)
        warnings.warn("after the block", FutureWarning)
    assert [(w.category, str(w.message)) for w in shown] == [
        (UserWarning, "something the user should see"), (FutureWarning, "after the block")]
