"""Progress lines a person can read while a long job runs: done / total, rate, ETA.

A ``Progress`` logs one line every ``every`` units or ``seconds`` seconds (whichever comes first)
and once at the end, through the package logger, so the lines land in the rule's log file (the
file handler flushes after every record: ``tail -f`` shows them as they come).
"""

from __future__ import annotations

import logging
import time
from typing import Any


def format_seconds(seconds: float) -> str:
    """12.3 -> '12s', 75 -> '1m15s', 3725 -> '1h02m'."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Progress:
    """Counts units of work (batches, users) towards ``total`` and logs rate and ETA."""

    def __init__(self, logger: logging.Logger, label: str, total: int, unit: str, every: int = 0,
                 seconds: float = 60.0, rate_unit: str | None = None, clock=time.perf_counter):
        self.logger, self.label, self.total, self.unit = logger, label, int(total), unit
        self.every, self.seconds = int(every), float(seconds)  # 0 switches that trigger off
        self.rate_unit = rate_unit or unit  # what the rate counts (e.g. samples while counting batches)
        self.clock = clock
        self.start = self.last = clock()
        self.done = self.done_at_last = 0
        self.rate_count = 0  # units of rate_unit so far (samples), when they differ from ``done``

    def _due(self, done: int, now: float) -> bool:
        return bool((self.every and done - self.done_at_last >= self.every)
                    or (self.seconds and now - self.last >= self.seconds) or done >= self.total)

    def due(self, n: int = 1) -> bool:
        """Whether ``update(n)`` now would log a line (so a caller computes extra values only then)."""
        return self._due(self.done + n, self.clock())

    def done_after(self, n: int = 1) -> int:
        return self.done + n

    def update(self, n: int = 1, rate_count: int | None = None, **extra: Any) -> bool:
        """Add ``n`` units (and ``rate_count`` units of ``rate_unit``); log when due. True if logged."""
        self.done += n
        self.rate_count += n if rate_count is None else rate_count
        now = self.clock()
        due = self._due(self.done, now)
        if due:
            self.log(now, **extra)
        return due

    def log(self, now: float | None = None, **extra: Any) -> None:
        now = self.clock() if now is None else now
        elapsed = max(now - self.start, 1e-9)
        rate = self.rate_count / elapsed
        per_unit = elapsed / max(self.done, 1)
        eta = per_unit * max(self.total - self.done, 0)
        pct = 100.0 * self.done / max(self.total, 1)
        parts = [f"{self.label}: {self.done}/{self.total} {self.unit} ({pct:.0f}%)",
                 f"{rate:.1f} {self.rate_unit}/s", f"elapsed {format_seconds(elapsed)}", f"ETA {format_seconds(eta)}"]
        parts += [f"{key} {value:.4f}" if isinstance(value, float) else f"{key} {value}" for key, value in extra.items()]
        self.logger.info(", ".join(parts))
        self.last, self.done_at_last = now, self.done
