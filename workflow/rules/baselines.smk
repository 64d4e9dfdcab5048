# Baselines: the papers' baseline rows trained by RecBole on exactly our split, one job per
# (dataset, baseline, seed); the target `snakemake baselines` (in the Snakefile, beside `all`) builds them all with the model-free rows
# (most popular, the id-order probes) of each dataset.

# Input functions and settings of the baseline stage (read by the rules below; the workflow's shared
# helpers are in common.smk).
def baseline_run_inputs(wildcards):
    """The tables a baseline reads: sequences (sequential); also users, items, candidates (top-n)."""
    names = ("sequences",) if BASELINES[wildcards.baseline].task == "sequential" else ("sequences", "users", "items", "candidates")
    return data_tables(wildcards, names)


def baseline_run_settings(wildcards):
    """Only this model's settings on this dataset (so changing one model's reruns only that model)."""
    return baseline_run_config(config["baselines"], dataset_spec(wildcards), wildcards.baseline)


def baseline_runs(dataset=None):
    """The metrics file of every configured (dataset, baseline, seed), or of one dataset's."""
    return [paths.baseline_file("metrics.parquet").format(dataset=d, baseline=m, seed=s)
            for d in ([dataset] if dataset else DATASETS) for m in BASELINE_MODELS for s in BASELINE_SEEDS]


def baseline_targets(wildcards):
    """What `snakemake baselines` builds: every baseline run and each dataset's model-free rows."""
    return baseline_runs() + expand(paths.BASELINES, dataset=DATASETS)


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

