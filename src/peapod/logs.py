"""Logging for workflow scripts: every job writes to its own log file, failures included."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Callable

from peapod.errors import InputError


def configure(log_path: str | Path | None) -> logging.Logger:
    """Send the package's log records to ``log_path`` (and stderr), replacing earlier handlers."""
    logger = logging.getLogger("peapod")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
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
