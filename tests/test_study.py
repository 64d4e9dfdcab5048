"""The study plan said at the start of a run (peapod.study): the long jobs, their time estimated from
recorded benchmark files, and the summary of what the config plans."""

from __future__ import annotations

from peapod import paths
from peapod.study import Job, estimate, long_jobs, recorded_seconds, study_summary

BENCHMARKS = {
    "train_embeddings": "results/{dataset}/benchmarks/train_embeddings_{cf_model}.tsv",
    "build_neighbors": "results/{dataset}/benchmarks/build_neighbors_{cf_model}.tsv",
    "train_generator": "results/{dataset}/benchmarks/train_generator/{variant}/{run_key}/seed{seed}.tsv",
    "evaluate_generator": "results/{dataset}/benchmarks/evaluate_generator/{variant}/{run_key}/seed{seed}.tsv",
    "train_baseline": "results/{dataset}/benchmarks/train_baseline_{baseline}_seed{seed}.tsv",
}
RUN_KEY = "0123456789"  # a run's folder key (peapod.generator.runs); one set of settings per variant here
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def record(root, rule, seconds, **wildcards):
    """A benchmark file as Snakemake writes it after a job."""
    path = root / BENCHMARKS[rule].format(**{"run_key": RUN_KEY, **wildcards})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:00\t1\t1\t1\t1\t0\t0\t90\t{seconds}\n")
    return path


def training(dataset, variant, seed):
    return Job("train_generator", (("dataset", dataset), ("variant", variant), ("run_key", RUN_KEY), ("seed", str(seed))))


def test_long_jobs_from_the_default_targets_files():
    runs = [paths.located(paths.RUN_METRICS, dataset="mine", variant=v, run_key=RUN_KEY, seed=s)
            for v in ("peapod", "pod") for s in (0, 1)]
    targets = [*runs, paths.located(paths.CF_METRICS, dataset="mine", cf_model="pmf"),
               paths.located(paths.NEIGHBORS, dataset="mine", cf_model="pmf"),
               paths.located(paths.baseline_file("metrics.parquet"), dataset="mine", baseline="SASRec", seed=0),
               "results/mine/data/stats.json", paths.table_file("mine", "topn.md"), runs[0]]  # others count nothing; repeats once
    jobs = long_jobs(targets)
    counts = {rule: sum(j.rule == rule for j in jobs) for rule in BENCHMARKS}
    assert counts == {"train_embeddings": 1, "build_neighbors": 1, "train_generator": 4, "evaluate_generator": 4,
                      "train_baseline": 1}
    assert training("mine", "peapod", 0) in jobs
    assert Job("train_baseline", (("dataset", "mine"), ("baseline", "SASRec"), ("seed", "0"))) in jobs


def test_recorded_seconds_reads_snakemakes_benchmark_file(tmp_path):
    assert recorded_seconds(record(tmp_path, "train_generator", 42.5, dataset="d", variant="v", seed=0)) == 42.5
    two = tmp_path / "two.tsv"
    two.write_text(HEADER + "10\t0\t1\t1\t1\t1\t0\t0\t0\t0\n20\t0\t1\t1\t1\t1\t0\t0\t0\t0\n")  # --benchmark-repeats 2
    assert recorded_seconds(two) == 15
    (tmp_path / "bad.tsv").write_text("s\nnot a number\n")
    assert recorded_seconds(tmp_path / "missing.tsv") is None and recorded_seconds(tmp_path / "bad.tsv") is None


def test_estimate_from_the_recorded_jobs_of_the_same_kind(tmp_path):
    # PeaPOD on beauty took 100 and 300 s at seeds 1 and 2, POD 60 s at seed 1; another dataset 5 s.
    record(tmp_path, "train_generator", 100, dataset="beauty", variant="peapod", seed=1)
    record(tmp_path, "train_generator", 300, dataset="beauty", variant="peapod", seed=2)
    record(tmp_path, "train_generator", 60, dataset="beauty", variant="pod", seed=1)
    record(tmp_path, "train_generator", 5, dataset="demo", variant="peapod", seed=0)
    jobs = [training("beauty", "peapod", s) for s in (1, 2, 3)] + [training("beauty", "pod", 2),
                                                                     training("beauty", "mlp", 1),
                                                                     training("mine", "peapod", 0)]
    result = estimate(jobs, BENCHMARKS, tmp_path)
    assert (result.jobs, result.ran, result.ran_seconds) == (6, 2, 400)  # seeds 1 and 2 of PeaPOD ran
    # PeaPOD seed 3: its own kind's median (200); POD seed 2: POD's 60; MLP: none of its kind on
    # beauty, so beauty's trainings (median of 100, 300, 60: 100); mine: nothing recorded there.
    assert result.estimated == 3 and result.seconds == 200 + 60 + 100
    assert result.unknown == {"train_generator": 1}
    line = result.line()
    assert line.startswith("about 6m00s of job time for 3 long job(s) still to run")
    assert "1 still to run with no recorded time on their dataset (1 generator training)" in line
    assert "2 of 6 already ran (6m40s" in line


def test_estimate_says_when_nothing_is_recorded(tmp_path):
    result = estimate([training("mine", "peapod", 0)], BENCHMARKS, tmp_path)
    assert result.unknown == {"train_generator": 1} and result.line().startswith("no recorded job times yet")


def own_config(**extra):
    from peapod.config import with_defaults

    return with_defaults({"datasets": {"mine": {"source": "interactions", "path": "mine.csv"}}, **extra})


def summary(config, root):
    from peapod.aggregate.settings import make_plan
    from peapod.generator.config import all_run_settings
    from peapod.generator.runs import run_path

    plan = make_plan(config)
    targets = [run_path(paths.RUN_METRICS, config, d, v, s) for d, v, s in plan.runs()]
    targets += [paths.located(p, dataset=d, cf_model=m) for p in (paths.CF_METRICS, paths.NEIGHBORS)
                for d in config["datasets"] for m in config["embeddings"]["models"]]
    return study_summary(config, plan, all_run_settings(config), targets, BENCHMARKS, root)


def test_summary_of_a_config_of_datasets_alone(tmp_path):
    text = summary(own_config(), tmp_path)
    assert "datasets: mine\n" in text
    assert "variants: peapod, pod at seeds 0, 1, 2" in text
    assert "tables: PeaPOD against POD, paired t-tests over 3 seeds" in text
    assert "generator (peapod): tiny backbone, at most 30 epochs (patience 5), 99 negatives" in text
    assert "RecBole baselines: none (baselines.models)" in text
    assert "long jobs: 3 CF model trainings, 3 neighbour tables, 6 generator trainings, 6 evaluations\n" in text
    assert ("time: no recorded job times yet (each long job records its time in "
            "results/<dataset>/benchmarks/; the next run estimates from them)\n") in text
    assert text.splitlines()[-1].startswith("  before any record: the generator's time follows from the samples "
                                            "per epoch once the data stage has run (`snakemake data`)")
    from peapod.generator.runs import run_key

    record(tmp_path, "train_generator", 90, dataset="mine", variant="pod", seed=0,
           run_key=run_key(own_config(), "mine", "pod"))
    assert "1 of 18 already ran (1m30s" in summary(own_config(), tmp_path)


def test_summary_says_when_the_tables_have_no_test():
    one_seed = summary(own_config(seeds=[0]), ".")
    assert "tables: PeaPOD against POD, but one seed: no t-test (it needs 2 or more)" in one_seed
    alone = summary(own_config(variants={"peapod": {}}), ".")
    assert "variants: peapod at seeds 0, 1, 2" in alone
    assert "tables: no 'pod' run (aggregate.baseline_variant is not under variants:)" in alone


def test_the_plan_shown_in_own_data_md_is_what_its_config_prints(tmp_path):
    import re

    import yaml

    from peapod.config import with_defaults
    from tests.helpers import REPO

    section = (REPO / "docs" / "own-data.md").read_text().split("## A complete config")[1].split("\n## ")[0]
    config = yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))
    assert set(config) == {"datasets"}
    shown = re.search(r"```text\n(.*?)\n```", section, re.S).group(1)
    assert summary(with_defaults(config), tmp_path) == shown


def test_before_any_record_the_time_is_epochs_times_samples_over_a_measured_rate(tmp_path):
    """With the data stage's statistics and no record: 30 epochs x (2 x 400 users + 600 training
    explanations) / 594.3 samples/s per run, the basis named."""
    import json

    from peapod.study import MEASURED_RATES

    stats = tmp_path / paths.DATASET_STATS.format(dataset="mine")
    stats.parent.mkdir(parents=True)
    stats.write_text(json.dumps({"users": 400, "explanations": {"train": 600}}))
    text = summary(own_config(), tmp_path)
    seconds = 6 * 30 * 1400 / MEASURED_RATES["tiny"]  # 6 runs
    from peapod.progress import format_seconds

    assert (f"before any record: about {format_seconds(seconds)} of generator training steps for 6 run(s): "
            "30 epochs x 1,400 samples at 594.3 samples/s (benchmarks/README.md's training rate of the tiny "
            "backbone on 2 CPU cores)") in text, text
    record(tmp_path, "train_generator", 90, dataset="mine", variant="pod", seed=0)
    assert "before any record" not in summary(own_config(), tmp_path)


def test_the_plan_says_when_it_covers_more_than_the_targets_asked_for():
    from peapod.study import plan_header

    assert plan_header(()) == plan_header(["all"]) == "Study planned by this config (snakemake's default target, all):"
    assert "the whole config, snakemake's default target, all; this command asks for ablation_heads" in \
        plan_header(["ablation_heads"])
    assert "this command's targets are not known here" in plan_header(None)


def test_the_targets_plan_counts_the_jobs_snakemake_will_run_and_their_own_records(tmp_path):
    """A forced rerun of one training: its own record is its estimate (not 'already ran')."""
    from peapod.study import targets_plan

    record(tmp_path, "train_generator", 120, dataset="mine", variant="pod", seed=0)
    record(tmp_path, "evaluate_generator", 30, dataset="mine", variant="pod", seed=1)
    jobs = [("train_generator", {"dataset": "mine", "variant": "pod", "seed": 0}),
            ("evaluate_generator", {"dataset": "mine", "variant": "pod", "seed": 0}),
            ("preprocess", {"dataset": "mine"})]
    text = targets_plan(jobs, BENCHMARKS, ["evaluate"], tmp_path)
    assert text.splitlines()[:2] == ["Jobs this command runs for evaluate:",
                                     "  long jobs: 1 generator training, 1 evaluation"]
    assert "about 2m30s of job time for 2 long job(s) still to run" in text and "already ran" not in text
    assert targets_plan(jobs[2:], BENCHMARKS, ["data"], tmp_path).endswith("time: no long job")
