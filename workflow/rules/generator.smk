# Generator stage: one training run per dataset, variant and seed (GPU when there is one).
# Inputs: the data tables, the templates and, for a user prompt (mha/mlp), the CF stage's user
# embeddings and neighbours. Each run's folder is named by its settings' key (peapod.generator.runs).
# Resumable: a restarted job continues from its folder's last/ (only with the same settings).

include: "inputs/generator.smk"  # this stage's input functions


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
        "results/{dataset}/logs/train_generator/{variant}/{run_key}/seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/train_generator/{variant}/{run_key}/seed{seed}.tsv"
    conda:
        "../../envs/generator.yaml"
    script:
        "../scripts/train_generator.py"
