"""A researcher's loop (issue 40): what a failed run names last, the checks made when the workflow
loads (before Snakemake removes any output), and what a finished run says to open."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from peapod.generator.backbone import BackboneMissing, load_backbone
from peapod.generator.config import GeneratorConfig
from peapod.logs import error_line, failure_summary, run_logged


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
