# Embedding stage: CF user vectors from training interactions only, one {cf_model} per source.

include: "inputs/embeddings.smk"  # this stage's input functions


rule train_embeddings:
    input:
        unpack(embedding_inputs),
    output:
        embeddings=paths.USER_EMBEDDINGS,
        item_embeddings=paths.ITEM_EMBEDDINGS,
        metrics=paths.CF_METRICS,
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
