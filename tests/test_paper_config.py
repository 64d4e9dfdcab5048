"""config/paper.yaml, shrunk: every job of every variant and ablation on the paper's three datasets
runs to completion (tiny backbone, one seed, one epoch, small synthetic P5 datasets with
explanations in place of the real ones). It exercises what only the paper's config says: Toys'
own neighbour count, POD's own learning rate on Sports, the neighbors_30 ablation (the neighbour
index must keep 30), no gradient clipping, all four top-n methods and both explanation scorings, and
the id-order twins."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from peapod.data.demo import DemoConfig
from tests.helpers import REPO, make_demo
from tests.workflow_helpers import ONE_THREAD_PER_JOB, run, workflow_copy

TINY = {"d_model": 32, "d_ff": 64, "num_layers": 1, "num_heads": 2, "vocab_size": 400, "dropout_rate": 0.0}


def shrink(paper: dict) -> dict:
    """The paper's config with every size cut down and nothing else changed."""
    cfg = dict(paper)
    cfg["seeds"] = [1]
    cfg["embeddings"] = {
        **paper["embeddings"], "dim": 16,
        "pmf": {**paper["embeddings"]["pmf"], "max_iter": 3},
        "bivae": {**paper["embeddings"]["bivae"], "n_epochs": 2},
        "lightgcn": {**paper["embeddings"]["lightgcn"], "epochs": 1, "train_batch_size": 256},
    }
    cfg["generator"] = {**paper["generator"], "backbone": "tiny", "tiny": TINY, "epochs": 1, "batch_size": 16,
                        "negatives": 19, "validation_topn_scoring": False, "curve_users": 20, "curve_beams": 10}
    # The model-size ablation keeps its shape: a second, larger tiny backbone stands in for T5-base.
    variants = dict(paper["variants"])
    assert variants["t5_base"] == {"backbone": "t5-base"}
    variants["t5_base"] = {"tiny": {"d_model": 48, "num_heads": 3, "num_layers": 2}}
    cfg["variants"] = variants
    cfg["baselines"] = {**paper["baselines"], "models": ["SASRec", "MF"], "seeds": [1],
                        "SASRec": {"epochs": 1, "recbole": {"hidden_size": 8, "inner_size": 16}},
                        "MF": {"epochs": 1, "recbole": {"embedding_size": 8}}}
    cfg["evaluation"] = {**paper["evaluation"], "beams": 4, "top_k": 4, "explanation_beams": 2,
                         "explanation_max_length": 12, "batch_size": 16}
    return cfg


@pytest.mark.slow
@pytest.mark.timeout(2400)  # measured 12 min on 2 cores beside the demo test, 15 under CI
def test_shrunk_paper_config_runs_every_job(tmp_path):
    paper = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    work = workflow_copy(tmp_path)
    for k, name in enumerate(paper["datasets"]):  # small P5 directories with explanations
        path = work / paper["datasets"][name]["path"]
        make_demo(path, DemoConfig(n_users=32, n_items=140, n_groups=4, min_length=5, max_length=8,
                                   explanation_fraction=0.3, seed=k), raw=path)
    (work / "config" / "paper_shrunk.yaml").write_text(yaml.safe_dump(shrink(paper)))
    # Two generator jobs at a time, one thread each: on a CPU the jobs are mostly interpreter and
    # library start-up (about 4 s each), which one thread does as fast as two.
    run(["--configfile", "config/paper_shrunk.yaml", "--cores", "2", "--resources", "gpu=2", *ONE_THREAD_PER_JOB],
        work)

    results = work / "results"
    metrics = sorted(results.glob("*/runs/*/*/seed1/metrics.parquet"))
    # 17 variants per dataset, PeaPOD and POD on each id-order twin (docs/paper-study.md, "Running the study")
    assert len(metrics) == 3 * 17 + 3 * 2
    # The neighbour index keeps what neighbors_30 reads; BiVAE's keeps neighbors.k.
    for dataset in ("sports", "beauty", "toys"):
        width = pq.read_table(results / dataset / "neighbors" / "pmf" / "neighbors.parquet").schema.field(
            "neighbor_ids").type.list_size
        assert width == 30, dataset
    run_json = {p.parts[-4] + "/" + p.parts[-6]: json.loads(p.read_text())  # <dataset>/runs/<variant>/<key>/seed1
                for p in results.glob("*/runs/*/*/seed1/run.json")}
    assert run_json["pod/sports"]["config"]["learning_rate"] == 0.001
    assert run_json["pod/beauty"]["config"]["learning_rate"] == 0.0005
    assert run_json["peapod/toys"]["config"]["neighbors"] == 10
    # A twin trains with its dataset's own settings.
    assert run_json["pod/sports_random"]["config"]["learning_rate"] == 0.001
    assert run_json["peapod/toys_random"]["config"]["neighbors"] == 10
    assert all(r["config"]["clip_norm"] == 0 for r in run_json.values())
    tidy = pd.concat([pd.read_parquet(p) for p in metrics])
    assert set(zip(tidy.task, tidy.method)) == {
        ("sequential", "beam"), ("topn", "beam"), ("topn", "beam_candidates"), ("topn", "scoring"),
        ("topn", "scoring_blind"), ("explanation", "beam"), ("explanation", "beam_reference")}
    # Only what evaluation needs is kept per run.
    assert not list(results.glob("*/runs/*/*/seed1/last")) and not list(results.glob("*/runs/*/*/seed1/best"))
    study = results / "studies" / "paper_shrunk"  # the config file's name
    for ablation in paper["ablations"]:
        assert (study / "ablations" / ablation / "summary.csv").exists(), ablation
    assert len(list(results.glob("*/baselines/*/seed1/metrics.parquet"))) == 3 * 2  # SASRec and MF per dataset
    # The sequential table has each twin's columns beside its dataset's.
    header = (study / "tables" / "sequential.md").read_text().split("| Model | ")[1].split("\n")[0]
    assert "Beauty NDCG@10 | Beauty, random ids HR@5" in header
