# Generator stage: one training run per dataset, variant and seed (GPU when there is one).
# Inputs: the data tables, the templates and, for a user prompt (mha/mlp), the CF stage's user
# embeddings and neighbours. Resumable: a restarted job continues from runs/.../last/.


rule train_generator:
    input:
        unpack(generator_inputs),
    output:
        model="results/{dataset}/runs/{variant}/seed{seed}/model.safetensors",
        config="results/{dataset}/runs/{variant}/seed{seed}/config.json",
        tokenizer="results/{dataset}/runs/{variant}/seed{seed}/tokenizer.json",
        train_log="results/{dataset}/runs/{variant}/seed{seed}/train_log.csv",
        run="results/{dataset}/runs/{variant}/seed{seed}/run.json",
    params:
        generator=generator_settings,
        seed=run_seed,
        scoring_memory_mib=config["evaluation"]["scoring_memory_mib"],
    threads: 2
    resources:
        gpu=1,
    log:
        "results/{dataset}/logs/train_generator/{variant}/seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/train_generator/{variant}/seed{seed}.tsv"
    conda:
        "../../envs/generator.yaml"
    script:
        "../scripts/train_generator.py"
