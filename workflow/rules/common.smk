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


def data_tables(wildcards, names=DATA_TABLES):
    """The data stage's tables of one dataset, named <table>_table (Snakemake reserves "items")."""
    return {f"{name}_table": paths.data_table(name).format(dataset=wildcards.dataset) for name in names}


# Stage targets that train no generator: asking only for them needs no backbone.
NO_GENERATOR_TARGETS = {"data", "embeddings", "neighbors", "baselines"}


def load_problems(command):
    """What the workflow checks when it loads, before Snakemake removes any output of a job it
    reruns (peapod.preflight), as (problems that stop it, problems a dry run only warns of).
    ``command``: the targets and dry-run flag (peapod.invocation), or None. The backbones of the
    planned runs are checked unless only stages before the generator are named; in a dry run a
    missing one is a warning (a study is planned before its checkpoints are fetched). Then an
    ablation_<name> target this config lacks, each
    interactions file newer than its tables, and the recommendation request (recommend_load_problems)."""
    targets = command.targets if command else ()
    backbones = []
    if not (targets and set(targets) <= NO_GENERATOR_TARGETS):
        backbones = preflight.missing_backbones(GENERATOR_SETTINGS, PLAN.runs(), config["download"])
    problems = [] if command and command.dry_run else backbones
    problems += preflight.unknown_ablation_targets(targets, PLAN.ablations)
    for name, spec in config["datasets"].items():
        if spec["source"] == "interactions":
            problems += [p for p in [preflight.interactions_problem(name, spec)] if p]
    return problems + recommend_load_problems(), [b for b in backbones if b not in problems]
