"""Aggregation: statistics against scipy and hand cases, table marks, missing runs, figures, reported numbers."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import matplotlib
import pytest
from scipy import stats

from peapod.aggregate import compare, render, tables
from peapod.aggregate.collect import METRICS, collect_runs, read_run_metrics
from peapod.aggregate.methods import compared_method, ordered_methods
from peapod.aggregate.reported import REPORTED_TABLES, attach_variants, load_reported, reproducing_variant
from peapod.aggregate.settings import SettingsError, make_plan, settings_table
from peapod.aggregate.stats import confidence_interval, holm, one_sample_ttest, paired_ttest, summarize
from peapod.errors import InputError
from peapod.aggregate.claims import CLAIMS
from tests.aggregate_fixtures import ABLATIONS, make_config, run_metrics, write_runs
from tests.helpers import REPO

A = [0.0671, 0.0655, 0.0690, 0.0662, 0.0648, 0.0683, 0.0659, 0.0677, 0.0668, 0.0651]
B = [0.0650, 0.0641, 0.0668, 0.0660, 0.0630, 0.0671, 0.0640, 0.0655, 0.0662, 0.0644]


# ---------------------------------------------------------------------------------------------
# Statistics


def test_one_sample_ttest_matches_scipy():
    res = one_sample_ttest(A, 0.0640)
    ref = stats.ttest_1samp(A, 0.0640)
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert res.pvalue == pytest.approx(ref.pvalue, rel=1e-12)
    assert (res.n, res.df, res.mean) == (10, 9, pytest.approx(np.mean(A)))
    # two-sided: the same p on the other side
    assert one_sample_ttest(A, 2 * np.mean(A) - 0.0640).pvalue == pytest.approx(ref.pvalue, rel=1e-9)


def test_one_sample_ttest_states_n_when_there_is_no_test():
    res = one_sample_ttest([0.5], 0.4)
    assert res.n == 1 and math.isnan(res.pvalue) and "n=1" in res.note
    res = one_sample_ttest([0.5, float("nan"), 0.7], 0.4)
    assert res.n == 2 and res.pvalue == pytest.approx(stats.ttest_1samp([0.5, 0.7], 0.4).pvalue)


def test_paired_ttest_matches_scipy_and_reports_unpaired_seeds():
    a = dict(enumerate(A, start=1))
    b = dict(enumerate(B, start=1))
    res, unpaired = paired_ttest(a, b)
    ref = stats.ttest_rel(A, B)
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert res.pvalue == pytest.approx(ref.pvalue, rel=1e-12)
    assert res.n == 10 and unpaired == []
    del a[3]
    b[11] = 0.07
    res, unpaired = paired_ttest(a, b)
    keep = [i for i in range(10) if i != 2]
    ref = stats.ttest_rel([A[i] for i in keep], [B[i] for i in keep])
    assert res.n == 9 and unpaired == [3, 11]
    assert res.pvalue == pytest.approx(ref.pvalue, rel=1e-12)


def test_holm_hand_case():
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    out = holm([0.01, float("nan"), 0.04])  # NaN (no test) is not in the family
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.04)
    assert holm([]).shape == (0,)


def test_confidence_interval_matches_scipy_and_summary():
    low, high = confidence_interval(A)
    ref = stats.t.interval(0.95, len(A) - 1, loc=np.mean(A), scale=stats.sem(A))
    assert (low, high) == pytest.approx(ref, rel=1e-12)
    assert all(math.isnan(v) for v in confidence_interval([0.3]))
    tidy = pd.DataFrame({"g": "x", "seed": range(1, 11), "value": A})
    s = summarize(tidy, ["g"], expected_seeds=range(1, 12)).iloc[0]
    assert s.n_seeds == 10 and s["std"] == pytest.approx(np.std(A, ddof=1))
    assert (s.ci_low, s.ci_high) == pytest.approx(ref) and s.missing_seeds == "11"


# ---------------------------------------------------------------------------------------------
# Settings from config, not from names


def test_settings_come_from_defaults_and_overrides():
    s = settings_table(make_config(datasets=("sports",))).set_index("variant")
    assert s.loc["mlp", "heads_axis"] == 0 and s.loc["heads_8", "heads_axis"] == 8 and s.loc["peapod", "heads_axis"] == 4
    assert math.isnan(s.loc["pod", "heads_axis"])
    assert s.loc["no_task_prompt", "task_prompt"] == "without" and s.loc["peapod", "task_prompt"] == "with"
    assert s.loc["peapod", "setting"] == "default" and s.loc["bivae", "setting"] == "cf_model=bivae"
    assert s.loc["base", "backbone"] == "t5-base" and s.loc["base", "neighbors"] == 20


def test_dataset_level_generator_overrides_apply():
    cfg = make_config(datasets=("sports", "toys"))
    cfg["datasets"]["toys"]["generator"] = {"neighbors": 10}
    s = settings_table(cfg).set_index(["dataset", "variant"])
    assert s.loc[("toys", "peapod"), "neighbors"] == 10 and s.loc[("sports", "peapod"), "neighbors"] == 20
    assert s.loc[("toys", "peapod"), "setting"] == "default"


def test_plan_rejects_unknown_variants():
    cfg = make_config()
    cfg["ablations"]["heads"]["variants"].append("heads_16")
    with pytest.raises(SettingsError, match="ablations.heads.variants: 'heads_16'"):
        make_plan(cfg)


def test_ablation_variant_equal_to_the_default_is_not_trained_twice():
    """On Toys (10 neighbours by dataset override) neighbors_10 *is* PeaPOD: the plan drops it there
    and its paired test (a comparison of a run with itself) is skipped; on Sports it stays."""
    cfg = make_config(datasets=("sports", "toys"))
    cfg["datasets"]["toys"]["generator"] = {"neighbors": 10}
    plan = make_plan(cfg)
    assert plan.aliases == {("toys", "neighbors_10")}
    runs = set(plan.runs())
    assert ("toys", "neighbors_10", 1) not in runs and ("sports", "neighbors_10", 1) in runs
    assert ("toys", "peapod", 1) in runs


def test_paired_tests_skip_the_alias_of_the_default(tmp_path):
    cfg = make_config(datasets=("sports", "toys"))
    cfg["datasets"]["toys"]["generator"] = {"neighbors": 10}
    plan = make_plan(cfg)
    tidy, _ = collect_runs(plan.runs(), write_runs(tmp_path, cfg))
    paired = compare.paired_tests(tidy, plan)
    n10 = paired[paired["variant_a"] == "neighbors_10"]
    assert set(n10["dataset"]) == {"sports"}


def test_ablation_plan_holds_only_its_runs_and_always_the_default():
    cfg = make_config(datasets=("sports", "beauty"))
    cfg["ablations"]["heads"] = {"variants": ["mlp", "heads_8"], "datasets": ["beauty"]}  # default left out
    plan = make_plan(cfg)
    heads = plan.for_ablation("heads")
    assert heads.ablations["heads"]["variants"] == ("peapod", "mlp", "heads_8")
    assert {(d, v) for d, v, _ in heads.runs()} == {("beauty", "peapod"), ("beauty", "mlp"), ("beauty", "heads_8")}
    assert heads.table_variants == () and heads.baseline_variant is None
    with pytest.raises(SettingsError, match="ablation 'missing' is not configured"):
        plan.for_ablation("missing")


def test_summarize_ablation_tests_each_setting_against_the_default(tmp_path):
    from peapod.aggregate.pipeline import expected_run_paths, summarize_ablation

    cfg = make_config(datasets=("sports",))
    write_runs(tmp_path / "results", cfg)
    out = {k: str(tmp_path / f"{k}.out") for k in ("summary", "summary_csv", "missing", "paired")}
    summarize_ablation(cfg, "heads", expected_run_paths(cfg, root=str(tmp_path / "results"), ablation="heads"), out)
    summary = pd.read_parquet(out["summary"])
    assert set(summary["variant"]) == {"mlp", "heads_1", "peapod", "heads_8"}
    paired = pd.read_csv(out["paired"])
    assert set(paired["variant_a"]) == {"mlp", "heads_1", "heads_8"} and set(paired["variant_b"]) == {"peapod"}
    assert set(paired["family"]) == {"ablation:heads"}
    assert pd.read_csv(out["missing"]).empty


# ---------------------------------------------------------------------------------------------
# Collection: nothing is dropped silently


def test_missing_run_and_missing_metric_are_reported(tmp_path, caplog):
    cfg = make_config(datasets=("sports",), ablations={})
    paths = write_runs(tmp_path, cfg, skip={("sports", "pod", 2)})
    # seed 3 of peapod lacks explanation rouge1; seed 1 of peapod has a NaN
    p3 = paths[("sports", "peapod", 3)]
    df = pd.read_parquet(p3)
    df[~((df.task == "explanation") & (df.metric == "rouge1") & (df.method == "beam"))].to_parquet(p3, index=False)
    p1 = paths[("sports", "peapod", 1)]
    df = pd.read_parquet(p1)
    df.loc[(df.task == "sequential") & (df.metric == "hr@5") & (df.split == "test"), "value"] = float("nan")
    df.to_parquet(p1, index=False)

    with caplog.at_level("WARNING", logger="peapod"):
        tidy, missing = collect_runs(make_plan(cfg).runs(), paths)
    reasons = {(r.variant, r.seed, r.metric if isinstance(r.metric, str) else None): r.reason for r in missing.itertuples()}
    assert reasons[("pod", 2, None)].startswith("metrics file absent")
    assert "absent from this run" in reasons[("peapod", 3, "rouge1")]
    assert reasons[("peapod", 1, "hr@5")] == "value is NaN"
    assert len(missing) == 4  # rouge1 lacks in test and valid
    assert "missing: sports pod seed 2 run" in caplog.text
    # The summary and the tests say on how many seeds they rest.
    s = summarize(tidy, ["dataset", "variant", "task", "method", "split", "metric"], expected_seeds=[1, 2, 3])
    row = s[(s.variant == "pod") & (s.metric == "hr@10") & (s.task == "topn") & (s.split == "test") & (s.method == "beam")].iloc[0]
    assert row.n_seeds == 2 and row.missing_seeds == "2"
    paired = compare.paired_tests(tidy, make_plan(cfg))
    r = paired[(paired.task == "topn") & (paired.metric == "hr@10") & (paired.method == "beam")].iloc[0]
    assert r.n == 2 and r.unpaired_seeds == "2"


def test_bad_metrics_file_names_file_and_row(tmp_path):
    path = tmp_path / "metrics.parquet"
    df = run_metrics("peapod", 1)
    df.loc[3, "metric"] = "HR@10"
    df.to_parquet(path, index=False)
    with pytest.raises(InputError, match=r"metrics.parquet, record row 3: metric 'HR@10' is not one of"):
        read_run_metrics(path)
    df = run_metrics("peapod", 1).drop(columns=["split"])
    df.to_parquet(path, index=False)
    with pytest.raises(InputError, match="missing column"):
        read_run_metrics(path)


# ---------------------------------------------------------------------------------------------
# Tables: marks on a small fixed table


def _fixed_summary():
    rows = []
    seeds = {"peapod": [0.40, 0.41, 0.42], "pod": [0.30, 0.31, 0.29]}
    for variant, values in seeds.items():
        for seed, v in enumerate(values, start=1):
            rows.append(("sports", variant, seed, "topn", "beam", "test", "hr@10", v))
            rows.append(("sports", variant, seed, "topn", "beam", "test", "ndcg@10", v / 2))
    tidy = pd.DataFrame(rows, columns=["dataset", "variant", "seed", "task", "method", "split", "metric", "value"])
    return tidy, summarize(tidy, ["dataset", "variant", "task", "method", "split", "metric"])


def _fixed_reported():
    base = {"paper": "peapod_cup", "table": 3, "task": "topn", "dataset": "sports", "underlined": False,
            "significant": False, "variant": None}
    return pd.DataFrame([
        {**base, "model": "P5", "metric": "hr@10", "value": 0.35},
        {**base, "model": "P5", "metric": "ndcg@10", "value": 0.25},  # better than every reproduction
        {**base, "model": "POD", "variant": "pod", "metric": "hr@10", "value": 0.30},
    ])


def _half(values):
    low, high = confidence_interval(values)
    return f"{(high - low) / 2:.4f}"


def test_bold_underline_and_star_placement():
    tidy, summary = _fixed_summary()
    reported = _fixed_reported()
    plan = make_plan(make_config(datasets=("sports",), ablations={}))
    vs = compare.tests_vs_reported(tidy, reported, plan)
    paired = compare.paired_tests(tidy, plan)
    cols = [tables.Column("sports", "topn", "hr@10"), tables.Column("sports", "topn", "ndcg@10")]
    rows = tables.reported_rows(reported, cols, {"POD"}) + tables.reproduced_rows(
        summary, cols, "topn", ["pod", "peapod"], {"pod": "POD", "peapod": "PeaPOD"})
    table = tables.PaperTable("t", "T", cols, rows)
    tables.mark_best(table)
    tables.add_significance(table, vs, paired, paired_against={"peapod": "pod"}, reported_table=("peapod_cup", 3))
    by = {r.label: r.cells for r in table.rows}
    assert [r.label for r in table.rows] == ["P5", "POD (paper)", "POD (ours)", "PeaPOD (ours)"]
    hr, nd = cols
    # hr@10: PeaPOD 0.41 best, P5 0.35 second; ndcg@10: P5 0.25 best, PeaPOD 0.205 second
    assert by["PeaPOD (ours)"][hr].bold and not by["PeaPOD (ours)"][hr].underline
    assert by["P5"][hr].underline and not by["P5"][hr].bold
    assert by["P5"][nd].bold and by["PeaPOD (ours)"][nd].underline
    # POD (paper) 0.30 and POD (ours) 0.30 tie on display: both unmarked third
    assert not by["POD (paper)"][hr].bold and not by["POD (ours)"][hr].underline
    # *: PeaPOD's 0.41 vs the strongest reported baseline (P5 0.35; POD 0.30 is one too): higher, p < 0.05
    assert tables.STAR in by["PeaPOD (ours)"][hr].marks
    # no * where the reproduction is below the strongest baseline
    assert tables.STAR not in by["PeaPOD (ours)"][nd].marks
    # POD (ours) vs its own paper number is not a baseline comparison; vs P5 it is lower: no star
    assert by["POD (ours)"][hr].marks == []
    # † PeaPOD vs POD paired, Holm over the family of two
    assert tables.DAGGER in by["PeaPOD (ours)"][hr].marks
    assert by["P5"][hr].marks == []

    md = render.to_markdown(table)
    half_hr, half_nd = _half([0.40, 0.41, 0.42]), _half([0.20, 0.205, 0.21])
    assert f"| PeaPOD (ours) | **0.4100***† ±{half_hr} | <u>0.2050</u>† ±{half_nd} |" in md
    assert "| P5 | <u>0.3500</u> | **0.2500** |" in md
    tex = render.to_latex(table)
    assert f"\\textbf{{0.4100}}$^{{*\\dagger}}${{\\scriptsize$\\pm${half_hr}}}" in tex and "\\underline{0.3500}" in tex
    assert tex.count("\\midrule") == 2 and "\\toprule" in tex and "\\bottomrule" in tex
    assert "\\multicolumn{2}{c}{Sports}" in tex
    html = render.to_html(table)
    assert "<b>0.4100</b><sup>*†</sup>" in html
    csv = pd.read_csv(pd.io.common.StringIO(render.to_csv(table)))
    assert csv.loc[3, "sports:topn:hr@10"] == pytest.approx(0.41)
    assert csv.loc[3, "sports:topn:hr@10:marks"] == "best*†"
    assert csv.loc[3, "sports:topn:hr@10:ci_low"] == pytest.approx(confidence_interval([0.40, 0.41, 0.42])[0])
    assert csv.loc[3, "sports:topn:hr@10:n"] == 3


def test_verdicts_place_the_reported_value_against_our_interval():
    tidy, summary = _fixed_summary()
    reported = _fixed_reported()
    reported = pd.concat([reported, reported.iloc[[2]].assign(value=0.25), reported.iloc[[2]].assign(value=0.40)])
    reported["table"] = [3, 3, 3, 2, 4]  # one cell per table, so none is a duplicate
    rep = compare.reproduction_verdicts(tidy, summary, reported, "peapod_cup").set_index("table")
    assert list(rep["reported"]) == [0.25, 0.30, 0.40]  # ordered by paper and table
    assert list(rep["verdict"]) == ["above (ours higher)", "inside the interval", "below (ours lower)"]
    row = rep.loc[3]
    assert (row.model, row.variant, row.method, row.n) == ("POD", "pod", "beam", 3)
    assert row["diff"] == pytest.approx(0.0) and row.p == pytest.approx(stats.ttest_1samp([0.30, 0.31, 0.29], 0.30).pvalue)
    assert rep.loc[2].rel_diff == pytest.approx((0.30 - 0.25) / 0.25)
    main_only = make_config(datasets=("sports",), ablations={})
    main_only["variants"] = {k: main_only["variants"][k] for k in ("peapod", "pod")}  # every variant runs
    plan = make_plan(main_only)
    vs = compare.tests_vs_reported(tidy, _fixed_reported(), plan)
    t = vs[(vs.variant == "peapod") & (vs.model == "P5") & (vs.metric == "hr@10")].iloc[0]
    assert t.p == pytest.approx(stats.ttest_1samp([0.40, 0.41, 0.42], 0.35).pvalue)
    assert t.n == 3 and t.direction == "higher" and t.relation == "baseline"
    assert set(vs.loc[(vs.variant == "pod") & (vs.model == "POD"), "relation"]) == {"own"}
    # Holm over the family (one paper table): 2 variants x 3 cells
    fam = vs[vs.family == "peapod_cup table 3"]
    assert len(fam) == 6 and fam.p_holm.to_numpy() == pytest.approx(holm(fam.p.to_numpy()))


def test_compared_method_is_the_papers_and_others_are_extra_rows():
    assert compared_method("topn", {"scoring", "beam_candidates", "beam"}) == "beam"
    assert ordered_methods("topn", {"scoring", "beam_candidates", "beam"}) == ["beam", "beam_candidates", "scoring"]
    assert compared_method("explanation", {"beam", "beam_reference"}) == "beam_reference"
    assert compared_method("explanation", {"beam"}) == "beam"
    tidy = pd.concat([run_metrics("peapod", s).assign(dataset="sports", variant="peapod", seed=s) for s in (1, 2, 3)])
    summary = summarize(tidy, ["dataset", "variant", "task", "method", "split", "metric"])
    cols = [tables.Column("sports", "topn", "hr@10")]
    rows = tables.reproduced_rows(summary, cols, "topn", ["peapod"], {"peapod": "PeaPOD"})
    assert [(r.label, r.compared) for r in rows] == [
        ("PeaPOD (ours)", True), ("PeaPOD (ours, beam over candidates)", False), ("PeaPOD (ours, exact scoring)", False)]
    rows = tables.reproduced_rows(summary, [tables.Column("sports", "explanation", "bleu4")], "explanation",
                                  ["peapod"], {"peapod": "PeaPOD"})
    assert [(r.method, r.compared) for r in rows] == [("beam_reference", True), ("beam", False)]


# ---------------------------------------------------------------------------------------------
# Reported numbers: the shipped CSV, its checks, and which of our variants reproduces which model

SHIPPED_CSV = REPO / "resources" / "reported" / "paper_tables.csv"
SHARED_CSV = REPO.parent / "shared" / "reported" / "paper_tables.csv"


@pytest.mark.skipif(not SHARED_CSV.exists(), reason="../shared/reported/paper_tables.csv is not beside the repository")
def test_shipped_csv_is_the_shared_copy_byte_for_byte():
    assert SHIPPED_CSV.read_bytes() == SHARED_CSV.read_bytes()


def test_shipped_reported_numbers_load():
    rep = load_reported(SHIPPED_CSV)
    assert len(rep) == 1233 and set(rep["paper"]) == {"peapod_cup", "peapod_pd", "pod"}
    assert set(rep["metric"]) <= set(METRICS) and "rougel" in set(rep["metric"])
    peapod = rep[(rep.paper == "peapod_cup") & (rep.model == "PeaPOD") & (rep.task == "sequential")]
    got = {(d, m): v for d, m, v in zip(peapod.dataset, peapod.metric, peapod.value)}
    assert got[("sports", "hr@10")] == 0.0665 and got[("toys", "ndcg@10")] == 0.0677  # PROTOCOL.md's orientation
    topn = rep[(rep.paper == "peapod_cup") & (rep.table == 3) & (rep.model == "PeaPOD") & (rep.metric == "hr@10")]
    assert dict(zip(topn.dataset, topn.value)) == {"sports": 0.3645, "beauty": 0.3417, "toys": 0.2793}
    # every table of REPORTED_TABLES exists in the file, for the three datasets
    for paper, tabs in REPORTED_TABLES.items():
        for (group, task), number in tabs.items():
            sub = rep[(rep.paper == paper) & (rep.table == number)]
            assert set(sub.task) == {task} and set(sub.dataset) == {"sports", "beauty", "toys"}, (paper, number)


def test_reported_file_errors_name_the_line(tmp_path):
    bad = tmp_path / "r.csv"
    header = "paper,table,task,dataset,method,metric,value,underlined,significant\n"
    bad.write_text(header + "pod,3,topn,sports,MF,hr@10,0.2,0,0\npod,3,topn,sports,MF,hr@5,1.5,0,0\n")
    with pytest.raises(InputError, match=r"r.csv, line 3: hr@5: value 1.5 outside"):
        load_reported(bad)
    bad.write_text(header + "pod,3,topn,sports,MF,HR@11,0.2,0,0\n")
    with pytest.raises(InputError, match=r"line 2: metric 'HR@11' is not one of"):
        load_reported(bad)
    bad.write_text(header + "pod,3,topn,sports,MF,hr@5,0.2,0,0\npod,3,topn,sports,MF,hr@5,0.3,0,0\n")
    with pytest.raises(InputError, match=r"line 3: pod table 3 sports MF hr@5 is given more than once"):
        load_reported(bad)
    bad.write_text("paper,table\npod,3\n")
    with pytest.raises(InputError, match="line 1: columns are paper, table"):
        load_reported(bad)


def test_reported_models_map_to_variants_by_settings_not_names():
    cfg = make_config(datasets=("sports", "toys"))
    cfg["datasets"]["toys"]["generator"] = {"neighbors": 10}
    cfg["variants"]["emb_b"] = cfg["variants"].pop("bivae")  # a name that says nothing
    cfg["ablations"]["embedding"]["variants"] = ["peapod", "emb_b", "lightgcn"]
    plan = make_plan(cfg)
    expected = {"PeaPOD": "peapod", "PeaPOD-PMF": "peapod", "PeaPOD (small)": "peapod", "POD": "pod",
                "PeaPOD-BiVAE": "emb_b", "PeaPOD-LightGCN": "lightgcn", "PeaPOD (base)": "base",
                "PeaPOD-PMF (base)": "base", "PeaPOD (no task)": "no_task_prompt", "GRU4Rec": None, "MF": None}
    for model, variant in expected.items():
        assert reproducing_variant(cfg, plan, "sports", model) == variant, model
        assert reproducing_variant(cfg, plan, "toys", model) == variant, model  # Toys' own neighbours
    cfg["ablations"].pop("model_size")
    cfg["variants"].pop("base")  # (a configured variant runs, in the main tables if in no ablation)
    assert reproducing_variant(cfg, make_plan(cfg), "sports", "PeaPOD (base)") is None  # not run
    rep = attach_variants(load_reported(SHIPPED_CSV), cfg, plan)
    assert set(rep.loc[rep.dataset == "beauty", "variant"].dropna()) == set()  # beauty is not configured
    assert set(rep.loc[(rep.dataset == "sports") & (rep.model == "PeaPOD-BiVAE"), "variant"]) == {"emb_b"}


# ---------------------------------------------------------------------------------------------
# Baselines on our own data


def _tiny_tables():
    """3 users, items 1-6. Training counts: item 1: 3, item 2: 2, item 3: 1, items 4-6: 0."""
    seqs = {1: [1, 2, 3, 4, 5], 2: [1, 2, 6, 1], 3: [1, 4, 6]}
    rows = []
    for u, items in seqs.items():
        n = len(items)
        for pos, item in enumerate(items):
            role = "test" if pos == n - 1 else "valid" if pos == n - 2 else "train"
            rows.append((u, pos, item, role))
    sequences = pd.DataFrame(rows, columns=["user_id", "position", "item_id", "role"])
    import pyarrow as pa

    # test: user 1 target 5 among {5, 2, 6}; user 2 target 1 among {1, 3, 4}; user 3 target 6 among {6, 2, 3}
    candidates = pa.table({
        "user_id": pa.array([1, 2, 3, 1, 2, 3], pa.int32()),
        "split": ["test"] * 3 + ["valid"] * 3,
        "target": pa.array([5, 1, 6, 4, 6, 4], pa.int32()),
        "negatives": pa.array([[2, 6], [3, 4], [2, 3], [1, 6], [1, 5], [3, 2]], pa.list_(pa.int32())),
    })
    return sequences, candidates


def test_most_popular_hand_computed():
    from peapod.aggregate.baselines import most_popular, training_counts

    sequences, candidates = _tiny_tables()
    assert training_counts(sequences).to_dict() == {1: 3, 2: 2, 3: 1, 4: 0, 5: 0, 6: 0}
    m = most_popular(sequences, candidates).set_index(["task", "split", "metric"])["value"]
    # top-n test ranks (ties against the target): user 1: item 5 (0) behind 2 (2) and 6 (0, tie) -> 2;
    # user 2: item 1 (3) first -> 0; user 3: item 6 (0) behind 2 and 3 -> 2.
    assert m[("topn", "test", "hr@1")] == pytest.approx(1 / 3)
    assert m[("topn", "test", "hr@5")] == pytest.approx(1.0)
    assert m[("topn", "test", "ndcg@5")] == pytest.approx((2 / np.log2(4) + 1) / 3)
    # valid: user 1: item 4 (0) behind 1 and 6 (tie) -> 2; user 2: item 6 (0) behind 1, 5 (tie) -> 2;
    # user 3: item 4 (0) behind 3 and 2 -> 2.
    assert m[("topn", "valid", "hr@1")] == 0 and m[("topn", "valid", "ndcg@5")] == pytest.approx(1 / np.log2(4))
    # sequential over the 6 items: counts 3, 2, 1, 0, 0, 0; a zero-count target ranks 5 (last of the tie),
    # item 1 ranks 0. Test targets 5, 1, 6 -> ranks 5, 0, 5: hr@5 1/3, hr@10 1.
    assert m[("sequential", "test", "hr@5")] == pytest.approx(1 / 3)
    assert m[("sequential", "test", "hr@10")] == pytest.approx(1.0)
    assert m[("sequential", "test", "ndcg@10")] == pytest.approx((1 + 2 / np.log2(7)) / 3)


def test_baselines_file_joins_the_cf_models_own_metrics(tmp_path):
    import json

    from peapod.aggregate.baselines import compute_baselines
    from peapod.data.tables import SCHEMAS

    import pyarrow as pa
    import pyarrow.parquet as pq

    sequences, candidates = _tiny_tables()
    pq.write_table(pa.Table.from_pandas(sequences, schema=SCHEMAS["sequences"], preserve_index=False), tmp_path / "s.parquet")
    pq.write_table(candidates.cast(SCHEMAS["candidates"]), tmp_path / "c.parquet")
    (tmp_path / "pmf.json").write_text(json.dumps({"cf_model": "pmf", "test": {"hr@10": 0.311, "ndcg@10": 0.2, "users": 3}}))
    (tmp_path / "file.json").write_text(json.dumps({"cf_model": "file", "test": None}))
    out = compute_baselines("toys", tmp_path / "s.parquet", tmp_path / "c.parquet",
                            {"pmf": tmp_path / "pmf.json", "file": tmp_path / "file.json"})
    assert set(out["model"]) == {"most_popular", "id_order", "pmf"} and set(out["dataset"]) == {"toys"}
    pmf = out[out.model == "pmf"]
    assert dict(zip(pmf.metric, pmf.value)) == {"hr@10": 0.311, "ndcg@10": 0.2}
    assert set(pmf.task) == {"topn"} and set(pmf.split) == {"test"}


# ---------------------------------------------------------------------------------------------
# Figures


def test_figures_are_written(tmp_path):
    from peapod.aggregate.figures import plot_ablation

    cfg = make_config(datasets=("sports",))
    paths = write_runs(tmp_path / "results", cfg)
    tidy, _ = collect_runs(make_plan(cfg).runs(), paths)
    summary = summarize(tidy, ["dataset", "variant", "task", "method", "split", "metric"])
    out = [str(tmp_path / "heads.png"), str(tmp_path / "heads.pdf")]
    data = plot_ablation(summary, settings_table(cfg), "heads", ["mlp", "heads_1", "peapod", "heads_8"], ["sports"], "peapod", out)
    assert sorted(set(data["x"])) == [0, 1, 4, 8]
    assert all(Path(p).stat().st_size > 1000 for p in out)
    assert Path(out[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and Path(out[1]).read_bytes()[:4] == b"%PDF"


# ---------------------------------------------------------------------------------------------
# The whole aggregation on per-run metrics written here: 10 seeds, three datasets, Toys without runs


def collected_and_tested(root: Path, cfg: dict, skip_dataset: str) -> tuple[dict, dict]:
    """Runs of ``cfg`` written under ``root`` (none for ``skip_dataset``), collected and tested
    against the papers: (collect_metrics' outputs, test_significance's outputs) by name."""
    from peapod.aggregate import pipeline

    plan = make_plan(cfg)
    paths = write_runs(root / "results", cfg, skip={k for k in plan.runs() if k[0] == skip_dataset})
    out = {k: str(root / f"{k}.{e}") for k, e in (("metrics", "parquet"), ("summary", "parquet"),
                                                   ("summary_csv", "csv"), ("missing", "csv"))}
    pipeline.collect_metrics(cfg, paths, out)
    sig = {k: str(root / f"{k}.{e}") for k, e in (("vs_reported", "csv"), ("paired", "csv"), ("reproduced_csv", "csv"),
                                                   ("reproduced_md", "md"), ("reproduced_html", "html"))}
    pipeline.test_significance(cfg, out["metrics"], str(SHIPPED_CSV), sig)
    return out, sig


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every table, the verdicts and their figure, and the claims, from runs on Sports and Beauty
    (10 seeds each); Toys is configured but has no runs; own baselines for Sports and Beauty."""
    from peapod.aggregate import pipeline

    root = tmp_path_factory.mktemp("agg")
    cfg = make_config(datasets=("sports", "beauty", "toys"), seeds=range(1, 11))
    cfg["datasets"]["toys"]["generator"] = {"neighbors": 10}
    plan = make_plan(cfg)
    out, sig = collected_and_tested(root, cfg, "toys")
    baseline_paths = []
    for dataset in ("sports", "beauty"):
        path = root / f"baselines_{dataset}.csv"
        pd.DataFrame([(dataset, "most_popular", "topn", "test", "hr@10", 0.234),
                      (dataset, "most_popular", "sequential", "test", "hr@10", 0.0123),
                      (dataset, "pmf", "topn", "test", "hr@10", 0.311)],
                     columns=["dataset", "model", "task", "split", "metric", "value"]).to_csv(path, index=False)
        baseline_paths.append(str(path))
    names = tables.table_names(plan)
    files = {}
    for name in names:
        files[name] = {k: str(root / f"{name}.{e}") for k, e in (("markdown", "md"), ("latex", "tex"), ("csv", "csv"), ("html", "html"))}
        pipeline.tabulate_results(cfg, name, out["summary"], str(SHIPPED_CSV), sig["vs_reported"], sig["paired"],
                                  baseline_paths, files[name])
    figure = [str(root / "repro.png"), str(root / "repro.pdf")]
    pipeline.plot_reproduction(cfg, sig["reproduced_csv"], figure)
    claim_files = {k: str(root / f"claims.{e}") for k, e in (("csv", "csv"), ("detail", "detail.csv"),
                                                             ("markdown", "md"), ("html", "html"))}
    pipeline.check_claims(cfg, out["metrics"], claim_files)
    return {"cfg": cfg, "plan": plan, "names": names, "tables": files, "sig": sig, "figure": figure,
            "claims": claim_files, "summary": out["summary"]}


# our table -> the reference paper's table it lays out
TABLE_OF = {name: REPORTED_TABLES["peapod_cup"][(spec.group, spec.task)] for name, spec in tables.TABLE_SPECS.items()}


def _md_rows(text: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| Model"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_every_table_is_built_with_every_reported_cell_formatted(built):
    assert built["names"] == ["sequential", "topn", "explanation"] + [
        f"{g}_{t}" for g in ("task_prompt", "embedding", "model_size") for t in ("sequential", "topn", "explanation")]
    rep = load_reported(SHIPPED_CSV)
    for name, files in built["tables"].items():
        md = Path(files["markdown"]).read_text()
        tex = Path(files["latex"]).read_text()
        rows = _md_rows(md)
        spec = tables.TABLE_SPECS[name]
        cells = rep[(rep.paper == "peapod_cup") & (rep.table == TABLE_OF[name])]
        assert len(cells) > 0
        columns = [(d, m) for d in ("sports", "beauty", "toys") for m in tables.TASK_METRICS[spec.task]]
        for c in cells.itertuples():
            label = next(k for k in rows if k in (c.model, f"{c.model} (paper)"))
            shown = rows[label][columns.index((c.dataset, c.metric))]
            assert re.sub(r"\*\*|</?u>", "", shown).startswith(f"{c.value:.4f}"), (name, c.model, c.dataset, c.metric, shown)
            tex_line = next(line for line in tex.splitlines() if line.startswith(render._tex(label) + " & "))
            assert f"{c.value:.4f}" in tex_line, (name, c.model)
        # Toys has no runs: its columns hold reported rows only, and say so
        assert "Toys (reported only)" in md and "Toys (reported only)" in tex and "No runs of ours on Toys" in md
        ours = [cells_ for label_, cells_ in rows.items() if "(ours)" in label_ and "same" not in label_]
        assert ours and all(c == "–" for row in ours for c in row[-len(tables.TASK_METRICS[spec.task]):])
        assert any(not c.startswith("–") for row in ours for c in row[:len(tables.TASK_METRICS[spec.task])])


def test_tables_show_our_own_baselines_and_reproduced_rows(built):
    topn = _md_rows(Path(built["tables"]["topn"]["markdown"]).read_text())
    assert topn["Most popular (ours, same candidates)"][3].startswith("0.2340")  # Sports HR@10
    assert topn["PMF (ours, same candidates)"][3].startswith("0.3110")
    assert {"POD (ours)", "PeaPOD (ours)", "PeaPOD (ours, exact scoring)", "PeaPOD (ours, beam over candidates)"} <= set(topn)
    assert topn["PeaPOD (ours)"][3].startswith("0.36") and "±" in topn["PeaPOD (ours)"][3]
    seq = _md_rows(Path(built["tables"]["sequential"]["markdown"]).read_text())
    assert "Most popular (ours, same split)" in seq and "PMF (ours, same split)" not in seq
    expl = _md_rows(Path(built["tables"]["explanation"]["markdown"]).read_text())
    assert not any("same" in k for k in expl) and "PeaPOD (ours, standard scoring)" in expl
    appendix = {name: _md_rows(Path(f["markdown"]).read_text()) for name, f in built["tables"].items()}
    assert {"PeaPOD (no task) (paper)", "PeaPOD (no task) (ours)", "PeaPOD (ours)"} <= set(appendix["task_prompt_topn"])
    assert {"PeaPOD-BiVAE (ours)", "PeaPOD-LightGCN (ours)"} <= set(appendix["embedding_sequential"])
    assert {"PeaPOD (small) (ours)", "PeaPOD (base) (ours)"} <= set(appendix["model_size_explanation"])
    # † on base: T5-base (quality 1.05) is significantly above the default in the fixture
    assert "†" in appendix["model_size_topn"]["PeaPOD (base) (ours)"][3]
    csv = pd.read_csv(built["tables"]["topn"]["csv"])
    row = csv[csv.model == "PeaPOD (ours)"].iloc[0]
    assert row["sports:topn:hr@10:ci_low"] < row["sports:topn:hr@10"] < row["sports:topn:hr@10:ci_high"]
    assert row["sports:topn:hr@10:n"] == 10
    # The beam diagnostics of each (ours) beam row, under the table
    md = Path(built["tables"]["topn"]["markdown"]).read_text()
    assert ("Beams of PeaPOD (ours) on Sports (share of returned sequences, mean over seeds): finished 0.990, "
            "ids 0.980, in catalogue 0.970, in candidates 0.900, first in candidates 0.950.") in md
    assert "Beams of PeaPOD (ours, exact scoring)" not in md  # scoring returns no beams
    # ... and they are no hypotheses: no paired test (nor its Holm family) includes them
    paired = pd.read_csv(built["sig"]["paired"])
    assert len(paired) and not paired["metric"].str.startswith(("share_", "top1_")).any()


def test_verdict_table_and_figure(built):
    verdicts = pd.read_csv(built["sig"]["reproduced_csv"])
    assert set(verdicts["dataset"]) == {"sports", "beauty"}  # Toys has no runs
    assert set(verdicts["verdict"]) <= set(compare.VERDICTS.values())
    assert verdicts["paper"].iloc[0] == "peapod_cup"  # the reference first
    row = verdicts[(verdicts.paper == "peapod_cup") & (verdicts.table == 2) & (verdicts.dataset == "sports")
                   & (verdicts.model == "PeaPOD") & (verdicts.metric == "hr@10")].iloc[0]
    summary = pd.read_parquet(built["summary"])
    ours = summary[(summary.dataset == "sports") & (summary.variant == "peapod") & (summary.task == "sequential")
                   & (summary.method == "beam") & (summary.split == "test") & (summary.metric == "hr@10")].iloc[0]
    assert row.reported == 0.0665 and row["mean"] == pytest.approx(ours["mean"]) and row.n == 10
    assert row["diff"] == pytest.approx(ours["mean"] - 0.0665)
    expl = verdicts[(verdicts.task == "explanation")]
    assert set(expl["method"]) == {"beam_reference"}  # the reference's scoring stands for the paper's
    assert set(verdicts.loc[verdicts.task == "topn", "method"]) == {"beam"}
    # every reproduced model: PeaPOD, POD and the appendix models, from all three papers
    assert {"PeaPOD", "POD", "PeaPOD (no task)", "PeaPOD-BiVAE", "PeaPOD (base)", "PeaPOD-PMF"} <= set(verdicts.model)
    md = Path(built["sig"]["reproduced_md"]).read_text()
    assert f"{len(verdicts)} reported cell(s) reproduced" in md and "| peapod_cup | 2 | sports |" in md
    assert "Reproduction verdicts" in Path(built["sig"]["reproduced_html"]).read_text()
    png, pdf = built["figure"]
    assert Path(png).read_bytes()[:4] == b"\x89PNG" and Path(pdf).read_bytes()[:4] == b"%PDF"


def test_claims_report(built):
    summary = pd.read_csv(built["claims"]["csv"]).set_index("claim")
    detail = pd.read_csv(built["claims"]["detail"])
    assert set(summary.index) == {c.id for c in CLAIMS}
    # The fixture's qualities: no task prompt 0.97, BiVAE 0.96, T5-base 1.05 against PeaPOD 1.00.
    assert summary.loc["no_task_prompt_sports", "verdict"] == "disagrees"
    assert summary.loc["no_task_prompt_beauty_toys", "verdict"] == "agrees"
    assert summary.loc["bivae_sequential_sports", "verdict"] == "disagrees"
    assert summary.loc["t5_base_not_better", "verdict"] == "disagrees"
    # Toys has no runs: the Beauty-and-Toys claims rest on Beauty alone
    assert set(detail.loc[detail.claim == "no_task_prompt_beauty_toys", "dataset"]) == {"beauty"}
    bivae = detail[detail.claim == "bivae_sequential_sports"]
    assert set(bivae.task) == {"sequential"} and set(bivae.dataset) == {"sports"} and set(bivae.metric) == {"hr@10", "ndcg@10"}
    attention = detail[detail.claim == "attention_above_mlp"]
    assert set(attention.reference) == {"mlp"} and set(attention.subject) == {"heads_1", "peapod", "heads_8"}
    assert set(detail.loc[detail.claim == "more_heads_worse", "subject"]) == {"heads_8"}
    r = attention.iloc[0]
    assert r.p == pytest.approx(stats.ttest_rel(*_pair(built, r)).pvalue)
    assert "| t5_base_not_better |" in Path(built["claims"]["markdown"]).read_text()


def _pair(built, r):
    tidy = pd.read_parquet(Path(built["summary"]).with_name("metrics.parquet"))
    sel = tidy[(tidy.dataset == r.dataset) & (tidy.task == r.task) & (tidy.method == r.method) & (tidy.split == "test")
               & (tidy.metric == r.metric)]
    a = sel[sel.variant == r.subject].sort_values("seed")["value"].to_numpy()
    b = sel[sel.variant == r.reference].sort_values("seed")["value"].to_numpy()
    return a, b


def test_without_reported_datasets_the_verdict_section_says_so(tmp_path):
    """The demo's situation: no configured dataset has reported numbers. The verdict section is
    still written and says so; the figure says so; claims tied to the papers' datasets are not run."""
    from peapod.aggregate import pipeline

    cfg = make_config(datasets=("demo",), seeds=(0, 1, 2), ablations={"heads": ABLATIONS["heads"]})
    paths = write_runs(tmp_path / "results", cfg)
    out = {k: str(tmp_path / f"{k}.{e}") for k, e in (("metrics", "parquet"), ("summary", "parquet"),
                                                       ("summary_csv", "csv"), ("missing", "csv"))}
    pipeline.collect_metrics(cfg, paths, out)
    sig = {k: str(tmp_path / f"{k}.{e}") for k, e in (("vs_reported", "csv"), ("paired", "csv"), ("reproduced_csv", "csv"),
                                                       ("reproduced_md", "md"), ("reproduced_html", "html"))}
    pipeline.test_significance(cfg, out["metrics"], str(SHIPPED_CSV), sig)
    assert pd.read_csv(sig["reproduced_csv"]).empty
    for key in ("reproduced_md", "reproduced_html"):
        text = Path(sig[key]).read_text()
        assert "No reported cell is reproduced by this configuration" in text and "(demo)" in text
    figure = [str(tmp_path / "r.png"), str(tmp_path / "r.svg")]
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text kept as text in the SVG, to be read here
        pipeline.plot_reproduction(cfg, sig["reproduced_csv"], figure)
    assert Path(figure[0]).stat().st_size > 1000
    assert "No reported cell matches a configured dataset and variant" in Path(figure[1]).read_text()
    claims = {k: str(tmp_path / f"c.{k}") for k in ("csv", "detail", "markdown", "html")}
    pipeline.check_claims(cfg, out["metrics"], claims)
    verdicts = pd.read_csv(claims["csv"]).set_index("claim")["verdict"]
    assert verdicts["no_task_prompt_sports"] == "not run" and verdicts["t5_base_not_better"] == "not run"
    assert verdicts["heads_4_best"] != "not run"  # the demo's heads ablation does test it
    files = {k: str(tmp_path / f"topn.{k}") for k in ("markdown",)}
    pipeline.tabulate_results(cfg, "topn", out["summary"], str(SHIPPED_CSV), sig["vs_reported"], sig["paired"], [], files)
    with pytest.raises(SettingsError, match="model_size_topn needs the model_size ablation"):
        pipeline.tabulate_results(cfg, "model_size_topn", out["summary"], str(SHIPPED_CSV), sig["vs_reported"],
                                  sig["paired"], [], files)
    md = Path(files["markdown"]).read_text()
    assert "Sports (reported only) HR@10" in md and "Demo HR@10" in md and "| PeaPOD (ours) |" in md


def test_figures_are_the_same_bytes_for_the_same_data(tmp_path):
    """No creation date in the PDF, nothing left beside the outputs: a re-run reproduces the files."""
    import matplotlib.pyplot as plt

    from peapod.aggregate.figures import save_figure

    digests = []
    for run in ("a", "b"):
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3], [0.2, 0.5, 0.4])
        outputs = [tmp_path / run / "figure.png", tmp_path / run / "figure.pdf"]
        outputs[0].parent.mkdir()
        save_figure(fig, [str(p) for p in outputs])
        assert sorted(p.name for p in outputs[0].parent.iterdir()) == ["figure.pdf", "figure.png"]
        digests.append([p.read_bytes() for p in outputs])
    assert digests[0] == digests[1]
    assert b"CreationDate" not in digests[0][1]


def test_learning_curves_are_seed_means_per_epoch_and_drawn(tmp_path):
    from peapod.aggregate.figures import curve_means, plot_learning_curves, read_train_logs

    logs = {}
    for (variant, seed), values in {("peapod", 1): [0.1, 0.3, 0.5], ("peapod", 2): [0.2, 0.4],
                                    ("pod", 1): [0.0, 0.1, 0.1]}.items():
        path = tmp_path / f"{variant}{seed}.csv"
        pd.DataFrame({"epoch": range(1, len(values) + 1), "valid_loss_mean": [3.0] * len(values),
                      "valid_hr10_topn_scoring": values}).to_csv(path, index=False)
        logs[(variant, seed)] = path
    curves = read_train_logs(logs)
    means = curve_means(curves, "valid_hr10_topn_scoring")
    peapod = means[means.variant == "peapod"]
    assert peapod["valid_hr10_topn_scoring"].tolist() == pytest.approx([0.15, 0.35, 0.5])
    assert peapod["seeds"].tolist() == [2, 2, 1]  # seed 2 stopped after two epochs
    out = [tmp_path / "curves.png", tmp_path / "curves.pdf", tmp_path / "curves.svg"]
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text kept as text in the SVG, to be read here
        plot_learning_curves(curves, "demo", [str(p) for p in out])
    assert all(p.stat().st_size > 1000 for p in out)
    svg = out[2].read_text()
    # three panels the logs lack say so; the two they carry do not
    assert svg.count("not logged") == 3 and "top-n HR@10, exact scoring" in svg and "peapod" in svg


def test_every_configured_variant_runs_or_the_config_says_why_not():
    """Issue 23's three-variant config: mlp (in no ablation) runs on every dataset and is shown; with
    an explicit table_variants that leaves it out, the plan stops naming it."""
    from peapod.aggregate.settings import make_plan
    from peapod.config import with_defaults

    cfg = with_defaults({"datasets": {"demo": {"source": "demo"}, "other": {"source": "demo"}}, "seeds": [1, 2],
                         "variants": {"peapod": {}, "pod": {"user_prompt": "none"}, "mlp": {"user_prompt": "mlp"}}})
    plan = make_plan(cfg)
    assert plan.table_variants == ("pod", "peapod", "mlp")
    assert {(d, v) for d, v, _ in plan.runs()} == {(d, v) for d in ("demo", "other") for v in ("peapod", "pod", "mlp")}
    cfg["aggregate"]["table_variants"] = ["peapod", "pod"]
    with pytest.raises(SettingsError, match=r"variants \['mlp'\] are defined under variants: but would never run"):
        make_plan(cfg)
    cfg["ablations"] = {"heads": {"variants": ["mlp"]}}  # an ablation runs it: fine
    assert {v for _, v, _ in make_plan(cfg).runs()} == {"peapod", "pod", "mlp"}


def test_tables_follow_the_papers_dataset_order_and_baselines_count_as_ours(tmp_path):
    """Columns in the paper's order (Sports, Beauty, Toys) whatever the config's order; a dataset
    with only our own-split baseline rows is not "(reported only)"."""
    from peapod.aggregate import pipeline

    cfg = make_config(datasets=("toys", "beauty"), seeds=range(1, 4))
    out, sig = collected_and_tested(tmp_path, cfg, "toys")
    baselines = tmp_path / "baselines_toys.csv"
    pd.DataFrame([("toys", "most_popular", "topn", "test", "hr@10", 0.2)],
                 columns=["dataset", "model", "task", "split", "metric", "value"]).to_csv(baselines, index=False)
    files = {"markdown": str(tmp_path / "topn.md")}
    pipeline.tabulate_results(cfg, "topn", out["summary"], str(SHIPPED_CSV), sig["vs_reported"], sig["paired"],
                              [str(baselines)], files)
    header = next(line for line in Path(files["markdown"]).read_text().splitlines() if line.startswith("| Model"))
    datasets = [cell.split()[0] for cell in header.strip("|").split("|")[1:]]
    assert list(dict.fromkeys(datasets)) == ["Sports", "Beauty", "Toys"]
    assert "Sports (reported only)" in header  # no run and no baseline of ours
    assert "Toys (reported only)" not in header and "Toys HR@10" in header  # its baseline row is ours
    assert "Beauty (reported only)" not in header
