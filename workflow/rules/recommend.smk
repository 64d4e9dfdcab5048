# Recommendations out of finished runs (target: snakemake recommendations; config recommend:):
# the top-k next items of every user, and explanations of given (user, item) pairs, in the
# dataset's original ids (peapod.evaluation.recommend). A run not trained yet is trained first.

include: "inputs/recommend.smk"  # this stage's input functions


rule recommend_next_items:
    input:
        unpack(recommend_inputs),
    output:
        parquet=f"{paths.RECOMMENDATIONS_DIR}/next_items.parquet",
        csv=f"{paths.RECOMMENDATIONS_DIR}/next_items.csv",
    params:
        settings=recommend_settings,
    threads: GENERATOR_THREADS
    resources:
        gpu=GENERATOR_GPUS,
    log:
        "results/{dataset}/logs/recommend_next_items/{variant}/seed{seed}.log",
    conda:
        "../../envs/generator.yaml"
    script:
        "../scripts/recommend_next_items.py"


rule explain_pairs:
    input:
        unpack(recommend_inputs),
        pairs=recommend_pairs,
    output:
        parquet=f"{paths.RECOMMENDATIONS_DIR}/explanations.parquet",
        csv=f"{paths.RECOMMENDATIONS_DIR}/explanations.csv",
    params:
        evaluation=config["evaluation"],
    threads: GENERATOR_THREADS
    resources:
        gpu=GENERATOR_GPUS,
    log:
        "results/{dataset}/logs/explain_pairs/{variant}/seed{seed}.log",
    conda:
        "../../envs/generator.yaml"
    script:
        "../scripts/explain_pairs.py"
