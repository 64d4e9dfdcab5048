# Shared helpers: which outputs exist for the configured datasets, and where inputs come from.
from pathlib import Path

from peapod.data.p5 import discover_p5_files

DATASETS = list(config["datasets"])
DEMO_DATASETS = [name for name, spec in config["datasets"].items() if spec["source"] == "demo"]


wildcard_constraints:
    dataset="|".join(DATASETS),


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


def all_outputs(wildcards):
    return [f"results/{dataset}/data/stats.json" for dataset in DATASETS] + [
        "results/tables/dataset_statistics.csv"
    ]
