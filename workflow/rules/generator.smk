# Generator stage: one training run per dataset, variant and seed (GPU when there is one).
# Inputs: the data tables, the templates and, for a user prompt (mha/mlp), the CF stage's user
# embeddings and neighbours. Resumable: a restarted job continues from runs/.../last/.

# Input functions of this stage (the workflow's shared helpers are in common.smk).
def generator_settings(wildcards):
    """The variant's generator settings as a plain mapping (config defaults + overrides)."""
    return GENERATOR_SETTINGS[wildcards.dataset, wildcards.variant].to_dict()


def run_seed(wildcards):
    return int(wildcards.seed)


def generator_inputs(wildcards):
    """Tables and templates of a run; CF user embeddings and neighbours only when the variant has
    a user prompt (POD, user_prompt none, needs no CF stage); with download: true, the T5 checkpoint."""
    inputs = data_tables(wildcards, GENERATOR_TABLES)
    inputs["templates"] = "config/templates.yaml"
    settings = GENERATOR_SETTINGS[wildcards.dataset, wildcards.variant]
    if config["download"] and settings.backbone in HUB_REPOS and not settings.model_dir:
        inputs["backbone"] = f"resources/models/{settings.backbone}"  # fetched by fetch_backbone
    if settings.user_prompt != "none":
        where = {"dataset": wildcards.dataset, "cf_model": settings.cf_model}
        inputs["embeddings"] = paths.USER_EMBEDDINGS.format(**where)
        inputs["neighbors"] = paths.NEIGHBORS.format(**where)
    return inputs


rule train_generator:
    input:
        unpack(generator_inputs),
    output:
        model=paths.run_file("model.safetensors"),
        config=paths.run_file("config.json"),
        tokenizer=paths.run_file("tokenizer.json"),
        tokenizer_config=paths.run_file("tokenizer_config.json"),
        train_log=paths.run_file("train_log.csv"),
        run=paths.run_file("run.json"),
    params:
        generator=generator_settings,
        seed=run_seed,
        scoring_memory_mib=config["evaluation"]["scoring_memory_mib"],
    threads: GENERATOR_THREADS
    resources:
        gpu=GENERATOR_GPUS,
    log:
        "results/{dataset}/logs/train_generator/{variant}/seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/train_generator/{variant}/seed{seed}.tsv"
    conda:
        "../../envs/generator.yaml"
    script:
        "../scripts/train_generator.py"
