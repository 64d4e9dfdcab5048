# Neighbour stage: exact cosine top-k of every user, in blocks (never an N x N matrix).

include: "inputs/neighbors.smk"  # this stage's input functions


rule build_neighbors:
    input:
        embeddings=rules.train_embeddings.output.embeddings,
    output:
        neighbors=paths.NEIGHBORS,
    params:
        k=neighbors_k,
        block_mib=config["neighbors"]["block_mib"],
    log:
        "results/{dataset}/logs/build_neighbors_{cf_model}.log",
    benchmark:
        "results/{dataset}/benchmarks/build_neighbors_{cf_model}.tsv"
    conda:
        "../../envs/embeddings.yaml"
    script:
        "../scripts/build_neighbors.py"
