# Shared helpers: which outputs exist for the configured datasets, and where inputs come from.
import os
import sys
from pathlib import Path

from peapod import paths, preflight
from peapod.aggregate.settings import ABLATION_NAMES, FIGURE_ABLATIONS, make_plan
from peapod.aggregate.tables import TABLE_NAMES, table_names
from peapod.baselines.registry import BASELINES, NAMES as BASELINE_NAMES
from peapod.baselines.settings import run_settings as baseline_run_config
from peapod.data.p5 import discover_p5_files, missing_p5_data
from peapod.data.tables import GENERATOR_TABLES, TABLE_NAMES as DATA_TABLES
from peapod.embeddings import dataset_settings as dataset_embedding_settings
from peapod.embeddings.registry import SOURCES as EMBEDDING_SOURCES
from peapod.evaluation import recommend_request
from peapod.fetch import HUB_REPOS, reviews_input
from peapod.generator.config import all_run_settings, neighbors_to_store
from peapod.generator.runs import run_keys

DATASETS = list(config["datasets"])
# A P5 dataset without its files stops here, naming them, rather than as a missing input of a job.
_missing_p5 = missing_p5_data(config["datasets"])
if _missing_p5:
    sys.exit(_missing_p5)
VARIANTS = dict(config["variants"])
SEEDS = [int(seed) for seed in config["seeds"]]
# Every (dataset, variant)'s settings: generator defaults, the dataset's overrides, the variant's,
# the variant's on that dataset.
# Checked now, so a bad value stops the workflow before any job runs.
GENERATOR_SETTINGS = all_run_settings(config)
# Each (dataset, variant)'s run folder: a hash of what its training reads (peapod.generator.runs), so
# runs whose settings differ never share a folder, and two studies with equal settings share runs.
RUN_KEYS = run_keys(config)
# Where this config's tables, figures and aggregate go: results/studies/<study>/ (peapod.paths).
STUDY = config["study"]
if workflow.is_main_process:
    _old = paths.old_layout_folders()
    if _old:
        print(f"note: {len(_old)} folder(s) of the results/ layout before studies and run keys are no longer "
              f"read ({', '.join(_old[:3])}{', ...' if len(_old) > 3 else ''}); move or delete them "
              "(docs/outputs.md, \"Results of older versions\")", file=sys.stderr)
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
    run_key="|".join(sorted(set(RUN_KEYS.values()))),
    cf_model="|".join(EMBEDDING_SOURCES),
    baseline="|".join(BASELINE_NAMES),


def dataset_spec(wildcards):
    return config["datasets"][wildcards.dataset]


def data_tables(wildcards, names=DATA_TABLES):
    """The data stage's tables of one dataset, named <table>_table (Snakemake reserves "items")."""
    return {f"{name}_table": paths.data_table(name).format(dataset=wildcards.dataset) for name in names}


def run_path(pattern, dataset, variant, seed):
    """``pattern`` (paths.RUN_METRICS, paths.run_file(...)) of one run, in its settings' folder."""
    return paths.located(pattern, dataset=dataset, variant=variant, seed=seed, run_key=RUN_KEYS[dataset, variant])


# Stage targets that train no generator: asking only for them needs no backbone.
NO_GENERATOR_TARGETS = {"data", "embeddings", "neighbors", "baselines"}


def load_problems(command):
    """What the workflow checks when it loads, before Snakemake removes any output of a job it
    reruns (peapod.preflight), as (problems that stop it, problems a dry run only warns of).
    ``command``: the targets and dry-run flag (peapod.invocation), or None. The backbones of the
    planned runs that are not trained yet are checked unless only stages before the generator are
    named (a finished run is evaluated from its own export, which holds its weights); in a dry run a
    missing one is a warning (a study is planned before its checkpoints are fetched). Then an
    ablation_<name> target this config lacks, each
    interactions file newer than its tables, and the recommendation request (recommend_load_problems)."""
    targets = command.targets if command else ()
    backbones = []
    # Asking only for a study's own files (its tables, aggregate, figures) reads the runs' metrics; a
    # run they still lack then fails in its own job, which the failure summary names.
    study_files_only = targets and all(str(t).startswith(paths.STUDIES_DIR + "/") for t in targets)
    if not (targets and set(targets) <= NO_GENERATOR_TARGETS) and not study_files_only:
        untrained = [run for run in PLAN.runs() if not Path(run_path(paths.run_file("model.safetensors"), *run)).exists()]
        backbones = preflight.missing_backbones(GENERATOR_SETTINGS, untrained, config["download"])
    problems = [] if command and command.dry_run else backbones
    problems += preflight.unknown_ablation_targets(targets, PLAN.ablations)
    for name, spec in config["datasets"].items():
        if spec["source"] == "interactions":
            problems += [p for p in [preflight.interactions_problem(name, spec)] if p]
    return problems + recommend_load_problems(), [b for b in backbones if b not in problems]
