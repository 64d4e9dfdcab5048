# Evaluation stage: one job per trained run; sequential, top-n (the paper's beam, beams restricted
# to the candidates, exact scoring) and explanation metrics, per-user results and the
# history-length breakdown. Inputs: the run's exported files, the data tables and the CF files the
# run was trained with (checked against the hashes in its config.json).


rule evaluate_generator:
    input:
        unpack(evaluation_inputs),
    output:
        metrics="results/{dataset}/runs/{variant}/seed{seed}/metrics.parquet",
        per_user="results/{dataset}/runs/{variant}/seed{seed}/per_user.parquet",
        texts="results/{dataset}/runs/{variant}/seed{seed}/explanations_generated.parquet",
        buckets="results/{dataset}/runs/{variant}/seed{seed}/history_buckets.csv",
        summary="results/{dataset}/runs/{variant}/seed{seed}/evaluation.json",
    params:
        evaluation=config["evaluation"],
    threads: 2
    resources:
        gpu=1,
    log:
        "results/{dataset}/logs/evaluate_generator/{variant}/seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/evaluate_generator/{variant}/seed{seed}.tsv"
    conda:
        "../../envs/generator.yaml"
    script:
        "../scripts/evaluate_generator.py"
