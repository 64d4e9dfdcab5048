# Neighbour stage: exact cosine top-k of every user, in blocks (never an N x N matrix).

# Input functions of this stage (the workflow's shared helpers are in common.smk).
def neighbors_k(wildcards):
    """Neighbours to store for (dataset, cf_model): neighbors.k, or more when a run reads more
    (e.g. the neighbors_30 ablation), so no training job finds too few."""
    return neighbors_to_store(GENERATOR_SETTINGS, wildcards.dataset, wildcards.cf_model, config["neighbors"]["k"])


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
