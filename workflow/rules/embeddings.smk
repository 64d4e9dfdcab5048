# Embedding stage: CF user vectors from training interactions only, one {cf_model} per source.


rule train_embeddings:
    input:
        unpack(embedding_inputs),
    output:
        embeddings="results/{dataset}/embeddings/{cf_model}/user_embeddings.parquet",
        metrics="results/{dataset}/embeddings/{cf_model}/metrics.json",
    params:
        settings=embedding_settings,
    log:
        "results/{dataset}/logs/train_embeddings_{cf_model}.log",
    benchmark:
        "results/{dataset}/benchmarks/train_embeddings_{cf_model}.tsv"
    conda:
        "../../envs/embeddings.yaml"
    script:
        "../scripts/train_embeddings.py"
