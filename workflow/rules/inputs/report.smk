# Input functions and settings of the report stage's rules (report.smk includes this file; Snakemake's
# linter wants functions apart from rules). The workflow's shared helpers are in common.smk.

def run_metrics_paths(runs):
    """The evaluation metrics file of each (dataset, variant, seed)."""
    return run_metrics_paths_of(runs, paths.RUN_METRICS)


def run_metrics_paths_of(runs, pattern):
    """``pattern`` (a file of the run's folder) of each (dataset, variant, seed)."""
    return [run_path(pattern, d, v, s) for d, v, s in runs]


def evaluated_runs(wildcards=None):
    """The evaluation metrics of every planned run (each implies its training run)."""
    return run_metrics_paths(PLAN.runs())


RESULT_TABLES = table_names(PLAN)  # the main tables, and an appendix group's when its ablation is configured
ABLATION_FIGURES = [a for a in FIGURE_ABLATIONS if a in PLAN.ablations]


def existing_or_all(paths):
    """All of ``paths`` (missing runs are built); with aggregate.require_all_runs false, only those
    that exist now (the others are listed in missing_runs.csv)."""
    if config["aggregate"]["require_all_runs"]:
        return paths
    return [p for p in paths if Path(p).exists()]


def run_metrics_inputs(wildcards):
    """The metrics file of every planned run."""
    return existing_or_all(evaluated_runs())


def run_user_results_inputs(wildcards):
    """The per-user results file of every planned run."""
    return existing_or_all(run_metrics_paths_of(PLAN.runs(), paths.run_file("per_user.parquet")))


def baseline_inputs(wildcards):
    """The data stage's tables (most popular, the id-order probes), every configured CF model's own
    metrics and the per-user results of every trained baseline run of the dataset (run_<model>_seed<seed>)."""
    cf = {f"cf_{m}": paths.CF_METRICS.format(dataset=wildcards.dataset, cf_model=m)
          for m in cf_models_on(wildcards.dataset)}
    cf.update({f"run_{m}_seed{s}": paths.baseline_file("per_user.parquet").format(dataset=wildcards.dataset, baseline=m, seed=s)
               for m in baseline_models_on(wildcards.dataset) for s in BASELINE_SEEDS})
    kept = set(existing_or_all(list(cf.values())))
    return {
        **data_tables(wildcards, ("sequences", "candidates")),
        **{name: path for name, path in cf.items() if path in kept},
    }


def baseline_user_settings(wildcards):
    """The evaluation's user sample (sample_users, sample_seed): the baseline rows are on the same users."""
    return {key: config["evaluation"][key] for key in ("sample_users", "sample_seed")}


def baseline_tables(wildcards):
    """Every dataset's baselines on our own data (results/<dataset>/baselines/metrics.csv)."""
    return existing_or_all(expand(paths.BASELINES, dataset=DATASETS))


def train_log_of_runs(wildcards):
    """{(variant, seed): its train_log.csv} of every planned run on one dataset (those that exist
    now, with aggregate.require_all_runs false)."""
    logs = {(v, s): run_path(paths.run_file("train_log.csv"), d, v, s)
            for d, v, s in PLAN.runs() if d == wildcards.dataset}
    kept = set(existing_or_all(list(logs.values())))
    return {run: path for run, path in logs.items() if path in kept}


def learning_curve_runs(wildcards):
    """The (variant, seed) of each file of learning_curve_inputs, in its order."""
    return list(train_log_of_runs(wildcards))


def learning_curve_inputs(wildcards):
    return list(train_log_of_runs(wildcards).values())


def ablation_run_inputs(wildcards):
    """The metrics files of one ablation's runs (its variants on its datasets)."""
    return existing_or_all(run_metrics_paths(PLAN.for_ablation(wildcards.ablation).runs()))


def ablation_user_inputs(wildcards):
    """The per-user results files of one ablation's runs."""
    return existing_or_all(run_metrics_paths_of(PLAN.for_ablation(wildcards.ablation).runs(),
                                                paths.run_file("per_user.parquet")))


def ablation_outputs(ablation):
    """What the ablation_<name> target builds: the ablation's own summary, paired tests and figure."""
    return expand(list(rules.summarize_ablation.output) + list(rules.plot_ablation.output), ablation=ablation)


def aggregation_params(wildcards):
    """The config sections the aggregation reads (so a change to them reruns it), with those that
    name each run's folder (peapod.generator.runs: preprocess, embeddings), so that the aggregation
    finds the runs where the workflow put them."""
    keys = ("datasets", "seeds", "generator", "variants", "ablations", "aggregate", "evaluation", "preprocess",
            "embeddings")
    return {key: config[key] for key in keys if key in config}


def aggregation_outputs():
    """Every table, figure and test table of the aggregation (the report rules' outputs)."""
    return (
        [*rules.collect_metrics.output, *rules.test_significance.output, *rules.test_users.output,
         *rules.plot_reproduction.output, *rules.check_claims.output]
        + expand(rules.compute_baselines.output.metrics, dataset=DATASETS)
        + expand(list(rules.tabulate_results.output), table=RESULT_TABLES)
        + expand(list(rules.plot_ablation.output), ablation=ABLATION_FIGURES)
        + expand(list(rules.plot_learning_curves.output), dataset=DATASETS)
        + [path for ablation in PLAN.ablations for path in ablation_outputs(ablation)]
    )


def all_outputs(wildcards):
    outputs = expand(rules.preprocess.output.stats, dataset=DATASETS)
    outputs.append(rules.tabulate_dataset_statistics.output.csv)
    cf_outputs = [rules.train_embeddings.output.metrics, rules.build_neighbors.output.neighbors]
    outputs += cf_model_outputs(cf_outputs)
    outputs += baseline_runs()
    return outputs + evaluated_runs() + aggregation_outputs()


def closing_groups():
    """The files a finished run points to, by kind (peapod.study.closing_block): the papers' tables,
    the verdicts against the paper, the claims, the figures and the recommendation requests."""
    return {
        "tables": expand(rules.tabulate_results.output.markdown, table=RESULT_TABLES)
        + [rules.tabulate_dataset_statistics.output.markdown],
        "verdicts": [rules.test_significance.output.reproduced_md, rules.test_significance.output.paired,
                     rules.test_users.output.tests],
        "claims": [rules.check_claims.output.markdown],
        "figures": [rules.plot_reproduction.output.png]
        + expand(rules.plot_ablation.output.png, ablation=ABLATION_FIGURES)
        + expand(rules.plot_learning_curves.output.png, dataset=DATASETS),
        "requests": recommendation_targets(None),
    }


def report_command():
    """How to build the HTML report of this config (its --configfile files, as given)."""
    given = " ".join(os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd()) else str(path)
                     for path in workflow.overwrite_configfiles)
    return f"snakemake --report {paths.report_html(STUDY)}" + (f" --configfile {given}" if given else "")
