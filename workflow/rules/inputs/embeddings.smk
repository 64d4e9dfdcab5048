# Input functions and settings of the embeddings stage's rules (embeddings.smk includes this file; Snakemake's
# linter wants functions apart from rules). The workflow's shared helpers are in common.smk.

def embedding_inputs(wildcards):
    """The dataset tables an embedding source reads (named <table>_table: Snakemake reserves
    "items"); the file source also its user file."""
    inputs = data_tables(wildcards, ("sequences", "users", "items", "candidates"))
    if wildcards.cf_model == "file":
        spec = config["embeddings"].get("file", {})
        if not spec.get("path"):
            raise ValueError("embeddings.models includes file, but embeddings.file.path is not set")
        inputs["user_file"] = spec["path"].format(dataset=wildcards.dataset)
        if spec.get("ids_path"):
            inputs["user_ids_file"] = spec["ids_path"].format(dataset=wildcards.dataset)
    return inputs


def embedding_settings(wildcards):
    """Only the settings of this source (so changing one model's settings reruns only that model),
    with the dataset's own overrides (datasets.<name>.embeddings) merged over embeddings:."""
    return dataset_embedding_settings(config["embeddings"], dataset_spec(wildcards).get("embeddings"),
                                      wildcards.cf_model, wildcards.dataset)
