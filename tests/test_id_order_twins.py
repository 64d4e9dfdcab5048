"""The id-order twins (id_order_twins, docs/paper-study.md): each P5 dataset's twin with its items
renumbered at random, added when the config is loaded (peapod.config.with_twins), run with the main
tables' variants, shown beside its dataset in the sequential tables and kept out of every test."""

from __future__ import annotations

import copy
import math

import pandas as pd
import pytest

from peapod.aggregate import compare, render, tables
from peapod.aggregate.baselines import COLUMNS as BASELINE_COLUMNS
from peapod.aggregate.pipeline import SUMMARY_BY, reported_cells
from peapod.aggregate.settings import SettingsError, make_plan
from peapod.aggregate.stats import summarize
from peapod.config import ConfigError, validate_config, with_defaults, with_twins
from tests.aggregate_fixtures import GENERATOR
from tests.helpers import REPO

P5 = {"source": "p5", "path": "resources/p5/beauty"}
REPORTED = str(REPO / "resources" / "reported" / "paper_tables.csv")


def test_each_p5_dataset_gets_a_twin_and_nothing_else_does():
    sports = {"source": "p5", "path": "resources/p5/sports", "generator": {"neighbors": 10},
              "variants": {"pod": {"learning_rate": 0.001}}}
    cfg = {"id_order_twins": True, "variants": {"peapod": {}, "pod": {"user_prompt": "none"}}, "datasets": {
        "beauty": dict(P5), "sports": sports,
        "shuffled": {**P5, "item_numbering": "random"},  # already random: nothing to control
        "mine": {"source": "interactions", "path": "mine.csv"}, "demo": {"source": "demo"}}}
    before = copy.deepcopy(cfg)
    out = with_twins(cfg)
    assert cfg == before  # a copy: the config given is not changed
    assert list(out["datasets"]) == [*cfg["datasets"], "beauty_random", "sports_random"]
    # the same entry, its own settings included, renumbered at random and naming its dataset
    assert out["datasets"]["sports_random"] == {**sports, "item_numbering": "random", "twin_of": "sports"}
    assert out["datasets"]["beauty_random"] == {**P5, "item_numbering": "random", "twin_of": "beauty"}
    assert with_twins(out) == out  # loading twice adds nothing
    validate_config(out, REPO / "workflow" / "schemas" / "config.schema.yaml")  # the schema knows twin_of
    filled = with_defaults(cfg)  # the package's loader expands them too
    assert set(filled["datasets"]) == set(out["datasets"]) and filled["datasets"]["beauty_random"]["variants"] == {}
    # the switch off (the default): no twins
    assert with_twins({**cfg, "id_order_twins": False})["datasets"] == cfg["datasets"]
    assert set(with_defaults({"datasets": {"beauty": dict(P5)}})["datasets"]) == {"beauty"}


def test_a_twin_name_that_is_taken_or_a_bad_twin_stops_the_config():
    taken = {"id_order_twins": True, "datasets": {"beauty": dict(P5), "beauty_random": {"source": "demo"}}}
    with pytest.raises(ConfigError, match=r"datasets\.beauty_random: id_order_twins adds beauty's twin under"):
        with_twins(taken)
    twin = {**P5, "item_numbering": "random", "twin_of": "beauty"}
    declared = {"datasets": {"beauty": dict(P5), "beauty_random": twin}}
    assert with_twins({**declared, "id_order_twins": True}) == {**declared, "id_order_twins": True}
    with pytest.raises(ConfigError, match=r"datasets\.x\.twin_of: 'toys' is not a dataset"):
        with_twins({"datasets": {"x": {**P5, "item_numbering": "random", "twin_of": "toys"}}})
    with pytest.raises(ConfigError, match=r"datasets\.x: a twin renumbers its items"):
        with_twins({"datasets": {"beauty": dict(P5), "x": {**P5, "twin_of": "beauty"}}})


def twin_config() -> dict:
    """Beauty and its twin; PeaPOD, POD and a task-prompt ablation; three seeds."""
    return with_defaults({
        "id_order_twins": True, "datasets": {"beauty": dict(P5)}, "seeds": [1, 2, 3], "generator": dict(GENERATOR),
        "variants": {"peapod": {}, "pod": {"user_prompt": "none"}, "no_task_prompt": {"task_prompt_length": 0}},
        "ablations": {"task_prompt": {"variants": ["peapod", "no_task_prompt"]}},
    })


def test_a_twin_runs_the_table_variants_and_no_ablation():
    plan = make_plan(twin_config())
    assert plan.datasets == ("beauty",) and plan.twins == {"beauty": "beauty_random"}
    assert {(d, v) for d, v, _ in plan.runs()} == {
        ("beauty", "peapod"), ("beauty", "pod"), ("beauty", "no_task_prompt"),
        ("beauty_random", "peapod"), ("beauty_random", "pod")}
    assert len(plan.runs()) == 5 * 3
    assert plan.ablations["task_prompt"]["datasets"] == ("beauty",)
    assert {d for d, _, _ in plan.for_ablation("task_prompt").runs()} == {"beauty"}
    cfg = twin_config()
    cfg["ablations"]["task_prompt"]["datasets"] = ["beauty_random"]
    with pytest.raises(SettingsError, match=r"ablations\.task_prompt\.datasets: 'beauty_random' is an id-order twin"):
        make_plan(cfg)


# Hand-made sequential results: seed values of HR@10 per (dataset, variant); the other metrics scale it.
HR10 = {
    ("beauty", "peapod"): [0.0310, 0.0312, 0.0314], ("beauty", "pod"): [0.0250, 0.0255, 0.0251],
    ("beauty_random", "peapod"): [0.0100, 0.0101, 0.0102], ("beauty_random", "pod"): [0.0060, 0.0063, 0.0060],
    ("beauty", "no_task_prompt"): [0.0300, 0.0301, 0.0302],
}
SCALE = {"hr@5": 0.7, "ndcg@5": 0.5, "hr@10": 1.0, "ndcg@10": 0.6}
PROBE = {"beauty": 0.0350, "beauty_random": 0.0020}  # the id-order probe's HR@10 on each numbering


def hand_made_tables(name: str = "sequential") -> tuple[tables.PaperTable, pd.DataFrame, pd.DataFrame]:
    """(the table, the tests against the reported numbers, the paired tests) of the hand-made results."""
    cfg = twin_config()
    plan = make_plan(cfg)
    rows = [(d, v, seed, task, "beam", "test", metric, value * scale)
            for (d, v), values in HR10.items() for seed, value in enumerate(values, start=1)
            for task in ("sequential", "topn") for metric, scale in SCALE.items()]
    tidy = pd.DataFrame(rows, columns=["dataset", "variant", "seed", "task", "method", "split", "metric", "value"])
    reported = reported_cells(cfg, REPORTED)
    vs_reported = compare.tests_vs_reported(tidy, reported, plan)
    paired = compare.paired_tests(tidy, plan)
    baselines = pd.DataFrame(
        [(d, model, "sequential", None, None, "test", metric, value * SCALE[metric], "all")
         for d, probe in PROBE.items() for model, value in (("id_order", probe), ("most_popular", 0.0080))
         for metric in SCALE], columns=BASELINE_COLUMNS)
    inputs = tables.TableInputs(config=cfg, plan=plan, summary=summarize(tidy, SUMMARY_BY, expected_seeds=plan.seeds),
                                reported=reported, vs_reported=vs_reported, paired=paired, baselines=baselines,
                                labels={"peapod": "PeaPOD", "pod": "POD"})
    return tables.make_paper_table(name, inputs), vs_reported, paired


def test_the_sequential_table_shows_each_cell_beside_its_twin():
    table, vs_reported, paired = hand_made_tables()
    # Twins enter no test: neither against the reported numbers nor PeaPOD against POD.
    assert len(vs_reported) and "beauty_random" not in set(vs_reported["dataset"])
    assert len(paired) and set(paired["dataset"]) == {"beauty"}
    # Beauty's columns, then its twin's, then the paper's datasets we do not run.
    assert table.datasets() == ["sports", "beauty", "beauty_random", "toys"]
    hr10 = {d: tables.Column(d, "sequential", "hr@10") for d in ("beauty", "beauty_random")}
    by = {r.label: r for r in table.rows}
    assert by["PeaPOD (ours)"].cells[hr10["beauty"]].value == pytest.approx(0.0312)
    assert by["PeaPOD (ours)"].cells[hr10["beauty_random"]].value == pytest.approx(0.0101)
    assert by["POD (ours)"].cells[hr10["beauty_random"]].value == pytest.approx(0.0061)
    probe = by["Id order (+1, +2, ...) (ours, same split)"]  # the probe on both numberings
    assert probe.cells[hr10["beauty"]].value == pytest.approx(0.035)
    assert probe.cells[hr10["beauty_random"]].value == pytest.approx(0.002)
    # No reported number on the twin, and no * or † there (on Beauty PeaPOD beats POD: †).
    twin_cells = [cell for r in table.rows for c, cell in r.cells.items() if c.dataset == "beauty_random"]
    assert not any(c.marks for c in twin_cells)
    assert all(math.isnan(r.cells[hr10["beauty_random"]].value) for r in table.rows if r.kind == "reported")
    assert tables.DAGGER in by["PeaPOD (ours)"].cells[hr10["beauty"]].marks
    assert "beauty_random" not in table.reported_only

    md = render.to_markdown(table)
    header = next(line for line in md.splitlines() if line.startswith("| Model"))
    assert "| Beauty NDCG@10 | Beauty, random ids HR@5 |" in header
    assert "Beauty Random" not in md and "Toys (reported only) HR@5" in header
    row = next(line for line in md.splitlines() if line.startswith("| PeaPOD (ours) |")).split(" | ")
    at = header.split(" | ").index("Beauty, random ids HR@10")
    assert row[at].startswith("**0.0101**") and row[at - 4].startswith("0.0312†")  # the paper's rows beat 0.0312
    assert "Columns 'Beauty, random ids': the id-order control" in md and "on the twins: POD, PeaPOD." in md
    assert "\\multicolumn{4}{c}{Beauty, random ids}" in render.to_latex(table)
    assert "<th colspan='4' style='text-align:center'>Beauty, random ids</th>" in render.to_html(table)
    csv = pd.read_csv(pd.io.common.StringIO(render.to_csv(table))).set_index("model")
    assert csv.loc["PeaPOD (ours)", "beauty_random:sequential:hr@10"] == pytest.approx(0.0101)


def test_twins_show_in_the_sequential_tables_only():
    appendix, _, _ = hand_made_tables("task_prompt_sequential")
    assert "beauty_random" in appendix.datasets()
    by = {r.label: r for r in appendix.rows}
    twin = tables.Column("beauty_random", "sequential", "hr@10")
    assert by["PeaPOD (ours)"].cells[twin].value == pytest.approx(0.0101)
    assert math.isnan(by["PeaPOD (no task) (ours)"].cells[twin].value)  # no ablation runs on a twin
    topn, _, _ = hand_made_tables("topn")
    assert topn.datasets() == ["sports", "beauty", "toys"] and not topn.twins
