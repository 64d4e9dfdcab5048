"""Generator training end to end: seeded determinism, exact resume after SIGKILL, and learning the
demo's planted structure (top-n validation by exact candidate scoring beats random)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from peapod.data.demo import DemoConfig
from peapod.generator.collab import load_collaborative_inputs
from peapod.generator.config import GeneratorConfig
from peapod.generator.train import LoopSettings, train_generator
from tests.generator_helpers import small_training_inputs, templates, write_group_embeddings
from tests.helpers import REPO, make_demo

UNSCORED = {"validation_topn_scoring": False}  # no exported-model top-n diagnostic (faster)

SMALL = DemoConfig(n_users=60, n_items=120, n_groups=4, min_length=5, max_length=10, seed=1)
SETTINGS = {"tiny": {"d_model": 32, "d_ff": 64, "num_layers": 1, "num_heads": 2, "dropout_rate": 0.1},
            "neighbors": 5, "heads": 2, "batch_size": 8, "epochs": 2, "learning_rate": 3e-3}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train")
    # write_parquet: the evaluation stage's view, for the learning-curve check
    return (tmp, *small_training_inputs(tmp, SMALL, write_parquet=True))


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the same as the subprocess below: CPU results are then bit-identical
    yield
    torch.set_num_threads(before)


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "model.safetensors"))


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_training_is_deterministic_for_a_seed(small, one_thread):
    tmp, data, collab = small
    cfg = GeneratorConfig.from_dict(SETTINGS)
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        runs[name] = train_generator(cfg.with_overrides(UNSCORED), data, templates(), seed, tmp / f"det_{name}",
                                     collab)
    assert same_weights(tmp / "det_a", tmp / "det_b")
    assert (tmp / "det_a" / "train_log.csv").read_text().split("\n")[1].split(",")[:8] == \
        (tmp / "det_b" / "train_log.csv").read_text().split("\n")[1].split(",")[:8]
    assert not same_weights(tmp / "det_a", tmp / "det_c")
    for name in ("a", "c"):
        run = tmp / f"det_{name}"
        for f in ("model.safetensors", "config.json", "tokenizer.json", "train_log.csv", "run.json"):
            assert (run / f).exists(), f
        info = json.loads((run / "run.json").read_text())
        assert info["seed"] == (0 if name == "a" else 1) and info["epochs_run"] == 2 and "torch" in info["versions"]


KILLER = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {repo!r})
    import torch
    torch.set_num_threads(1)
    from peapod.generator import train as T
    from peapod.generator.config import GeneratorConfig
    from peapod.generator.collab import load_collaborative_inputs
    from tests.generator_helpers import templates
    from tests.helpers import make_demo
    from peapod.data.demo import DemoConfig
    from pathlib import Path
    tmp = Path({tmp!r})
    data = make_demo(tmp / "killer", DemoConfig(**{demo!r})).task_data()
    collab = load_collaborative_inputs(tmp / "cf" / "user_embeddings.parquet", tmp / "cf" / "neighbors.parquet", 5, data.n_users)
    saves = 0
    original = T.save_training_state
    def save_then_die(*args, **kwargs):
        global saves
        original(*args, **kwargs)
        saves += 1
        if saves == {kill_after}:
            os.kill(os.getpid(), signal.{signal})  # killed mid-way, right after a checkpoint
    T.save_training_state = save_then_die
    T.train_generator(GeneratorConfig.from_dict({{**{settings!r}, "validation_topn_scoring": False}}), data,
                      templates(), 0, tmp / {run!r}, collab, loop=T.LoopSettings(checkpoint_every_steps=5))
""")


@pytest.mark.parametrize("sig,kill_after", [("SIGKILL", 3), ("SIGTERM", 6)])
def test_resume_after_kill_ends_like_an_uninterrupted_run(small, one_thread, sig, kill_after):
    tmp, data, collab = small
    cfg = GeneratorConfig.from_dict(SETTINGS)
    reference = tmp / "det_a"
    if not (reference / "model.safetensors").exists():
        train_generator(cfg.with_overrides(UNSCORED), data, templates(), 0, reference, collab)
    run = f"killed_{sig}"
    script = KILLER.format(repo=str(REPO), tmp=str(tmp), demo=SMALL.__dict__, kill_after=kill_after, signal=sig,
                           settings=SETTINGS, run=run)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -getattr(signal, sig), proc.stderr[-2000:]
    state = json.loads((tmp / run / "last" / "state.json").read_text())
    assert state["global_step"] > 0 and not state["finished"] and not (tmp / run / "model.safetensors").exists()
    summary = train_generator(cfg.with_overrides(UNSCORED), data, templates(), 0, tmp / run, collab)
    assert summary["resumed"] == 1
    assert same_weights(reference, tmp / run)
    drop = lambda text: [line.split(",")[:-3] for line in text.strip().split("\n")]  # noqa: E731 (timings differ)
    assert drop((reference / "train_log.csv").read_text()) == drop((tmp / run / "train_log.csv").read_text())


def test_state_of_other_settings_is_replaced_by_a_fresh_start(small, one_thread, caplog):
    """A last/ written with other settings (a run of 2 epochs killed mid-way; the run now asks for
    1) is never resumed, and nobody is asked to delete a folder: the run starts afresh, says so,
    and ends exactly like a run that never had that state."""
    import logging

    tmp, data, collab = small
    run = "stale"
    script = KILLER.format(repo=str(REPO), tmp=str(tmp), demo=SMALL.__dict__, kill_after=3, signal="SIGKILL",
                           settings=SETTINGS, run=run)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert (tmp / run / "last" / "state.json").exists()
    one_epoch = GeneratorConfig.from_dict({**SETTINGS, "epochs": 1, **UNSCORED})
    with caplog.at_level(logging.WARNING, logger="peapod.generator.train"):
        summary = train_generator(one_epoch, data, templates(), 0, tmp / run, collab)
    assert summary["resumed"] == 0 and summary["epochs_run"] == 1
    assert "was written with other settings or CF inputs: starting this run afresh" in caplog.text
    fresh = tmp / "fresh_one_epoch"
    train_generator(one_epoch, data, templates(), 0, fresh, collab)
    assert same_weights(fresh, tmp / run)


@pytest.mark.slow
def test_trained_model_beats_random_on_topn_validation(tmp_path, one_thread):
    """The demo's planted groups, CF stand-ins that know them, and the demo's generator settings:
    HR@10 and NDCG@10 by exact scoring of the 1 + 99 fixed validation candidates must reach at least
    twice random (HR@10 0.1, NDCG@10 0.045)."""
    import yaml

    demo = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    planted = make_demo(tmp_path, DemoConfig(**demo["datasets"]["demo"]["demo"]))
    data = planted.task_data()
    emb, nbr = write_group_embeddings(planted.truth, tmp_path / "cf", dim=16, k=20)
    # The demo's settings; explanation batches left out to keep the test under a minute.
    cfg = GeneratorConfig.from_dict({**demo["generator"], "tasks": ["sequential", "topn"], "epochs": 15, "patience": 15,
                                     "validation_topn_scoring": True})
    collab = load_collaborative_inputs(emb, nbr, cfg.neighbors, data.n_users)
    summary = train_generator(cfg, data, templates(), 0, tmp_path / "run", collab)
    # run.json and the checkpoint say which tasks the run learned
    assert summary["tasks_trained"] == json.loads((tmp_path / "run" / "run.json").read_text())["tasks_trained"] \
        == json.loads((tmp_path / "run" / "config.json").read_text())["tasks_trained"] == ["sequential", "topn"]
    metrics, chance = summary["valid_topn_exact_scoring"], summary["valid_topn_random_expectation"]
    print("top-n validation (exact scoring):", metrics, "random:", chance)
    assert chance["hr@10"] == pytest.approx(0.1)
    assert metrics["hr@10"] >= 2 * chance["hr@10"], metrics
    assert metrics["ndcg@10"] >= 2 * chance["ndcg@10"], metrics


# Top-n validation (exact scoring of 1 + 99 candidates, ties counted half) after 15 epochs on the demo
# with the project's own PMF embeddings, one torch thread, this test's setup at seeds 0-3 (the test
# runs seed 0), measured 2026-12-04 on the 2-core development machine:
#   PeaPOD HR@10 0.35  0.36  0.46  0.45    NDCG@10 0.195 0.178 0.226 0.209
#   POD    HR@10 0.05  0.05  0.04  0.07    NDCG@10 0.023 0.018 0.013 0.028   (random 0.1, 0.045)
# Before the attention change of issue 30 (peapod.generator.attention; the same losses per step to
# float rounding, which training amplifies) the same machine gave PeaPOD 0.42 0.39 0.53 0.44, and
# another machine 0.53 0.60 0.65 0.51: per-seed values move with float rounding order (kernels,
# CPUs), so the bounds hold what every measurement shares.
# Bounds: PeaPOD's about 20% below the lowest seed; POD's the band around chance its seeds fell in (it
# has the user's id tokens but no CF prompt, and learns no measurable top-n preference in this budget);
# the gap, the CF prompt's contribution, below the smallest measured (0.30).
PMF_LEARNING_BOUNDS = {
    "peapod": {"hr@10": (0.28, 1.0), "ndcg@10": (0.14, 1.0)},
    "pod": {"hr@10": (0.02, 0.2), "ndcg@10": (0.005, 0.09)},
}
PMF_MIN_GAP_HR10 = 0.25


@pytest.mark.slow
def test_real_pmf_embeddings_carry_what_peapod_learns(tmp_path, one_thread):
    """The demo's data through the data stage, the project's PMF stage and neighbour stage with the
    demo's settings, then PeaPOD and POD with the demo's generator settings (seed 0, 15 epochs,
    explanation batches left out): top-n validation by exact scoring against measured bounds."""
    import yaml

    from peapod.embeddings.stage import train_embeddings
    from peapod.neighbors import build_neighbors_stage

    demo = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    planted = make_demo(tmp_path, DemoConfig(**demo["datasets"]["demo"]["demo"]), parquet=True)
    cf = tmp_path / "cf"
    emb, nbr = cf / "user_embeddings.parquet", cf / "neighbors.parquet"
    pmf = train_embeddings("demo", "pmf", planted.paths, {"embeddings": emb, "metrics": cf / "metrics.json"},
                           demo["embeddings"])
    assert pmf["test"]["hr@10"] > 0.3, pmf["test"]  # the CF model itself learned the groups (measured 0.575)
    build_neighbors_stage(emb, nbr, demo["neighbors"]["k"], demo["neighbors"]["block_mib"])
    data = planted.task_data()
    measured = {}
    for variant, overrides in (("peapod", {}), ("pod", {"user_prompt": "none"})):
        cfg = GeneratorConfig.from_dict({**demo["generator"], **overrides, "tasks": ["sequential", "topn"],
                                         "epochs": 15, "patience": 15, "validation_topn_scoring": True})
        collab = load_collaborative_inputs(emb, nbr, cfg.neighbors, data.n_users) if variant == "peapod" else None
        summary = train_generator(cfg, data, templates(), 0, tmp_path / variant, collab)
        assert summary["valid_topn_random_expectation"]["hr@10"] == pytest.approx(0.1)
        measured[variant] = summary["valid_topn_exact_scoring"]
    print("top-n validation (exact scoring):", measured)
    for variant, bounds in PMF_LEARNING_BOUNDS.items():
        for metric, (low, high) in bounds.items():
            assert low <= measured[variant][metric] <= high, (variant, metric, measured[variant])
    assert measured["peapod"]["hr@10"] - measured["pod"]["hr@10"] >= PMF_MIN_GAP_HR10, measured


def test_finished_run_keeps_only_what_evaluation_needs(small, one_thread, monkeypatch):
    """After export: no last/ or best/, no CF tables inside the weights (config.json names their
    files and hashes), and the exported model reloads from those files; a changed embeddings
    file is refused. The optional validation scoring runs after the export, and running out of
    memory there leaves the exported run standing."""
    from peapod.errors import InputError
    from peapod.generator import validation as V
    from peapod.generator.checkpoint import load_model_dir
    from peapod.generator.collab import CollabSource

    tmp, data, _ = small
    cfg = GeneratorConfig.from_dict({**SETTINGS, "epochs": 1, "curve_users": 0})  # scoring only after export
    source = CollabSource.of(tmp / "cf" / "user_embeddings.parquet", tmp / "cf" / "neighbors.parquet", 5, data.n_users)

    def out_of_memory(*args, **kwargs):
        assert (tmp / "lean" / "model.safetensors").exists()  # exported before any scoring
        raise torch.OutOfMemoryError("simulated")

    monkeypatch.setattr(V, "score_topn", out_of_memory)
    summary = train_generator(cfg, data, templates(), 0, tmp / "lean", source.load(), cf_source=source)
    run = tmp / "lean"
    assert sorted(p.name for p in run.iterdir() if p.is_dir()) == []
    assert "out of memory" in summary["valid_topn_exact_scoring"]["error"]
    assert json.loads((run / "run.json").read_text())["valid_topn_exact_scoring"] == summary["valid_topn_exact_scoring"]
    assert not {"user_embeddings", "neighbor_ids"} & set(weights(run)) and not (run / "collab.safetensors").exists()
    meta = json.loads((run / "config.json").read_text())
    assert meta["cf_source"] == source.to_dict() and len(meta["cf_source"]["embeddings_sha256"]) == 64
    model, _, _ = load_model_dir(run)
    emb, nbr = source.load()
    assert np.array_equal(model.user_embeddings.numpy(), emb) and np.array_equal(model.neighbor_ids.numpy(), nbr)
    changed = tmp / "changed_embeddings.parquet"
    changed.write_bytes((tmp / "cf" / "user_embeddings.parquet").read_bytes() + b"\0")
    with pytest.raises(InputError, match="differs from the CF embeddings this model was trained with"):
        load_model_dir(run, cf_files=(changed, tmp / "cf" / "neighbors.parquet"))


def test_training_state_reads_and_writes_the_state_json_of_earlier_versions():
    """last/state.json as the dict-based loop wrote it (same keys, same order) round-trips through
    TrainingState unchanged, so a run checkpointed before the dataclass resumes; a file with fields
    this version does not know is refused."""
    from peapod.generator.train import TrainingState

    saved = {"epoch": 1, "step": 20, "global_step": 72, "best_valid": 3.396881, "best_epoch": 1, "bad_epochs": 0,
             "finished": False, "stop_reason": None,
             "rows": [{"epoch": 1, "valid_loss_mean": 3.396881, "improved": 1, "epoch_seconds": 2.1,
                       "elapsed_s": 2.2, "train_loss_topn": 3.951087, "valid_loss_topn": 2.755502}],
             "elapsed_s": 3.5, "resumed": 0}
    state = TrainingState.from_dict(json.loads(json.dumps(saved)))
    assert state.step == 20 and state.rows[0]["valid_loss_topn"] == 2.755502
    assert json.dumps(state.to_dict(), indent=1) == json.dumps(saved, indent=1)
    with pytest.raises(ValueError, match="unknown fields"):
        TrainingState.from_dict({**saved, "learning_rate": 1e-3})


def test_learning_curves_are_logged_each_epoch_and_read_as_the_evaluation_reads(small, one_thread):
    """train_log.csv carries, per epoch, validation HR@10 on a fixed user sample by free beams and by
    exact scoring. The exported model's last-epoch exact-scoring point equals the evaluation
    stage's top-n scoring HR@10 on the same users of the validation split."""
    import pandas as pd

    from peapod.evaluation.evaluate import EvalData, EvalSettings, RunEvaluator
    from peapod.generator.checkpoint import load_model_dir
    from peapod.generator.train import CURVE_COLUMNS

    tmp, data, collab = small
    cfg = GeneratorConfig.from_dict({**SETTINGS, "epochs": 2, "patience": 5, "curve_users": 24, "curve_beams": 10})
    train_generator(cfg.with_overrides(UNSCORED), data, templates(), 0, tmp / "curves", collab)
    log = pd.read_csv(tmp / "curves" / "train_log.csv")
    assert len(log) == 2 and set(CURVE_COLUMNS) <= set(log.columns)
    for column in CURVE_COLUMNS[:-1]:
        assert log[column].between(0, 1).all() and log[column].notna().all(), column
    # the learning check's time is part of its epoch's (validate runs inside the epoch's clock)
    assert ((log["curve_seconds"] > 0) & (log["curve_seconds"] < log["epoch_seconds"])).all(), log
    counts = json.loads((tmp / "curves" / "run.json").read_text())["parameters"]
    d, c = SETTINGS["tiny"]["d_model"], collab[0].shape[1]  # the released code's shapes (model.MHAUserPrompt)
    assert counts["user_prompt"] == 3 * (c * d + d) + d * 3 * d + 3 * d
    assert counts["total"] > counts["backbone"] > counts["user_prompt"] > 0
    # The exported model is the best epoch's, whichever epoch that was: its curve point is exact.
    best_epoch = json.loads((tmp / "curves" / "run.json").read_text())["best_epoch"]
    assert int(log["improved"].iloc[best_epoch - 1]) == 1
    model, tok, _ = load_model_dir(tmp / "curves")
    eval_data = EvalData.from_directory(tmp / "data", "valid").sampled(24, cfg.validation_seed, "valid")
    ev = RunEvaluator(model, tok, templates(), EvalSettings(split="valid", topn_methods=("scoring",)),
                      eval_data.catalogue)
    hr = ev.topn(eval_data)["hr@10"].mean()
    assert log["valid_hr10_topn_scoring"].iloc[best_epoch - 1] == pytest.approx(hr, abs=1e-6)


def test_fewer_training_negatives_than_evaluation_are_warned(small, caplog):
    from peapod.generator.train import warn_if_fewer_training_negatives

    _, data, _ = small
    evaluated = len(next(iter(data.valid_candidates.values()))[1])
    with caplog.at_level("WARNING"):
        assert warn_if_fewer_training_negatives(GeneratorConfig.from_dict({**SETTINGS, "negatives": evaluated - 1}), data)
    assert f"set generator.negatives: {evaluated}" in caplog.text
    assert not warn_if_fewer_training_negatives(GeneratorConfig.from_dict({**SETTINGS, "negatives": evaluated}), data)
    only_seq = GeneratorConfig.from_dict({**SETTINGS, "negatives": 1, "tasks": ["sequential"]})
    assert not warn_if_fewer_training_negatives(only_seq, data)


def test_the_learning_rate_schedule_reaches_the_optimizer(small, one_thread):
    """train_log.csv's learning_rate is the last batch's: warm-up then linear decay to 0."""
    import pandas as pd

    from peapod.generator.config import learning_rate_factor

    tmp, data, collab = small
    cfg = GeneratorConfig.from_dict({**SETTINGS, "epochs": 2, "curve_users": 0, "warmup_steps": 3, "lr_decay": "linear",
                                     "patience": 5})
    train_generator(cfg.with_overrides(UNSCORED), data, templates(), 0, tmp / "schedule", collab)
    log = pd.read_csv(tmp / "schedule" / "train_log.csv")
    from peapod.generator.data import Batches
    from peapod.generator.checkpoint import load_model_dir

    _, tok, _ = load_model_dir(tmp / "schedule")
    per_epoch = Batches(data, tok, templates(), cfg, 0).epoch_length()
    expected = [cfg.learning_rate * learning_rate_factor(cfg, (e + 1) * per_epoch - 1, 2 * per_epoch) for e in range(2)]
    assert log["learning_rate"].tolist() == pytest.approx(expected)
    assert expected[0] < cfg.learning_rate and expected[1] < expected[0]


@pytest.mark.timeout(1200)  # measured 3.4 min on one thread beside other tests
def test_the_tiny_backbone_learns_to_copy_one_of_its_prompt_tokens(one_thread):
    """The planted copy task (peapod.generator.copy_check): prompts of 5 random token ids, the
    target one of them. A model that reads its prompt moves the target token's loss from
    log(597) toward log(5); one that cannot (a broken cross-attention mask, an encoder output that
    never reaches the decoder) stays at log(597). The study's shape at lr 1e-3 gets a third of the
    way in 1,500 steps (benchmarks/probe_copy.py; docs/results/beauty-cpu.md)."""
    from peapod.generator.copy_check import copy_curve

    cfg = GeneratorConfig(tiny={"d_model": 64, "d_ff": 128, "num_layers": 2, "num_heads": 2, "dropout_rate": 0.0},
                          user_prompt="none", learning_rate=1e-3, warmup_steps=200, clip_norm=1.0, batch_size=16)
    curve = copy_curve(cfg, vocab_size=600, candidates=5, steps=1500, window=250)
    assert curve.losses[0] > curve.prior_loss - 0.2  # it starts knowing nothing
    assert curve.learned_share() > 0.2, curve
    assert curve.losses[-1] < curve.losses[1] - 0.5, curve


def test_the_copy_check_cannot_be_passed_without_reading_the_prompt(one_thread, monkeypatch):
    """The same check with the decoder cut off from the prompt (every encoder output zeroed) stays
    at the prior: what the check measures is copying, which uniform random targets leave as the
    only way below log(vocabulary)."""
    from peapod.generator import copy_check
    from peapod.generator.model import PeaPOD

    encode = PeaPOD.encode

    def blind(self, batch, *rest):
        outputs, mask = encode(self, batch, *rest)
        outputs.last_hidden_state = torch.zeros_like(outputs.last_hidden_state)
        return outputs, mask

    monkeypatch.setattr(PeaPOD, "encode", blind)
    cfg = GeneratorConfig(tiny={"d_model": 64, "d_ff": 128, "num_layers": 2, "num_heads": 2, "dropout_rate": 0.0},
                          user_prompt="none", learning_rate=1e-3, warmup_steps=200, clip_norm=1.0, batch_size=16)
    curve = copy_check.copy_curve(cfg, vocab_size=600, candidates=5, steps=1000, window=250)
    assert curve.learned_share() < 0.05, curve
