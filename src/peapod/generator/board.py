"""Opt-in TensorBoard event files of one training run (config ``monitoring.tensorboard``).

Off by default. When on, a run writes to ``<run_dir>/tensorboard/``, all on the run's global batch
count as the step:
    train/loss_<task>      mean training loss per task over the last ``every`` batches
                           (``train/loss_mixed`` with mixed batching)
    train/learning_rate    the optimizer's learning rate after the last batch
    train/samples_per_s    training samples per second over those batches
    epoch/<column>         every numeric column of the epoch's train_log.csv row (validation loss
                           per task and mean, training loss per task, the learning curves' HR@10
                           and beam shares, times), at the epoch's last batch
The training loss is summed on the device and read once per ``every`` batches, so watching costs
one device sync per interval, not one per batch. A resumed run starts a new event file that purges
what the killed session wrote after its last checkpoint, so each step keeps one value.
Watch with ``tensorboard --logdir results`` (TensorBoard is installed with the generator extra).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch

from peapod.generator.config import TASKS

DIRECTORY = "tensorboard"  # under the run directory


def _wait_to_sort_after_earlier_sessions(log_dir: Path) -> None:
    """TensorBoard reads a directory's event files in name order, and a name starts with the whole
    second it was opened in, then host, pid and a per-process counter (which sorts as text, so 10
    before 9). The purge only drops the killed session's stale events if the resumed session's file
    is read after it, so open it no earlier than the second after the newest file's."""
    seconds = [int(p.name.split(".")[3]) for p in log_dir.glob("events.out.tfevents.*")
               if p.name.split(".")[3].isdigit()]
    if seconds:
        wait = max(seconds) + 1 - time.time()
        if wait > 0:
            time.sleep(wait)


class Board:
    """Scalars of one training session for TensorBoard; ``resumed_at`` is the global step of the
    checkpoint a resumed session starts from (None for a fresh run)."""

    def __init__(self, run_dir: Path, every: int, resumed_at: int | None = None):
        from torch.utils.tensorboard import SummaryWriter

        if every < 1:
            raise ValueError(f"TensorBoard interval must be at least 1 batch, not {every}")
        purge = None if resumed_at is None else resumed_at + 1  # events after the checkpoint are stale
        if resumed_at is not None:
            _wait_to_sort_after_earlier_sessions(Path(run_dir) / DIRECTORY)
        self.writer = SummaryWriter(str(Path(run_dir) / DIRECTORY), purge_step=purge)
        self.every = every
        self._reset()

    def _reset(self) -> None:
        self.loss: dict[str, torch.Tensor] = {}  # task -> loss sum on the device
        self.batches: dict[str, int] = {}
        self.samples = 0
        self.start = time.perf_counter()

    def batch(self, task: int | None, loss: torch.Tensor, samples: int, step: int, learning_rate: float) -> None:
        """Add one trained batch (``task`` index into TASKS, None for a mixed batch); write the
        interval's scalars when ``step`` (batches done in the run) is a multiple of ``every``."""
        name = TASKS[task] if task is not None else "mixed"
        self.loss[name] = self.loss.get(name, 0) + loss.detach().double()
        self.batches[name] = self.batches.get(name, 0) + 1
        self.samples += samples
        if step % self.every == 0:
            self.flush(step, learning_rate)

    def flush(self, step: int, learning_rate: float) -> None:
        """Write the scalars of the batches added since the last flush (none: nothing)."""
        if not self.batches:
            return
        for name, count in self.batches.items():
            self.writer.add_scalar(f"train/loss_{name}", float(self.loss[name]) / count, step)
        self.writer.add_scalar("train/learning_rate", learning_rate, step)
        seconds = time.perf_counter() - self.start
        if seconds > 0:
            self.writer.add_scalar("train/samples_per_s", self.samples / seconds, step)
        self._reset()

    def epoch(self, row: dict[str, Any], step: int, learning_rate: float) -> None:
        """The epoch's train_log.csv row, at ``step`` (its last batch)."""
        self.flush(step, learning_rate)
        for key, value in row.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                self.writer.add_scalar(f"epoch/{key}", value, step)
        self.writer.flush()
        self.start = time.perf_counter()  # validation time does not count against samples/s

    def close(self) -> None:
        self.writer.close()
