# Input functions and settings of the baselines stage's rules (baselines.smk includes this file; Snakemake's
# linter wants functions apart from rules). The workflow's shared helpers are in common.smk.

def baseline_run_inputs(wildcards):
    """The tables a baseline reads: sequences (sequential); also users, items, candidates (top-n)."""
    names = ("sequences",) if BASELINES[wildcards.baseline].task == "sequential" else ("sequences", "users", "items", "candidates")
    return data_tables(wildcards, names)


def baseline_run_settings(wildcards):
    """Only this model's settings on this dataset (so changing one model's reruns only that model)."""
    return baseline_run_config(config["baselines"], dataset_spec(wildcards), wildcards.baseline)


def baseline_models_on(dataset):
    """The baselines trained on a dataset: baselines.models; none on an id-order twin (each model
    learns one vector per item whatever its id, so its rows would repeat its dataset's)."""
    return [] if dataset in TWINS else BASELINE_MODELS


def baseline_runs(dataset=None):
    """The metrics file of every configured (dataset, baseline, seed), or of one dataset's."""
    return [paths.baseline_file("metrics.parquet").format(dataset=d, baseline=m, seed=s)
            for d in ([dataset] if dataset else DATASETS) for m in baseline_models_on(d) for s in BASELINE_SEEDS]


def baseline_targets(wildcards):
    """What `snakemake baselines` builds: every baseline run and each dataset's model-free rows."""
    return baseline_runs() + expand(paths.BASELINES, dataset=DATASETS)
