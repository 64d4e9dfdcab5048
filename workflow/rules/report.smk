# Aggregation: per-run metrics -> tidy table and seed summaries -> t-tests -> the paper's tables and
# ablation figures, all marked for `snakemake --report`. Each configured ablation also has its own
# target, ablation_<name>, that needs only that ablation's runs (see README, "One ablation").


wildcard_constraints:
    table="|".join(TABLE_NAMES),
    ablation="|".join(ABLATION_NAMES),


rule collect_metrics:
    input:
        runs=run_metrics_inputs,
    output:
        metrics="results/aggregate/metrics.parquet",
        summary="results/aggregate/summary.parquet",
        summary_csv=report(
            "results/aggregate/summary.csv",
            caption="../report/summary.rst",
            category="Seeds and tests",
        ),
        missing=report(
            "results/aggregate/missing_runs.csv",
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


rule test_significance:
    input:
        metrics="results/aggregate/metrics.parquet",
        reported=config["aggregate"]["reported"],
    output:
        vs_reported=report(
            "results/aggregate/tests_vs_reported.csv",
            caption="../report/tests_vs_reported.rst",
            category="Seeds and tests",
        ),
        paired=report(
            "results/aggregate/tests_paired.csv",
            caption="../report/tests_paired.rst",
            category="Seeds and tests",
        ),
        reproduced_csv=report(
            "results/aggregate/reproduced_vs_reported.csv",
            caption="../report/reproduced_vs_reported.rst",
            category="Tables",
        ),
        reproduced_md="results/aggregate/reproduced_vs_reported.md",
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
        summary="results/aggregate/summary.parquet",
        reported=config["aggregate"]["reported"],
        vs_reported="results/aggregate/tests_vs_reported.csv",
        paired="results/aggregate/tests_paired.csv",
    output:
        markdown="results/tables/{table}.md",
        latex="results/tables/{table}.tex",
        csv="results/tables/{table}.csv",
        html=report(
            "results/tables/{table}.html",
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


rule summarize_ablation:
    input:
        runs=ablation_run_inputs,
    output:
        summary="results/ablations/{ablation}/summary.parquet",
        summary_csv="results/ablations/{ablation}/summary.csv",
        missing="results/ablations/{ablation}/missing_runs.csv",
        paired="results/ablations/{ablation}/tests_paired.csv",
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
        summary="results/ablations/{ablation}/summary.parquet",
    output:
        png=report(
            "results/figures/ablation_{ablation}.png",
            caption="../report/ablation_figure.rst",
            category="Figures",
            labels={"ablation": "{ablation}"},
        ),
        pdf="results/figures/ablation_{ablation}.pdf",
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
