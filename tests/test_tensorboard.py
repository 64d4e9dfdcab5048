"""Opt-in TensorBoard events of a training run (monitoring.tensorboard), read back from the files:
the losses per task, learning rate and samples/s every n batches, every train_log.csv column per
epoch; none by default; a resumed session replaces what a killed one wrote after its checkpoint."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from peapod.data.demo import DemoConfig
from peapod.generator.board import DIRECTORY, Board
from peapod.generator.config import GeneratorConfig
from peapod.generator.train import LoopSettings, train_generator
from tests.generator_helpers import small_training_inputs, templates

UNSCORED = {"validation_topn_scoring": False}  # no exported-model top-n diagnostic (faster)

SMALL = DemoConfig(n_users=60, n_items=120, n_groups=4, min_length=5, max_length=10, seed=1)
SETTINGS = {"tiny": {"d_model": 32, "d_ff": 64, "num_layers": 1, "num_heads": 2, "dropout_rate": 0.1},
            "neighbors": 5, "heads": 2, "batch_size": 8, "epochs": 2, "patience": 5, "learning_rate": 3e-3,
            "curve_users": 12, "curve_beams": 10, "warmup_steps": 4, "lr_decay": "linear"}


def read_scalars(log_dir) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag of the event files in ``log_dir``: [(step, value)] in step order, as
    TensorBoard shows them (events a resumed session purged are dropped)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("board")
    return (tmp, *small_training_inputs(tmp, SMALL))


def test_a_run_writes_its_scalars_when_asked_and_nothing_by_default(small):
    tmp, data, collab = small
    torch.set_num_threads(1)
    cfg = GeneratorConfig.from_dict(SETTINGS)
    train_generator(cfg.with_overrides(UNSCORED), data, templates(), 0, tmp / "watched", collab,
                    loop=LoopSettings(tensorboard_every_steps=3))
    train_generator(cfg.with_overrides(UNSCORED), data, templates(), 0, tmp / "quiet", collab)
    assert not (tmp / "quiet" / DIRECTORY).exists()

    scalars = read_scalars(tmp / "watched" / DIRECTORY)
    log = pd.read_csv(tmp / "watched" / "train_log.csv")
    assert len(log) == 2
    tasks = [c.removeprefix("train_loss_") for c in log.columns if c.startswith("train_loss_")]
    assert set(tasks) == {"explanation", "sequential", "topn"}

    # Training scalars every 3 batches (and at each epoch's end), on the run's global batch count.
    for name in ("learning_rate", "samples_per_s", *(f"loss_{t}" for t in tasks)):
        points = scalars[f"train/{name}"]
        assert len(points) >= 4 and all(v > 0 for _, v in points), name
    steps = [s for s, _ in scalars["train/learning_rate"]]
    assert steps == sorted(set(steps)) and 3 in steps and 6 in steps
    # The warm-up (4 batches) then linear decay reach the events: the rate rises, then falls.
    rates = [v for _, v in scalars["train/learning_rate"]]
    assert rates[0] < max(rates) and rates[-1] < max(rates)

    # Every numeric column of train_log.csv per epoch: validation losses, learning curves, times.
    epoch_steps = [s for s, _ in scalars["epoch/valid_loss_mean"]]
    assert len(epoch_steps) == 2 and epoch_steps[1] == 2 * epoch_steps[0] == max(steps)
    for column in log.columns:
        if log[column].notna().all():
            values = [v for _, v in scalars[f"epoch/{column}"]]
            assert values == pytest.approx(log[column].tolist(), rel=1e-5), column
    for column in ("valid_loss_explanation", "valid_loss_sequential", "valid_loss_topn", "valid_hr10_topn_scoring",
                   "learning_rate"):
        assert f"epoch/{column}" in scalars, column


def test_a_resumed_session_replaces_what_the_killed_one_wrote_after_its_checkpoint(tmp_path):
    # The worst case for file order: both sessions open in one second and one process, and the
    # writers' counter goes from 9 to 10 (CI once failed so: "...9" sorts after "...10").
    from tensorboard.summary.writer.event_file_writer import _global_uid

    while len(str(_global_uid._value)) == len(str(_global_uid._value + 1)):
        _global_uid.get()
    first = Board(tmp_path, every=1)
    for step in range(1, 9):  # the killed session got to step 8, its last checkpoint was at step 5
        first.batch(0, torch.tensor(1.0), 8, step, 0.1)
    first.close()
    second = Board(tmp_path, every=1, resumed_at=5)
    for step in range(6, 11):
        second.batch(0, torch.tensor(2.0), 8, step, 0.1)
    second.close()
    points = read_scalars(tmp_path / DIRECTORY)["train/loss_explanation"]
    assert points == [(s, 1.0) for s in range(1, 6)] + [(s, 2.0) for s in range(6, 11)]
