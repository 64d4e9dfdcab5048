# Baselines: the papers' baseline rows trained by RecBole on exactly our split, one job per
# (dataset, baseline, seed); the target `snakemake baselines` (in the Snakefile, beside `all`) builds them all with the model-free rows
# (most popular, the id-order probes) of each dataset.

include: "inputs/baselines.smk"  # this stage's input functions


rule train_baseline:
    input:
        unpack(baseline_run_inputs),
    output:
        metrics=paths.baseline_file("metrics.parquet"),
        per_user=paths.baseline_file("per_user.parquet"),
        run=paths.baseline_file("run.json"),
    params:
        settings=baseline_run_settings,
    threads: 1
    log:
        "results/{dataset}/logs/train_baseline_{baseline}_seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/train_baseline_{baseline}_seed{seed}.tsv"
    conda:
        "../../envs/embeddings.yaml"
    script:
        "../scripts/train_baseline.py"

