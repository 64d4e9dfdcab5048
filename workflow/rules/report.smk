# Aggregation: per-run metrics -> tidy table and seed summaries -> t-tests against the papers'
# numbers (resources/reported/paper_tables.csv) -> the papers' tables, the reproduction verdicts and
# figure, the claims check and the ablation figures, all marked for `snakemake --report`. Baselines
# computed on our own data (most popular, the CF models) join the top-n and sequential tables. Each
# configured ablation also has its own target, ablation_<name>, that needs only that ablation's runs
# (see docs/paper-study.md, "One ablation").

include: "inputs/report.smk"  # this stage's input functions


wildcard_constraints:
    table="|".join(TABLE_NAMES),
    ablation="|".join(ABLATION_NAMES),


rule collect_metrics:
    input:
        runs=run_metrics_inputs,
    output:
        metrics=paths.aggregate_file(STUDY, "metrics.parquet"),
        summary=paths.aggregate_file(STUDY, "summary.parquet"),
        summary_csv=report(
            paths.aggregate_file(STUDY, "summary.csv"),
            caption="../report/summary.rst",
            category="Seeds and tests",
        ),
        missing=report(
            paths.aggregate_file(STUDY, "missing_runs.csv"),
            caption="../report/missing_runs.rst",
            category="Seeds and tests",
        ),
    params:
        config=aggregation_params,
    log:
        paths.study_log(STUDY, "collect_metrics.log"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/collect_metrics.py"


rule compute_baselines:
    input:
        unpack(baseline_inputs),
    output:
        metrics=paths.BASELINES,
    params:
        evaluation=baseline_user_settings,
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
            paths.aggregate_file(STUDY, "tests_vs_reported.csv"),
            caption="../report/tests_vs_reported.rst",
            category="Seeds and tests",
        ),
        paired=report(
            paths.aggregate_file(STUDY, "tests_paired.csv"),
            caption="../report/tests_paired.rst",
            category="Seeds and tests",
        ),
        reproduced_csv=report(
            paths.aggregate_file(STUDY, "reproduced_vs_reported.csv"),
            caption="../report/reproduced_vs_reported.rst",
            category="Reproduction verdict",
        ),
        reproduced_md=paths.aggregate_file(STUDY, "reproduced_vs_reported.md"),
        reproduced_html=report(
            paths.aggregate_file(STUDY, "reproduced_vs_reported.html"),
            caption="../report/reproduced_vs_reported.rst",
            category="Reproduction verdict",
        ),
    params:
        config=aggregation_params,
    log:
        paths.study_log(STUDY, "test_significance.log"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/test_significance.py"


rule test_users:
    input:
        runs=run_user_results_inputs,
    output:
        tests=report(
            paths.aggregate_file(STUDY, "tests_users.csv"),
            caption="../report/tests_users.rst",
            category="Seeds and tests",
        ),
    params:
        config=aggregation_params,
    log:
        paths.study_log(STUDY, "test_users.log"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/test_users.py"


rule tabulate_results:
    input:
        summary=rules.collect_metrics.output.summary,
        reported=config["aggregate"]["reported"],
        vs_reported=rules.test_significance.output.vs_reported,
        paired=rules.test_significance.output.paired,
        baselines=baseline_tables,
    output:
        markdown=paths.table_file(STUDY, "{table}.md"),
        latex=paths.table_file(STUDY, "{table}.tex"),
        csv=paths.table_file(STUDY, "{table}.csv"),
        html=report(
            paths.table_file(STUDY, "{table}.html"),
            caption="../report/paper_table.rst",
            category="Tables",
            labels={"table": "{table}"},
        ),
    params:
        config=aggregation_params,
    log:
        paths.study_log(STUDY, "tabulate_results_{table}.log"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/tabulate_results.py"


rule plot_reproduction:
    input:
        verdicts=rules.test_significance.output.reproduced_csv,
    output:
        png=report(
            paths.figure_file(STUDY, "reproduced_vs_reported.png"),
            caption="../report/reproduction_figure.rst",
            category="Reproduction verdict",
        ),
        pdf=paths.figure_file(STUDY, "reproduced_vs_reported.pdf"),
    params:
        config=aggregation_params,
    log:
        paths.study_log(STUDY, "plot_reproduction.log"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/plot_reproduction.py"


rule check_claims:
    input:
        metrics=rules.collect_metrics.output.metrics,
    output:
        csv=report(
            paths.aggregate_file(STUDY, "claims.csv"),
            caption="../report/claims.rst",
            category="Claims",
        ),
        detail=paths.aggregate_file(STUDY, "claims_detail.csv"),
        markdown=paths.aggregate_file(STUDY, "claims.md"),
        html=report(
            paths.aggregate_file(STUDY, "claims.html"),
            caption="../report/claims.rst",
            category="Claims",
        ),
    params:
        config=aggregation_params,
    log:
        paths.study_log(STUDY, "check_claims.log"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/check_claims.py"


rule summarize_ablation:
    input:
        runs=ablation_run_inputs,
        users=ablation_user_inputs,
    output:
        summary=paths.ablation_file(STUDY, "summary.parquet"),
        summary_csv=paths.ablation_file(STUDY, "summary.csv"),
        missing=paths.ablation_file(STUDY, "missing_runs.csv"),
        paired=paths.ablation_file(STUDY, "tests_paired.csv"),
        users=paths.ablation_file(STUDY, "tests_users.csv"),
    params:
        config=aggregation_params,
    log:
        paths.study_log(STUDY, "summarize_ablation_{ablation}.log"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/summarize_ablation.py"


rule plot_ablation:
    input:
        summary=rules.summarize_ablation.output.summary,
    output:
        png=report(
            paths.figure_file(STUDY, "ablation_{ablation}.png"),
            caption="../report/ablation_figure.rst",
            category="Figures",
            labels={"ablation": "{ablation}"},
        ),
        pdf=paths.figure_file(STUDY, "ablation_{ablation}.pdf"),
    params:
        config=aggregation_params,
    log:
        paths.study_log(STUDY, "plot_ablation_{ablation}.log"),
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
            paths.figure_file(STUDY, "learning_curves_{dataset}.png"),
            caption="../report/learning_curves.rst",
            category="Figures",
            labels={"dataset": "{dataset}"},
        ),
        pdf=paths.figure_file(STUDY, "learning_curves_{dataset}.pdf"),
    params:
        runs=learning_curve_runs,
    log:
        paths.study_log(STUDY, "plot_learning_curves_{dataset}.log"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/plot_learning_curves.py"
