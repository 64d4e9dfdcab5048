# Aggregation: per-run metrics -> tidy table and seed summaries -> t-tests against the papers'
# numbers (resources/reported/paper_tables.csv) -> the papers' tables, the reproduction verdicts and
# figure, the claims check and the ablation figures, all marked for `snakemake --report`. Baselines
# computed on our own data (most popular, the CF models) join the top-n and sequential tables. Each
# configured ablation also has its own target, ablation_<name>, that needs only that ablation's runs
# (see docs/paper-study.md, "One ablation").

# Input functions and settings of aggregation (read by the rules below; the workflow's shared
# helpers are in common.smk).
def run_metrics_paths(runs):
    """The evaluation metrics file of each (dataset, variant, seed)."""
    return [paths.located(paths.RUN_METRICS, dataset=d, variant=v, seed=s) for d, v, s in runs]


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


def baseline_inputs(wildcards):
    """The data stage's tables (most popular, the id-order probes), every configured CF model's own
    metrics and every trained baseline run of the dataset (run_<model>_seed<seed>)."""
    cf = {f"cf_{m}": paths.CF_METRICS.format(dataset=wildcards.dataset, cf_model=m) for m in CF_MODELS}
    cf.update({f"run_{m}_seed{s}": paths.baseline_file("metrics.parquet").format(dataset=wildcards.dataset, baseline=m, seed=s)
               for m in BASELINE_MODELS for s in BASELINE_SEEDS})
    kept = set(existing_or_all(list(cf.values())))
    return {
        **data_tables(wildcards, ("sequences", "candidates")),
        **{name: path for name, path in cf.items() if path in kept},
    }


def baseline_tables(wildcards):
    """Every dataset's baselines on our own data (results/<dataset>/baselines/metrics.csv)."""
    return existing_or_all(expand(paths.BASELINES, dataset=DATASETS))


def train_log_of_runs(wildcards):
    """{(variant, seed): its train_log.csv} of every planned run on one dataset (those that exist
    now, with aggregate.require_all_runs false)."""
    logs = {(v, s): paths.located(paths.run_file("train_log.csv"), dataset=d, variant=v, seed=s)
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


def ablation_outputs(ablation):
    """What the ablation_<name> target builds: the ablation's own summary, paired tests and figure."""
    return expand(list(rules.summarize_ablation.output) + list(rules.plot_ablation.output), ablation=ablation)


def aggregation_params(wildcards):
    """The config sections the aggregation reads (so a change to them reruns it)."""
    keys = ("datasets", "seeds", "generator", "variants", "ablations", "aggregate", "evaluation")
    return {key: config[key] for key in keys if key in config}


def aggregation_outputs():
    """Every table, figure and test table of the aggregation (the report rules' outputs)."""
    return (
        [*rules.collect_metrics.output, *rules.test_significance.output, *rules.plot_reproduction.output,
         *rules.check_claims.output]
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
    outputs += expand(cf_outputs, dataset=DATASETS, cf_model=CF_MODELS)
    outputs += baseline_runs()
    return outputs + evaluated_runs() + aggregation_outputs()


wildcard_constraints:
    table="|".join(TABLE_NAMES),
    ablation="|".join(ABLATION_NAMES),


rule collect_metrics:
    input:
        runs=run_metrics_inputs,
    output:
        metrics=paths.aggregate_file("metrics.parquet"),
        summary=paths.aggregate_file("summary.parquet"),
        summary_csv=report(
            paths.aggregate_file("summary.csv"),
            caption="../report/summary.rst",
            category="Seeds and tests",
        ),
        missing=report(
            paths.aggregate_file("missing_runs.csv"),
            caption="../report/missing_runs.rst",
            category="Seeds and tests",
        ),
    params:
        config=aggregation_params,
    log:
        "results/logs/collect_metrics.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/collect_metrics.py"


rule compute_baselines:
    input:
        unpack(baseline_inputs),
    output:
        metrics=paths.BASELINES,
    log:
        "results/{dataset}/logs/compute_baselines.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/compute_baselines.py"


rule test_significance:
    input:
        metrics=rules.collect_metrics.output.metrics,
        reported=config["aggregate"]["reported"],
        baselines=baseline_tables,
    output:
        vs_reported=report(
            paths.aggregate_file("tests_vs_reported.csv"),
            caption="../report/tests_vs_reported.rst",
            category="Seeds and tests",
        ),
        paired=report(
            paths.aggregate_file("tests_paired.csv"),
            caption="../report/tests_paired.rst",
            category="Seeds and tests",
        ),
        reproduced_csv=report(
            paths.aggregate_file("reproduced_vs_reported.csv"),
            caption="../report/reproduced_vs_reported.rst",
            category="Reproduction verdict",
        ),
        reproduced_md=paths.aggregate_file("reproduced_vs_reported.md"),
        reproduced_html=report(
            paths.aggregate_file("reproduced_vs_reported.html"),
            caption="../report/reproduced_vs_reported.rst",
            category="Reproduction verdict",
        ),
    params:
        config=aggregation_params,
    log:
        "results/logs/test_significance.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/test_significance.py"


rule tabulate_results:
    input:
        summary=rules.collect_metrics.output.summary,
        reported=config["aggregate"]["reported"],
        vs_reported=rules.test_significance.output.vs_reported,
        paired=rules.test_significance.output.paired,
        baselines=baseline_tables,
    output:
        markdown=paths.table_file("{table}.md"),
        latex=paths.table_file("{table}.tex"),
        csv=paths.table_file("{table}.csv"),
        html=report(
            paths.table_file("{table}.html"),
            caption="../report/paper_table.rst",
            category="Tables",
            labels={"table": "{table}"},
        ),
    params:
        config=aggregation_params,
    log:
        "results/logs/tabulate_results_{table}.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/tabulate_results.py"


rule plot_reproduction:
    input:
        verdicts=rules.test_significance.output.reproduced_csv,
    output:
        png=report(
            paths.figure_file("reproduced_vs_reported.png"),
            caption="../report/reproduction_figure.rst",
            category="Reproduction verdict",
        ),
        pdf=paths.figure_file("reproduced_vs_reported.pdf"),
    params:
        config=aggregation_params,
    log:
        "results/logs/plot_reproduction.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/plot_reproduction.py"


rule check_claims:
    input:
        metrics=rules.collect_metrics.output.metrics,
    output:
        csv=report(
            paths.aggregate_file("claims.csv"),
            caption="../report/claims.rst",
            category="Claims",
        ),
        detail=paths.aggregate_file("claims_detail.csv"),
        markdown=paths.aggregate_file("claims.md"),
        html=report(
            paths.aggregate_file("claims.html"),
            caption="../report/claims.rst",
            category="Claims",
        ),
    params:
        config=aggregation_params,
    log:
        "results/logs/check_claims.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/check_claims.py"


rule summarize_ablation:
    input:
        runs=ablation_run_inputs,
    output:
        summary=paths.ablation_file("summary.parquet"),
        summary_csv=paths.ablation_file("summary.csv"),
        missing=paths.ablation_file("missing_runs.csv"),
        paired=paths.ablation_file("tests_paired.csv"),
    params:
        config=aggregation_params,
    log:
        "results/logs/summarize_ablation_{ablation}.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/summarize_ablation.py"


rule plot_ablation:
    input:
        summary=rules.summarize_ablation.output.summary,
    output:
        png=report(
            paths.figure_file("ablation_{ablation}.png"),
            caption="../report/ablation_figure.rst",
            category="Figures",
            labels={"ablation": "{ablation}"},
        ),
        pdf=paths.figure_file("ablation_{ablation}.pdf"),
    params:
        config=aggregation_params,
    log:
        "results/logs/plot_ablation_{ablation}.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/plot_ablation.py"


# One target per configured ablation: `snakemake ablation_heads` trains, evaluates and summarises
# that study alone; `snakemake ablation_heads -R train_generator` re-trains just its runs.
for _ablation in PLAN.ablations:

    rule:
        name:
            f"ablation_{_ablation}"
        input:
            ablation_outputs(_ablation),


rule plot_learning_curves:
    input:
        logs=learning_curve_inputs,
    output:
        png=report(
            paths.figure_file("learning_curves_{dataset}.png"),
            caption="../report/learning_curves.rst",
            category="Figures",
            labels={"dataset": "{dataset}"},
        ),
        pdf=paths.figure_file("learning_curves_{dataset}.pdf"),
    params:
        runs=learning_curve_runs,
    log:
        "results/logs/plot_learning_curves_{dataset}.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/plot_learning_curves.py"
