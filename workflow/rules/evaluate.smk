# Evaluation stage: one job per trained run; sequential, top-n (the paper's beam, beams restricted
# to the candidates, exact scoring) and explanation metrics, per-user results and the
# history-length breakdown. Inputs: the run's exported files, the data tables and the CF files the
# run was trained with (checked against the hashes in its config.json).


rule evaluate_generator:
    input:
        unpack(generator_inputs),
        model=rules.train_generator.output.model,
        config=rules.train_generator.output.config,
        tokenizer=rules.train_generator.output.tokenizer,
        tokenizer_config=rules.train_generator.output.tokenizer_config,
        run=rules.train_generator.output.run,
    output:
        metrics=paths.RUN_METRICS,
        per_user=paths.run_file("per_user.parquet"),
        texts=paths.run_file("explanations_generated.parquet"),
        buckets=paths.run_file("history_buckets.csv"),
        summary=paths.run_file("evaluation.json"),
    params:
        evaluation=config["evaluation"],
    threads: GENERATOR_THREADS
    resources:
        gpu=GENERATOR_GPUS,
    log:
        "results/{dataset}/logs/evaluate_generator/{variant}/{run_key}/seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/evaluate_generator/{variant}/{run_key}/seed{seed}.tsv"
    conda:
        "../../envs/generator.yaml"
    script:
        "../scripts/evaluate_generator.py"
