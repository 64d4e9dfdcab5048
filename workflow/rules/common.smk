# Shared helpers: which outputs exist for the configured datasets, and where inputs come from.
from pathlib import Path

from peapod.data.p5 import discover_p5_files
from peapod.generator.config import variant_config

DATASETS = list(config["datasets"])
VARIANTS = dict(config.get("variants") or {"peapod": {}})
SEEDS = [int(seed) for seed in config["seeds"]]
# Every variant's settings, checked now so a bad value stops the workflow before any job runs.
GENERATOR_SETTINGS = {name: variant_config(config.get("generator", {}), overrides) for name, overrides in VARIANTS.items()}
DEMO_DATASETS = [name for name, spec in config["datasets"].items() if spec["source"] == "demo"]


wildcard_constraints:
    dataset="|".join(DATASETS),
    variant="|".join(VARIANTS),
    seed=r"\d+",


def dataset_spec(wildcards):
    return config["datasets"][wildcards.dataset]


def demo_settings(wildcards):
    return dataset_spec(wildcards).get("demo", {})


def preprocess_inputs(wildcards):
    """The raw files of one dataset, by role, for the preprocess rule."""
    spec = dataset_spec(wildcards)
    if spec["source"] == "demo":
        raw = f"results/{wildcards.dataset}/raw"
        return {
            "sequences": f"{raw}/sequential_data.txt",
            "negatives": f"{raw}/negative_samples.txt",
            "datamaps": f"{raw}/datamaps.json",
            "explanations": f"{raw}/exp_splits.pkl",
        }
    if spec["source"] == "p5":
        return discover_p5_files(spec["path"])
    inputs = {"reviews": spec["path"]}
    if "explanations" in spec:
        inputs["explanations"] = spec["explanations"]
    return inputs


def generator_settings(wildcards):
    """The variant's generator settings as a plain mapping (config defaults + overrides)."""
    return GENERATOR_SETTINGS[wildcards.variant].to_dict()


def run_seed(wildcards):
    return int(wildcards.seed)


def generator_inputs(wildcards):
    """Tables and templates of a run; CF user embeddings and neighbours only when the variant has
    a user prompt (POD, user_prompt none, needs no CF stage)."""
    data = f"results/{wildcards.dataset}/data"
    inputs = {
        "sequences": f"{data}/sequences.parquet",
        "items_table": f"{data}/items.parquet",
        "explanations": f"{data}/explanations.parquet",
        "candidates": f"{data}/candidates.parquet",
        "templates": "config/templates.yaml",
    }
    settings = GENERATOR_SETTINGS[wildcards.variant]
    if settings.user_prompt != "none":
        cf = settings.cf_model
        inputs["embeddings"] = f"results/{wildcards.dataset}/embeddings/{cf}/user_embeddings.parquet"
        inputs["neighbors"] = f"results/{wildcards.dataset}/neighbors/{cf}/neighbors.parquet"
    return inputs


def generator_runs(wildcards=None):
    """The run.json of every dataset x variant x seed."""
    return expand(
        "results/{dataset}/runs/{variant}/seed{seed}/run.json", dataset=DATASETS, variant=VARIANTS, seed=SEEDS
    )


def all_outputs(wildcards):
    return (
        [f"results/{dataset}/data/stats.json" for dataset in DATASETS]
        + ["results/tables/dataset_statistics.csv"]
        + generator_runs()
    )
