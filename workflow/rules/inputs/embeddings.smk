# Input functions and settings of the embeddings stage's rules (embeddings.smk includes this file; Snakemake's
# linter wants functions apart from rules). The workflow's shared helpers are in common.smk.

TWINS = set(PLAN.twins.values())  # the id-order twins (peapod.config.with_twins): controls, built lean


def cf_models_on(dataset):
    """The CF models built on a dataset: embeddings.models; on an id-order twin only those its runs
    read (its top-n CF rows would repeat its dataset's: a CF model never sees an item's id)."""
    if dataset not in TWINS:
        return CF_MODELS
    read = {GENERATOR_SETTINGS[d, v].cf_model for d, v, _ in PLAN.runs()
            if d == dataset and GENERATOR_SETTINGS[d, v].user_prompt != "none"}
    return [m for m in CF_MODELS if m in read]


def cf_model_outputs(patterns):
    """``patterns`` (with {dataset} and {cf_model}) for every dataset and each CF model built on it."""
    return [path for d in DATASETS for m in cf_models_on(d) for path in expand(patterns, dataset=d, cf_model=m)]


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
