# Shared helpers: which outputs exist for the configured datasets, and where inputs come from.
from pathlib import Path

from peapod import paths
from peapod.aggregate.settings import ABLATION_NAMES, FIGURE_ABLATIONS, make_plan
from peapod.aggregate.tables import TABLE_NAMES, table_names
from peapod.baselines.registry import BASELINES, NAMES as BASELINE_NAMES
from peapod.baselines.settings import run_settings as baseline_run_config
from peapod.data.p5 import discover_p5_files
from peapod.data.tables import GENERATOR_TABLES, TABLE_NAMES as DATA_TABLES
from peapod.embeddings import dataset_settings as dataset_embedding_settings
from peapod.embeddings.registry import SOURCES as EMBEDDING_SOURCES
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
BASELINE_MODELS = list(config["baselines"]["models"])
BASELINE_SEEDS = [int(seed) for seed in config["baselines"]["seeds"]]
DEMO_DATASETS = [name for name, spec in config["datasets"].items() if spec["source"] == "demo"]
# Threads and gpu resource units of each generator job (training, evaluation, recommendations).
GENERATOR_THREADS = int(config["devices"]["threads_per_job"])
GENERATOR_GPUS = int(config["devices"]["gpus_per_job"])


wildcard_constraints:
    dataset="|".join(DATASETS),
    variant="|".join(VARIANTS),
    seed=r"\d+",
    cf_model="|".join(EMBEDDING_SOURCES),
    baseline="|".join(BASELINE_NAMES),


def dataset_spec(wildcards):
    return config["datasets"][wildcards.dataset]


def data_spec(wildcards):
    """The dataset's entry as the data stage's params: without its embedding and baseline settings,
    so setting datasets.<name>.embeddings re-runs the embeddings, not the preprocessing."""
    return {k: v for k, v in dataset_spec(wildcards).items() if k not in ("embeddings", "baselines")}


def demo_settings(wildcards):
    return dataset_spec(wildcards).get("demo", {})


def preprocess_inputs(wildcards):
    """The raw files of one dataset, by role, for the preprocess rule."""
    spec = dataset_spec(wildcards)
    if spec["source"] == "demo":
        raw = rules.make_demo_dataset.output
        names = ("sequences", "negatives", "datamaps", "explanations")
        return {name: getattr(raw, name).format(dataset=wildcards.dataset) for name in names}
    if spec["source"] == "p5":
        return discover_p5_files(spec["path"])
    if spec["source"] == "interactions":
        return {"interactions": spec["path"]}
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
    inputs = data_tables(wildcards, GENERATOR_TABLES)
    inputs["templates"] = "config/templates.yaml"
    settings = GENERATOR_SETTINGS[wildcards.dataset, wildcards.variant]
    if config["download"] and settings.backbone in HUB_REPOS and not settings.model_dir:
        inputs["backbone"] = f"resources/models/{settings.backbone}"  # fetched by fetch_backbone
    if settings.user_prompt != "none":
        where = {"dataset": wildcards.dataset, "cf_model": settings.cf_model}
        inputs["embeddings"] = paths.USER_EMBEDDINGS.format(**where)
        inputs["neighbors"] = paths.NEIGHBORS.format(**where)
    return inputs


def data_tables(wildcards, names=DATA_TABLES):
    """The data stage's tables of one dataset, named <table>_table (Snakemake reserves "items")."""
    return {f"{name}_table": paths.data_table(name).format(dataset=wildcards.dataset) for name in names}


def run_metrics_paths(runs):
    """The evaluation metrics file of each (dataset, variant, seed)."""
    return [paths.located(paths.RUN_METRICS, dataset=d, variant=v, seed=s) for d, v, s in runs]


def evaluated_runs(wildcards=None):
    """The evaluation metrics of every planned run (each implies its training run)."""
    return run_metrics_paths(PLAN.runs())


def neighbors_k(wildcards):
    """Neighbours to store for (dataset, cf_model): neighbors.k, or more when a run reads more
    (e.g. the neighbors_30 ablation), so no training job finds too few."""
    return neighbors_to_store(GENERATOR_SETTINGS, wildcards.dataset, wildcards.cf_model, config["neighbors"]["k"])


def embedding_inputs(wildcards):
    """The dataset tables an embedding source reads (named <table>_table: Snakemake reserves
    "items"); the file source also its user file."""
    inputs = data_tables(wildcards, ("sequences", "users", "items", "candidates"))
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


# --- Baselines (workflow/rules/baselines.smk) ---------------------------------------------------
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
    """The data stage's tables (most popular, the id-order probes), every configured CF model's own
    metrics and every trained baseline run of the dataset (run_<model>_seed<seed>)."""
    cf = {f"cf_{m}": paths.CF_METRICS.format(dataset=wildcards.dataset, cf_model=m) for m in CF_MODELS}
    cf.update({f"run_{m}_seed{s}": paths.baseline_file("metrics.parquet").format(dataset=wildcards.dataset, baseline=m, seed=s)
               for m in BASELINE_MODELS for s in BASELINE_SEEDS})
    kept = set(existing_or_all(list(cf.values())))
    return {
        **data_tables(wildcards, ("sequences", "candidates")),
        **{name: path for name, path in cf.items() if path in kept},
    }


def baseline_tables(wildcards):
    """Every dataset's baselines on our own data (results/<dataset>/baselines/metrics.csv)."""
    return existing_or_all(expand(paths.BASELINES, dataset=DATASETS))


def train_log_of_runs(wildcards):
    """{(variant, seed): its train_log.csv} of every planned run on one dataset (those that exist
    now, with aggregate.require_all_runs false)."""
    logs = {(v, s): paths.located(paths.run_file("train_log.csv"), dataset=d, variant=v, seed=s)
            for d, v, s in PLAN.runs() if d == wildcards.dataset}
    kept = set(existing_or_all(list(logs.values())))
    return {run: path for run, path in logs.items() if path in kept}


def learning_curve_runs(wildcards):
    """The (variant, seed) of each file of learning_curve_inputs, in its order."""
    return list(train_log_of_runs(wildcards))


def learning_curve_inputs(wildcards):
    return list(train_log_of_runs(wildcards).values())


def ablation_run_inputs(wildcards):
    """The metrics files of one ablation's runs (its variants on its datasets)."""
    return existing_or_all(run_metrics_paths(PLAN.for_ablation(wildcards.ablation).runs()))


def ablation_outputs(ablation):
    """What the ablation_<name> target builds: the ablation's own summary, paired tests and figure."""
    return expand(list(rules.summarize_ablation.output) + list(rules.plot_ablation.output), ablation=ablation)


def aggregation_params(wildcards):
    """The config sections the aggregation reads (so a change to them reruns it)."""
    keys = ("datasets", "seeds", "generator", "variants", "ablations", "aggregate", "evaluation")
    return {key: config[key] for key in keys if key in config}


def aggregation_outputs():
    """Every table, figure and test table of the aggregation (the report rules' outputs)."""
    return (
        [*rules.collect_metrics.output, *rules.test_significance.output, *rules.plot_reproduction.output,
         *rules.check_claims.output]
        + expand(rules.compute_baselines.output.metrics, dataset=DATASETS)
        + expand(list(rules.tabulate_results.output), table=RESULT_TABLES)
        + expand(list(rules.plot_ablation.output), ablation=ABLATION_FIGURES)
        + expand(list(rules.plot_learning_curves.output), dataset=DATASETS)
        + [path for ablation in PLAN.ablations for path in ablation_outputs(ablation)]
    )


def all_outputs(wildcards):
    outputs = expand(rules.preprocess.output.stats, dataset=DATASETS)
    outputs.append(rules.tabulate_dataset_statistics.output.csv)
    cf_outputs = [rules.train_embeddings.output.metrics, rules.build_neighbors.output.neighbors]
    outputs += expand(cf_outputs, dataset=DATASETS, cf_model=CF_MODELS)
    outputs += baseline_runs()
    return outputs + evaluated_runs() + aggregation_outputs()


# --- Recommendations (workflow/rules/recommend.smk) ----------------------------------------------
RECOMMEND = config["recommend"]
RECOMMEND_VARIANTS = list(RECOMMEND["variants"] or list(VARIANTS)[:1])
RECOMMEND_SEEDS = [int(s) for s in RECOMMEND["seeds"] or SEEDS[:1]]
_unknown = [v for v in RECOMMEND_VARIANTS if v not in VARIANTS]
if _unknown:
    raise ValueError(f"recommend.variants names {_unknown}, not defined under variants: ({list(VARIANTS)})")


def recommend_file(key, wildcards):
    """recommend.users or recommend.pairs of one dataset ({dataset} replaced), or None."""
    path = RECOMMEND[key]
    return None if path is None else path.format(dataset=wildcards.dataset)


def recommend_pairs(wildcards):
    path = recommend_file("pairs", wildcards)
    if path is None:
        raise ValueError("explanations of pairs need recommend.pairs: a file of (user, item) pairs")
    return path


def recommend_inputs(wildcards):
    """A finished run's exported model, the tables that name users and items, the templates, the
    run's CF files (checked against the hashes it recorded) and the users file when there is one."""
    run = {"dataset": wildcards.dataset, "variant": wildcards.variant, "seed": wildcards.seed}
    inputs = {role: getattr(rules.train_generator.output, role).format(**run)
              for role in ("model", "config", "tokenizer", "tokenizer_config")}
    inputs.update(data_tables(wildcards, ("users", "items", "sequences")))
    inputs["templates"] = "config/templates.yaml"
    run_inputs = generator_inputs(wildcards)
    for key in ("embeddings", "neighbors"):
        if key in run_inputs:
            inputs[key] = run_inputs[key]
    users = recommend_file("users", wildcards)
    if users is not None:
        inputs["users"] = users
    return inputs


def recommend_settings(wildcards):
    keys = ("top_k", "beams", "history", "exclude_history", "batch_size")
    return {key: RECOMMEND[key] for key in keys}


def recommendation_targets(wildcards):
    """What `snakemake recommendations` builds: next items of every (dataset, variant, seed) of
    recommend:, and explanations where a pairs file is set."""
    names = ["next_items.parquet"] + (["explanations.parquet"] if RECOMMEND["pairs"] else [])
    return [f"{paths.RECOMMENDATIONS_DIR}/{name}".format(dataset=d, variant=v, seed=s)
            for d in DATASETS for v in RECOMMEND_VARIANTS for s in RECOMMEND_SEEDS for name in names]
