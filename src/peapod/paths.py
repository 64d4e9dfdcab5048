"""The layout of ``results/``: one home for the path of every output another stage reads.

Each constant is a Snakemake pattern with wildcards (``{dataset}``, ``{cf_model}``, ``{variant}``,
``{baseline}``, ``{seed}``, ``{request}``); the rules declare their outputs with them, and code that
finds outputs on its own (the aggregation, which reads every planned run) fills them with
:func:`located`. Files that only the next rule of the same stage reads (the aggregation's tables,
a rule's log and benchmark) are declared once, in the rule that writes them, and read through
``rules.<name>.output``.
"""

from __future__ import annotations

from pathlib import Path

RESULTS = "results"
DATASET = RESULTS + "/{dataset}"

RAW_DIR = DATASET + "/raw"  # the demo's generated P5 files
DATA_DIR = DATASET + "/data"
DATASET_STATS = DATA_DIR + "/stats.json"

USER_EMBEDDINGS = DATASET + "/embeddings/{cf_model}/user_embeddings.parquet"
ITEM_EMBEDDINGS = DATASET + "/embeddings/{cf_model}/item_embeddings.parquet"  # no rows: no item factors
CF_METRICS = DATASET + "/embeddings/{cf_model}/metrics.json"
NEIGHBORS = DATASET + "/neighbors/{cf_model}/neighbors.parquet"

RUN_DIR = DATASET + "/runs/{variant}/seed{seed}"
RUN_METRICS = RUN_DIR + "/metrics.parquet"
# snakemake recommendations: each request under its own name (peapod.evaluation.recommend_request)
RECOMMEND_REQUEST_DIR = DATASET + "/recommendations/{request}"
RECOMMEND_REQUEST = RECOMMEND_REQUEST_DIR + "/request.json"  # what the request asked
RECOMMENDATIONS_DIR = RECOMMEND_REQUEST_DIR + "/{variant}/seed{seed}"
BASELINES = DATASET + "/baselines/metrics.csv"
BASELINE_RUN_DIR = DATASET + "/baselines/{baseline}/seed{seed}"  # a RecBole baseline's run (peapod.baselines.stage)


AGGREGATE_DIR = RESULTS + "/aggregate"  # collected metrics, tests, verdicts, claims
TABLES_DIR = RESULTS + "/tables"  # the papers' tables and the dataset statistics
FIGURES_DIR = RESULTS + "/figures"
ABLATION_DIR = RESULTS + "/ablations/{ablation}"
REPORT_HTML = RESULTS + "/report.html"  # where the docs and the closing block say to build the report


def aggregate_file(name: str) -> str:
    return f"{AGGREGATE_DIR}/{name}"


def table_file(name: str) -> str:
    """A file of results/tables ("{table}.md" is one rendering of every table)."""
    return f"{TABLES_DIR}/{name}"


def figure_file(name: str) -> str:
    return f"{FIGURES_DIR}/{name}"


def ablation_file(name: str) -> str:
    return f"{ABLATION_DIR}/{name}"


def baseline_file(name: str) -> str:
    """The pattern of a file of a baseline run (metrics.parquet, per_user.parquet, run.json)."""
    return f"{BASELINE_RUN_DIR}/{name}"


def data_table(name: str) -> str:
    """The pattern of one of the data stage's tables (peapod.data.tables.TABLE_NAMES)."""
    return f"{DATA_DIR}/{name}.parquet"


def run_file(name: str) -> str:
    """The pattern of a file in a run's directory (the trained model's export and its evaluation)."""
    return f"{RUN_DIR}/{name}"


def located(pattern: str, root: str | Path = RESULTS, **wildcards) -> str:
    """``pattern`` with its wildcards filled, under ``root`` instead of ``results`` (tests use a
    temporary root)."""
    if not pattern.startswith(RESULTS):
        raise ValueError(f"{pattern!r} is not under {RESULTS}/")
    return str(root) + pattern[len(RESULTS):].format(**wildcards)
