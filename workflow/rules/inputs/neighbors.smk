# Input functions and settings of the neighbors stage's rules (neighbors.smk includes this file; Snakemake's
# linter wants functions apart from rules). The workflow's shared helpers are in common.smk.

def neighbors_k(wildcards):
    """Neighbours to store for (dataset, cf_model): neighbors.k, or more when a run reads more
    (e.g. the neighbors_30 ablation), so no training job finds too few."""
    return neighbors_to_store(GENERATOR_SETTINGS, wildcards.dataset, wildcards.cf_model, config["neighbors"]["k"])
