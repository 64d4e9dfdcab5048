"""Progress lines in training and evaluation logs, the fixed stratified user sample of the
evaluation (and of the validation loss), and per-dataset embedding settings."""

from __future__ import annotations

import json
import logging
import re

import numpy as np
import pandas as pd
import pytest
import torch

from peapod.data.demo import DemoConfig
from peapod.embeddings import dataset_settings
from peapod.evaluation.evaluate import EvalData, EvalSettings, RunEvaluator, evaluate_run_directory
from peapod.generator.backbone import load_backbone
from peapod.generator.checkpoint import save_model_dir
from peapod.generator.config import GeneratorConfig
from peapod.generator.data import Validation
from peapod.generator.model import PeaPOD
from peapod.generator.train import LoopSettings, train_generator
from peapod.logs import configure
from peapod.progress import Progress, format_seconds
from peapod.sampling import history_bucket_labels, stratified_sample
from tests.generator_helpers import templates
from tests.helpers import TEMPLATES, make_demo

UNSCORED = {"validation_topn_scoring": False}  # no exported-model top-n diagnostic (faster)

SMALL = DemoConfig(n_users=60, n_items=160, n_groups=4, min_length=5, max_length=30, seed=3)
TINY = {"d_model": 32, "d_ff": 64, "num_layers": 1, "num_heads": 2, "dropout_rate": 0.0}


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_progress_logs_done_total_rate_and_eta(caplog):
    clock = FakeClock()
    log = logging.getLogger("peapod.test_progress")
    p = Progress(log, "epoch 1/3", 10, "batches", every=4, seconds=0, rate_unit="samples", clock=clock)
    with caplog.at_level(logging.INFO, logger="peapod.test_progress"):
        for _ in range(10):
            clock.now += 2.0
            p.update(1, 16, loss=1.5)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3  # after 4 and 8 batches, and at the end
    assert lines[0] == "epoch 1/3: 4/10 batches (40%), 8.0 samples/s, elapsed 8s, ETA 12s, loss 1.5000"
    assert lines[-1].startswith("epoch 1/3: 10/10 batches (100%)") and "ETA 0s" in lines[-1]
    assert format_seconds(75) == "1m15s" and format_seconds(3725) == "1h02m"


def test_progress_logs_on_time_too(caplog):
    clock = FakeClock()
    p = Progress(logging.getLogger("peapod.t2"), "top-n beam (test)", 100, "users", every=0, seconds=30, clock=clock)
    with caplog.at_level(logging.INFO, logger="peapod.t2"):
        for _ in range(9):
            clock.now += 10.0
            p.update(5)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["top-n beam (test): 15/100 users (15%), 0.5 users/s, elapsed 30s, ETA 2m50s",
                     "top-n beam (test): 30/100 users (30%), 0.5 users/s, elapsed 1m00s, ETA 2m20s",
                     "top-n beam (test): 45/100 users (45%), 0.5 users/s, elapsed 1m30s, ETA 1m50s"]


def test_log_file_is_readable_while_the_job_runs(tmp_path):
    path = tmp_path / "job.log"
    logger = configure(path)
    try:
        logging.getLogger("peapod.generator.train").info("epoch 1/2: 200/698 batches (29%)")
        assert "200/698 batches" in path.read_text()  # flushed at once, the handler still open
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
        logger.propagate = True


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("progress")
    demo = make_demo(tmp, SMALL, parquet=True)
    return demo, demo.task_data()


def test_training_logs_progress_lines_with_numbers(small, tmp_path, caplog):
    _, data = small
    cfg = GeneratorConfig.from_dict({"tiny": TINY, "user_prompt": "none", "batch_size": 8, "epochs": 1,
                                     "validation_users": 20})
    with caplog.at_level(logging.INFO, logger="peapod"):
        train_generator(cfg.with_overrides(UNSCORED), data, templates(), 0, tmp_path / "run",
                        loop=LoopSettings(log_every_batches=5))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch 1/1: ")]
    progress = [line for line in lines if "batches" in line]
    total = int(re.search(r"/(\d+) batches", progress[0]).group(1))
    assert total > 5 and len(progress) >= total // 5
    first = re.match(r"epoch 1/1: 5/(\d+) batches \(\d+%\), ([\d.]+) samples/s, elapsed \S+, ETA \S+, loss ([\d.]+)$",
                     progress[0])
    assert first and float(first.group(2)) > 0 and float(first.group(3)) > 0
    assert progress[-1].startswith(f"epoch 1/1: {total}/{total} batches (100%)")
    # The validation loss covered the 20 sampled users only.
    every = [r.getMessage() for r in caplog.records]
    assert any("'sequential': 20, 'topn': 20} prompts" in line for line in every)


def test_validation_sample_is_fixed_and_a_subset(small):
    _, data = small
    cfg = GeneratorConfig.from_dict({"validation_users": 25})
    a, b = Validation.sampled_users(data, cfg), Validation.sampled_users(data, cfg.with_overrides({"user_prompt": "none"}))
    assert a == b and len(a) == 25 and a <= set(data.sequences)
    assert Validation.sampled_users(data, GeneratorConfig()) is None


def test_stratified_sample_is_fixed_and_keeps_strata_shares():
    rng = np.random.default_rng(0)
    users = rng.permutation(np.arange(1, 5001))
    lengths = np.minimum(rng.geometric(0.12, size=len(users)) + 3, 200)
    a = stratified_sample(users, lengths, 500, seed=7)
    b = stratified_sample(users[::-1], lengths[::-1], 500, seed=7)  # same users, another order
    assert np.array_equal(a.users, b.users) and len(a.users) == 500 and a.total == 5000
    assert len(np.unique(a.users)) == 500 and np.all(np.diff(a.users) > 0)
    c = stratified_sample(users, lengths, 500, seed=8)
    assert not np.array_equal(a.users, c.users)
    labels = dict(zip(users.tolist(), history_bucket_labels(lengths.tolist())))
    counts = pd.Series([labels[u] for u in a.users]).value_counts()
    shares = pd.Series(list(labels.values())).value_counts() / len(users)
    for stratum, share in shares.items():
        assert abs(counts.get(stratum, 0) - 500 * share) < 1, stratum  # largest remainders: within one user
        assert a.strata[stratum] == (counts.get(stratum, 0), int(share * len(users) + 0.5))
    full = stratified_sample(users, lengths, 10_000, seed=7)
    assert np.array_equal(full.users, np.sort(users))


@pytest.fixture(scope="module")
def run_dir(small):
    demo, data = small
    tmp = demo.root
    cfg = GeneratorConfig.from_dict({"tiny": TINY, "user_prompt": "none"})
    torch.manual_seed(0)
    t5, tok = load_backbone(cfg, data.tokenizer_corpus(templates()))
    save_model_dir(tmp / "run", PeaPOD(t5, cfg).eval(), tok)
    return tmp


def evaluate(root, out, **settings):
    outputs = {k: out / f"{k}.{ext}" for k, ext in
               (("metrics", "parquet"), ("per_user", "parquet"), ("texts", "parquet"), ("buckets", "csv"), ("summary", "json"))}
    s = EvalSettings(beams=4, top_k=4, batch_size=8, topn_methods=("beam", "scoring"), explanation_beams=2,
                     explanation_max_length=12, **settings)
    evaluate_run_directory(root / "run", root / "data", TEMPLATES, s, outputs)
    return pd.read_parquet(outputs["per_user"]), json.loads(outputs["summary"].read_text())


def test_evaluation_on_a_sample_logs_progress_and_records_n_of_N(run_dir, tmp_path, caplog):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with caplog.at_level(logging.INFO, logger="peapod"):
        per_user, summary = evaluate(run_dir, tmp_path / "a", sample_users=24, sample_seed=5)
    lines = [r.getMessage() for r in caplog.records]
    for label in ("sequential beam (test)", "top-n beam (test)", "top-n scoring (test)"):
        done = [line for line in lines if line.startswith(f"{label}: 24/24 users (100%)")]
        assert done and "users/s" in done[0] and "ETA 0s" in done[0], label
    assert any("fixed sample of 24 of 60 users (seed 5" in line for line in lines)
    assert summary["users"]["evaluated"] == 24 and summary["users"]["of"] == 60
    assert summary["users"]["sample"]["seed"] == 5
    sampled = set(per_user["user_id"])
    assert len(sampled) == 24
    for task in ("sequential", "topn"):
        assert set(per_user.loc[per_user.task == task, "user_id"]) == sampled
    # Another run (here: the same model again, another output) sees exactly the same users; so
    # does the data sample drawn directly, whatever the model.
    again, _ = evaluate(run_dir, tmp_path / "b", sample_users=24, sample_seed=5)
    assert set(again["user_id"]) == sampled
    direct = EvalData.from_directory(run_dir / "data", "test").sampled(24, 5, "test")
    assert set(direct.sample.users.tolist()) == sampled


def test_batching_by_length_keeps_each_users_result(run_dir):
    """Prompts are batched longest first; every result must still land on its own user."""
    from peapod.generator.checkpoint import load_model_dir

    model, tok, _ = load_model_dir(run_dir / "run", torch.device("cpu"))
    data = EvalData.from_directory(run_dir / "data", "test")
    frames = []
    for batch_size in (1, 7):
        ev = RunEvaluator(model, tok, templates(), EvalSettings(beams=3, top_k=3, batch_size=batch_size,
                                                                 topn_methods=("scoring",)), data.catalogue)
        frames.append(pd.concat([ev.sequential(data), ev.topn(data)]).set_index(["task", "user_id"])["rank"])
    pd.testing.assert_series_equal(frames[0], frames[1])


def test_dataset_embedding_overrides_merge_over_the_global_section():
    section = {"dim": 512, "seed": 0, "pmf": {"max_iter": 100, "learning_rate": 0.001}}
    assert dataset_settings(section, None, "pmf") == {"dim": 512, "seed": 0, "pmf": {"max_iter": 100,
                                                                                      "learning_rate": 0.001}}
    merged = dataset_settings(section, {"dim": 64, "pmf": {"max_iter": 5}}, "pmf", "beauty")
    assert merged == {"dim": 64, "seed": 0, "pmf": {"max_iter": 5, "learning_rate": 0.001}}
    with pytest.raises(ValueError, match=r"datasets.beauty.embeddings.pmf: unknown key\(s\) \['max_iters'\]"):
        dataset_settings(section, {"pmf": {"max_iters": 5}}, "pmf", "beauty")
