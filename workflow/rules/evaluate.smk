# Evaluation stage: one job per trained run; sequential, top-n (beam and exact scoring) and
# explanation metrics, per-user results and the history-length breakdown.


rule evaluate_generator:
    input:
        model="results/{dataset}/runs/{variant}/seed{seed}/model.safetensors",
        config="results/{dataset}/runs/{variant}/seed{seed}/config.json",
        tokenizer="results/{dataset}/runs/{variant}/seed{seed}/tokenizer.json",
        sequences="results/{dataset}/data/sequences.parquet",
        items_table="results/{dataset}/data/items.parquet",
        candidates="results/{dataset}/data/candidates.parquet",
        explanations="results/{dataset}/data/explanations.parquet",
        templates="config/templates.yaml",
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
