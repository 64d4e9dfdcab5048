# Shared helpers: which outputs exist for the configured datasets, and where inputs come from.
from pathlib import Path

from peapod.aggregate.settings import FIGURE_ABLATIONS, make_plan
from peapod.aggregate.tables import TABLE_NAMES
from peapod.data.p5 import discover_p5_files
from peapod.generator.config import variant_config

DATASETS = list(config["datasets"])
VARIANTS = dict(config.get("variants") or {"peapod": {}})
SEEDS = [int(seed) for seed in config["seeds"]]
# Every variant's settings, checked now so a bad value stops the workflow before any job runs.
GENERATOR_SETTINGS = {name: variant_config(config.get("generator", {}), overrides) for name, overrides in VARIANTS.items()}
CF_MODELS = list(config["embeddings"]["models"])
DEMO_DATASETS = [name for name, spec in config["datasets"].items() if spec["source"] == "demo"]


wildcard_constraints:
    dataset="|".join(DATASETS),
    variant="|".join(VARIANTS),
    seed=r"\d+",
    cf_model="pmf|bivae|lightgcn|file",


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


def evaluated_runs(wildcards=None):
    """The evaluation metrics of every dataset x variant x seed (each implies its training run)."""
    return expand(
        "results/{dataset}/runs/{variant}/seed{seed}/metrics.parquet", dataset=DATASETS, variant=VARIANTS, seed=SEEDS
    )


def embedding_inputs(wildcards):
    """The dataset tables an embedding source reads (named <table>_table: Snakemake reserves
    "items"); the file source also its user file."""
    data = f"results/{wildcards.dataset}/data"
    inputs = {f"{name}_table": f"{data}/{name}.parquet" for name in ("sequences", "users", "items", "candidates")}
    if wildcards.cf_model == "file":
        spec = config["embeddings"].get("file", {})
        if not spec.get("path"):
            raise ValueError("embeddings.models includes file, but embeddings.file.path is not set")
        inputs["user_file"] = spec["path"].format(dataset=wildcards.dataset)
        if spec.get("ids_path"):
            inputs["user_ids_file"] = spec["ids_path"].format(dataset=wildcards.dataset)
    return inputs


def embedding_settings(wildcards):
    """Only the settings of this source (so changing one model's settings reruns only that model)."""
    section = config["embeddings"]
    settings = {"dim": section.get("dim", 512), "seed": section.get("seed", 0)}
    settings[wildcards.cf_model] = section.get(wildcards.cf_model, {})
    return settings


# --- Aggregation (workflow/rules/report.smk) -----------------------------------------------------
# Only when the config defines variants: the aggregation reads the runs' metrics files.
AGGREGATE = bool(config.get("variants"))
PLAN = make_plan(config) if AGGREGATE else None
RESULT_TABLES = (
    [t for t in TABLE_NAMES if t != "model_size" or "model_size" in PLAN.ablations] if AGGREGATE else []
)
ABLATION_FIGURES = [a for a in FIGURE_ABLATIONS if a in PLAN.ablations] if AGGREGATE else []


def run_metrics_inputs(wildcards):
    """The metrics file of every planned run; with require_all_runs false, only those that exist now."""
    paths = [f"results/{d}/runs/{v}/seed{s}/metrics.parquet" for d, v, s in PLAN.runs()]
    if config["aggregate"]["require_all_runs"]:
        return paths
    return [p for p in paths if Path(p).exists()]


def aggregation_params(wildcards):
    """The config sections the aggregation reads (so a change to them reruns it)."""
    keys = ("datasets", "seeds", "generator", "variants", "ablations", "aggregate")
    return {key: config[key] for key in keys if key in config}


def aggregation_outputs():
    """Every table, figure and test table of the aggregation; empty when no variants are configured."""
    if not AGGREGATE:
        return []
    return (
        [
            "results/aggregate/summary.csv",
            "results/aggregate/missing_runs.csv",
            "results/aggregate/tests_vs_reported.csv",
            "results/aggregate/tests_paired.csv",
            "results/aggregate/reproduced_vs_reported.csv",
        ]
        + expand("results/tables/{table}.{ext}", table=RESULT_TABLES, ext=["md", "tex", "csv", "html"])
        + expand("results/figures/ablation_{ablation}.{ext}", ablation=ABLATION_FIGURES, ext=["png", "pdf"])
    )


def all_outputs(wildcards):
    outputs = [f"results/{dataset}/data/stats.json" for dataset in DATASETS]
    outputs.append("results/tables/dataset_statistics.csv")
    for dataset in DATASETS:
        for cf_model in CF_MODELS:
            outputs.append(f"results/{dataset}/embeddings/{cf_model}/metrics.json")
            outputs.append(f"results/{dataset}/neighbors/{cf_model}/neighbors.parquet")
    return outputs + evaluated_runs() + aggregation_outputs()
