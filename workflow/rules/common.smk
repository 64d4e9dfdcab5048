# Shared helpers: which outputs exist for the configured datasets, and where inputs come from.
from pathlib import Path

from peapod.aggregate.settings import ABLATION_NAMES, FIGURE_ABLATIONS, make_plan
from peapod.aggregate.tables import TABLE_NAMES, table_names
from peapod.data.p5 import discover_p5_files
from peapod.embeddings import dataset_settings as dataset_embedding_settings
from peapod.fetch import HUB_REPOS, reviews_input
from peapod.generator.config import all_run_settings, neighbors_to_store

DATASETS = list(config["datasets"])
VARIANTS = dict(config["variants"])
SEEDS = [int(seed) for seed in config["seeds"]]
# Every (dataset, variant)'s settings: generator defaults, the dataset's overrides, the variant's,
# the variant's on that dataset.
# Checked now, so a bad value stops the workflow before any job runs.
GENERATOR_SETTINGS = all_run_settings(config)
# The runs to train and evaluate: the main tables' variants on every dataset, each ablation's
# variants on its datasets, per seed (peapod.aggregate.settings.make_plan).
PLAN = make_plan(config)
CF_MODELS = list(config["embeddings"]["models"])
DEMO_DATASETS = [name for name, spec in config["datasets"].items() if spec["source"] == "demo"]


wildcard_constraints:
    dataset="|".join(DATASETS),
    variant="|".join(VARIANTS),
    seed=r"\d+",
    cf_model="pmf|bivae|lightgcn|file",


def dataset_spec(wildcards):
    return config["datasets"][wildcards.dataset]


def data_spec(wildcards):
    """The dataset's entry as the data stage's params: without its embedding settings, so setting
    datasets.<name>.embeddings re-runs the embeddings, not the preprocessing."""
    return {k: v for k, v in dataset_spec(wildcards).items() if k != "embeddings"}


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
    inputs = {"reviews": reviews_input(spec["path"], config["download"], config["downloads"]["amazon_url"])}
    if "explanations" in spec:
        inputs["explanations"] = spec["explanations"]
    return inputs


def generator_settings(wildcards):
    """The variant's generator settings as a plain mapping (config defaults + overrides)."""
    return GENERATOR_SETTINGS[wildcards.dataset, wildcards.variant].to_dict()


def run_seed(wildcards):
    return int(wildcards.seed)


def generator_inputs(wildcards):
    """Tables and templates of a run; CF user embeddings and neighbours only when the variant has
    a user prompt (POD, user_prompt none, needs no CF stage); with download: true, the T5 checkpoint."""
    data = f"results/{wildcards.dataset}/data"
    inputs = {
        "sequences": f"{data}/sequences.parquet",
        "items_table": f"{data}/items.parquet",
        "explanations": f"{data}/explanations.parquet",
        "candidates": f"{data}/candidates.parquet",
        "templates": "config/templates.yaml",
    }
    settings = GENERATOR_SETTINGS[wildcards.dataset, wildcards.variant]
    if config["download"] and settings.backbone in HUB_REPOS and not settings.model_dir:
        inputs["backbone"] = f"resources/models/{settings.backbone}"  # fetched by fetch_backbone
    if settings.user_prompt != "none":
        cf = settings.cf_model
        inputs["embeddings"] = f"results/{wildcards.dataset}/embeddings/{cf}/user_embeddings.parquet"
        inputs["neighbors"] = f"results/{wildcards.dataset}/neighbors/{cf}/neighbors.parquet"
    return inputs


def evaluation_inputs(wildcards):
    """The trained run's exported files (train_generator's outputs), the data tables, the templates
    and the CF files the run read."""
    run = f"results/{wildcards.dataset}/runs/{wildcards.variant}/seed{wildcards.seed}"
    inputs = {name: f"{run}/{name}.json" for name in ("config", "tokenizer")}
    inputs["model"] = f"{run}/model.safetensors"
    inputs.update(generator_inputs(wildcards))
    return inputs


def run_metrics_path(dataset, variant, seed):
    return f"results/{dataset}/runs/{variant}/seed{seed}/metrics.parquet"


def evaluated_runs(wildcards=None):
    """The evaluation metrics of every planned run (each implies its training run)."""
    return [run_metrics_path(*key) for key in PLAN.runs()]


def neighbors_k(wildcards):
    """Neighbours to store for (dataset, cf_model): neighbors.k, or more when a run reads more
    (e.g. the neighbors_30 ablation), so no training job finds too few."""
    return neighbors_to_store(GENERATOR_SETTINGS, wildcards.dataset, wildcards.cf_model, config["neighbors"]["k"])


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
    """Only the settings of this source (so changing one model's settings reruns only that model),
    with the dataset's own overrides (datasets.<name>.embeddings) merged over embeddings:."""
    return dataset_embedding_settings(config["embeddings"], dataset_spec(wildcards).get("embeddings"),
                                      wildcards.cf_model, wildcards.dataset)


# --- Aggregation (workflow/rules/report.smk) -----------------------------------------------------
RESULT_TABLES = table_names(PLAN)  # the main tables, and an appendix group's when its ablation is configured
ABLATION_FIGURES = [a for a in FIGURE_ABLATIONS if a in PLAN.ablations]


def existing_or_all(paths):
    """All of ``paths`` (missing runs are built); with aggregate.require_all_runs false, only those
    that exist now (the others are listed in missing_runs.csv)."""
    if config["aggregate"]["require_all_runs"]:
        return paths
    return [p for p in paths if Path(p).exists()]


def run_metrics_inputs(wildcards):
    """The metrics file of every planned run."""
    return existing_or_all(evaluated_runs())


def baseline_inputs(wildcards):
    """The data stage's tables (most popular) and every configured CF model's own metrics."""
    data = f"results/{wildcards.dataset}/data"
    cf = {f"cf_{m}": f"results/{wildcards.dataset}/embeddings/{m}/metrics.json" for m in CF_MODELS}
    kept = set(existing_or_all(list(cf.values())))
    return {
        "sequences": f"{data}/sequences.parquet",
        "candidates": f"{data}/candidates.parquet",
        **{name: path for name, path in cf.items() if path in kept},
    }


def baseline_tables(wildcards):
    """Every dataset's baselines on our own data (results/<dataset>/baselines/metrics.csv)."""
    return existing_or_all([f"results/{dataset}/baselines/metrics.csv" for dataset in DATASETS])


def ablation_run_inputs(wildcards):
    """The metrics files of one ablation's runs (its variants on its datasets)."""
    return existing_or_all([run_metrics_path(*key) for key in PLAN.for_ablation(wildcards.ablation).runs()])


def ablation_outputs(ablation):
    """What the ablation_<name> target builds: the ablation's own summary, paired tests and figure."""
    return [
        f"results/ablations/{ablation}/summary.csv",
        f"results/ablations/{ablation}/tests_paired.csv",
        f"results/figures/ablation_{ablation}.png",
        f"results/figures/ablation_{ablation}.pdf",
    ]


def aggregation_params(wildcards):
    """The config sections the aggregation reads (so a change to them reruns it)."""
    keys = ("datasets", "seeds", "generator", "variants", "ablations", "aggregate", "evaluation")
    return {key: config[key] for key in keys if key in config}


def aggregation_outputs():
    """Every table, figure and test table of the aggregation."""
    return (
        [
            "results/aggregate/summary.csv",
            "results/aggregate/missing_runs.csv",
            "results/aggregate/tests_vs_reported.csv",
            "results/aggregate/tests_paired.csv",
            "results/aggregate/reproduced_vs_reported.csv",
            "results/aggregate/reproduced_vs_reported.md",
            "results/aggregate/reproduced_vs_reported.html",
            "results/figures/reproduced_vs_reported.png",
            "results/figures/reproduced_vs_reported.pdf",
            "results/aggregate/claims.csv",
            "results/aggregate/claims_detail.csv",
            "results/aggregate/claims.md",
            "results/aggregate/claims.html",
        ]
        + [f"results/{dataset}/baselines/metrics.csv" for dataset in DATASETS]
        + expand("results/tables/{table}.{ext}", table=RESULT_TABLES, ext=["md", "tex", "csv", "html"])
        + expand("results/figures/ablation_{ablation}.{ext}", ablation=ABLATION_FIGURES, ext=["png", "pdf"])
        + [path for ablation in PLAN.ablations for path in ablation_outputs(ablation)]
    )


def all_outputs(wildcards):
    outputs = [f"results/{dataset}/data/stats.json" for dataset in DATASETS]
    outputs.append("results/tables/dataset_statistics.csv")
    for dataset in DATASETS:
        for cf_model in CF_MODELS:
            outputs.append(f"results/{dataset}/embeddings/{cf_model}/metrics.json")
            outputs.append(f"results/{dataset}/neighbors/{cf_model}/neighbors.parquet")
    return outputs + evaluated_runs() + aggregation_outputs()
