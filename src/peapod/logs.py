"""Logging for workflow scripts: every job writes to its own log file, failures included."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Any, Callable

from peapod.errors import InputError


# extra= of a record for the job's log file only, not the terminal: a note the workflow already printed
# once when it loaded (e.g. a deliberate setting, peapod.study.setting_warnings), not once per job.
LOG_FILE_ONLY = {"log_file_only": True}


def configure(log_path: str | Path | None) -> logging.Logger:
    """Send the package's log records to ``log_path`` (and stderr, less those marked
    LOG_FILE_ONLY), replacing earlier handlers."""
    logger = logging.getLogger("peapod")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    terminal = logging.StreamHandler(sys.stderr)
    terminal.addFilter(lambda record: not getattr(record, "log_file_only", False))
    handlers: list[logging.Handler] = [terminal]
    if log_path is not None:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    return logger


def run_logged(smk: Any, main: Callable[[Any, logging.Logger], None]) -> None:
    """Run a Snakemake script body with logging to the rule's ``log`` file.

    Bad input is logged as one clear line (file, place, problem) and the job fails; any other
    error is logged with its traceback before it propagates.
    """
    log_path = smk.log[0] if len(smk.log) else None
    logger = configure(log_path)
    try:
        main(smk, logger)
    except InputError as exc:
        logger.error("bad input: %s", exc)
        raise SystemExit(f"bad input: {exc}") from None
    except Exception:
        logger.exception("job failed")
        raise


# ---- the end of a failed workflow run -------------------------------------------------------------
_LOGGED_ERROR = re.compile(r" ERROR [\w.]+: (?P<message>.*)")  # our adapters' records (peapod.logs.configure)
_GENERIC = ("job failed",)  # run_logged's line before a traceback: the traceback's last line says why


def _exception_line(lines: list[str], start: int) -> str | None:
    """The exception's own line of the traceback starting at ``lines[start]``: the first line after
    its indented frames, with the module path of the exception's class left out."""
    for line in lines[start + 1:]:
        if line.strip() and not line.startswith((" ", "\t")):
            name, colon, message = line.partition(":")
            return f"{name.rsplit('.', 1)[-1]}{colon}{message}".strip()
    return None


def error_line(log_path: str | Path) -> str | None:
    """What went wrong, from a job's log: the exception's own message line of its last traceback
    (e.g. ``BackboneMissing: backbone t5-small not found offline ...``), else the last ``ERROR``
    record that says more than that the job failed; None when the log has neither or is missing."""
    try:
        lines = Path(log_path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    tracebacks = [k for k, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    if tracebacks:
        found = _exception_line(lines, tracebacks[-1])
        if found:
            return found
    for line in reversed(lines):
        match = _LOGGED_ERROR.search(line)
        if match and match["message"].strip() not in _GENERIC:
            return match["message"].strip()
    return None


def failed_jobs(snakemake_log: str | Path) -> list[dict[str, str | None]]:
    """Each failed job of a Snakemake run, from its log: the rule, the job's first output (which
    names its wildcards), its log file and the error that log ends with."""
    try:
        lines = Path(snakemake_log).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    jobs: list[dict[str, str | None]] = []
    for k, line in enumerate(lines):
        if not line.startswith("Error in rule ") or not line.rstrip().endswith(":"):
            continue
        job: dict[str, str | None] = {"rule": line[len("Error in rule "):].rstrip(":").strip(), "output": None,
                                      "log": None}
        for detail in lines[k + 1:]:
            if not detail.startswith((" ", "\t")):
                break
            key, _, value = detail.strip().partition(": ")
            if key == "output":
                job["output"] = value.split(",")[0].strip()
            elif key == "log":
                job["log"] = value.split(" (")[0].split(",")[0].strip()
        job["error"] = error_line(job["log"]) if job["log"] else None
        if job not in jobs:
            jobs.append(job)
    return jobs


def failure_summary(snakemake_log: str | Path | list) -> str:
    """What a failed run prints last: each failed job, its log file and the exception's
    own message from that log.
    ``snakemake_log``: the run's log file (Snakemake 9 hands ``onerror`` a list of them)."""
    if isinstance(snakemake_log, (list, tuple)):
        logs = [str(p) for p in snakemake_log]
        jobs = [job for p in logs for job in failed_jobs(p)]
        snakemake_log = ", ".join(logs) or "the Snakemake log"
    else:
        jobs = failed_jobs(snakemake_log)
    if not jobs:
        return f"The workflow failed; see {snakemake_log}."
    lines = [f"{len(jobs)} job(s) failed:"]
    for job in jobs:
        lines.append(f"  {job['rule']}" + (f" ({job['output']})" if job["output"] else ""))
        lines.append(f"    log:   {job['log'] or 'none (the rule declares no log)'}")
        if job["error"]:
            lines.append(f"    error: {job['error']}")
    lines.append(f"The full log: {snakemake_log}")
    return "\n".join(lines)
