# Input functions and settings of the generator stage's rules (generator.smk includes this file; Snakemake's
# linter wants functions apart from rules). The workflow's shared helpers are in common.smk.

def generator_settings(wildcards):
    """The variant's generator settings as a plain mapping (config defaults + overrides); stops on a
    run folder whose key is not these settings' (a run made with other settings is never retrained
    with these)."""
    key = RUN_KEYS[wildcards.dataset, wildcards.variant]
    if wildcards.run_key != key:
        raise ValueError(f"results/{wildcards.dataset}/runs/{wildcards.variant}/{wildcards.run_key}/ holds a run with "
                         f"other settings than this config's for {wildcards.variant} on {wildcards.dataset}, whose "
                         f"runs go to results/{wildcards.dataset}/runs/{wildcards.variant}/{key}/")
    return GENERATOR_SETTINGS[wildcards.dataset, wildcards.variant].to_dict()


def run_seed(wildcards):
    return int(wildcards.seed)


def generator_inputs(wildcards):
    """Tables and templates of a run; CF user embeddings and neighbours only when the variant has
    a user prompt (POD, user_prompt none, needs no CF stage); the CF item factors under item_init:
    cf (every variant); with download: true, the T5 checkpoint."""
    inputs = data_tables(wildcards, GENERATOR_TABLES)
    inputs["templates"] = "config/templates.yaml"
    settings = GENERATOR_SETTINGS[wildcards.dataset, wildcards.variant]
    if config["download"] and settings.backbone in HUB_REPOS and not settings.model_dir:
        inputs["backbone"] = f"resources/models/{settings.backbone}"  # fetched by fetch_backbone
    where = {"dataset": wildcards.dataset, "cf_model": settings.cf_model}
    if settings.user_prompt != "none":
        inputs["embeddings"] = paths.USER_EMBEDDINGS.format(**where)
        inputs["neighbors"] = paths.NEIGHBORS.format(**where)
    if settings.item_init == "cf":  # POD too: the item tokens' start is not part of the user prompt
        inputs["item_embeddings"] = paths.ITEM_EMBEDDINGS.format(**where)
    return inputs
