# Recommendations out of finished runs (target: snakemake recommendations; config recommend:):
# the top-k next items of every user, and explanations of given (user, item) pairs, in the
# dataset's original ids (peapod.evaluation.recommend). A run not trained yet is trained first.
# Each request writes under its own name, with a request.json saying what it asked
# (peapod.evaluation.recommend_request), so no request overwrites or, failing, removes another's files.

include: "inputs/recommend.smk"  # this stage's input functions


wildcard_constraints:
    request=recommend_request.NAME,


rule record_recommend_request:
    input:
        unpack(recommend_request_inputs),
    output:
        record=paths.RECOMMEND_REQUEST,
    params:
        record=recommend_request_record,
    log:
        "results/{dataset}/logs/record_recommend_request/{request}.log",
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/record_recommend_request.py"


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
        "results/{dataset}/logs/recommend_next_items/{request}/{variant}/seed{seed}.log",
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
        "results/{dataset}/logs/explain_pairs/{request}/{variant}/seed{seed}.log",
    conda:
        "../../envs/generator.yaml"
    script:
        "../scripts/explain_pairs.py"
