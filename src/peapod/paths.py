"""The layout of ``results/``: one home for the path of every output another stage reads.

Two kinds of folder sit under ``results/``:

- ``results/<dataset>/``: what is shared by every study that uses the dataset: its data tables,
  CF embeddings, neighbours, baselines, and the generator runs, one folder per run's settings
  (``runs/<variant>/<run_key>/seed<k>``, ``run_key`` a hash of what the run depends on:
  peapod.generator.runs), so runs whose settings differ never share files and equal ones do;
- ``results/studies/<study>/``: one config's tables, aggregate, figures, ablations and their logs
  (the study's name: config ``study:``, else :func:`default_study`), so two configs' outputs sit
  side by side. ``studies`` (and the old layout's top-level names) cannot name a dataset.

Each constant is a Snakemake pattern with wildcards (``{dataset}``, ``{cf_model}``, ``{variant}``,
``{run_key}``, ``{baseline}``, ``{seed}``, ``{request}``); the rules declare their outputs with
them, and code that finds outputs on its own (the aggregation, which reads every planned run)
fills them with :func:`located`; a study's files are named by functions of the study. Files that
only the next rule of the same stage reads (the aggregation's tables, a rule's log and benchmark)
are declared once, in the rule that writes them, and read through ``rules.<name>.output``.
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

RUN_DIR = DATASET + "/runs/{variant}/{run_key}/seed{seed}"
RUN_METRICS = RUN_DIR + "/metrics.parquet"
# snakemake recommendations: each request under its own name (peapod.evaluation.recommend_request)
RECOMMEND_REQUEST_DIR = DATASET + "/recommendations/{request}"
RECOMMEND_REQUEST = RECOMMEND_REQUEST_DIR + "/request.json"  # what the request asked
RECOMMENDATIONS_DIR = RECOMMEND_REQUEST_DIR + "/{variant}/seed{seed}"
BASELINES = DATASET + "/baselines/metrics.csv"
BASELINE_RUN_DIR = DATASET + "/baselines/{baseline}/seed{seed}"  # a RecBole baseline's run (peapod.baselines.stage)


STUDIES_DIR = RESULTS + "/studies"  # one folder per study (a config's aggregate outputs)
# Top-level names under results/ that are not datasets: the studies, the workflow's own logs (the
# downloads'), and the folders the layout before studies used, so none is taken for a dataset's.
OLD_STUDY_FOLDERS = ("aggregate", "tables", "figures", "ablations")
RESERVED_NAMES = ("studies", "logs", *OLD_STUDY_FOLDERS)
DEMO_STUDY = "demo"  # the study of the default config (config/config.yaml)


def report_html(study: str) -> str:
    """Where the docs and the closing block say to build a study's HTML report (snakemake --report)."""
    return f"{study_dir(study)}/report.html"


def study_dir(study: str) -> str:
    """results/studies/<study>: its aggregate/ (metrics, tests, verdicts, claims), tables/ (the
    papers' tables and the dataset statistics), figures/, ablations/<name>/ and logs/."""
    return f"{STUDIES_DIR}/{study}"


def aggregate_file(study: str, name: str) -> str:
    return f"{study_dir(study)}/aggregate/{name}"


def table_file(study: str, name: str) -> str:
    """A file of the study's tables ("{table}.md" is one rendering of every table)."""
    return f"{study_dir(study)}/tables/{name}"


def figure_file(study: str, name: str) -> str:
    return f"{study_dir(study)}/figures/{name}"


def ablation_file(study: str, name: str) -> str:
    return f"{study_dir(study)}/ablations/{{ablation}}/{name}"


def study_log(study: str, name: str) -> str:
    """The log of one of the study's aggregation jobs."""
    return f"{study_dir(study)}/logs/{name}"


def default_study(config_files: list[str | Path], demo_config: str | Path) -> str:
    """The study's name when the config sets no ``study:``: the names of its config files without
    their suffix, joined by "+" in the order given ("paper", "config+demo_ablations"), the
    default config (``demo_config``) read as "demo". No file: the demo. Names rather than a hash of
    the settings, so a researcher finds a config's results by its file's name, and changing a
    setting in that file updates its study instead of starting an unnamed new one."""
    demo = Path(demo_config).resolve()
    names = [DEMO_STUDY if Path(f).resolve() == demo else Path(f).stem for f in config_files]
    return "+".join(names) or DEMO_STUDY


def old_layout_folders(root: str | Path = RESULTS) -> list[str]:
    """Folders of the layout before studies and run keys, which nothing reads any more:
    results/<aggregate|tables|figures|ablations> and results/<dataset>/runs/<variant>/seed<k>."""
    root = Path(root)
    found = [root / name for name in OLD_STUDY_FOLDERS if (root / name).is_dir()]
    found += sorted(p for p in root.glob("*/runs/*/seed*") if p.is_dir())
    return [str(p) for p in found]


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
