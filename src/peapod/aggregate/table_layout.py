"""The shape of the papers' tables: which tables exist (TableSpec), their columns, cells and rows,
and the labels they print (peapod.aggregate.tables fills them; peapod.aggregate.render writes them)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from peapod.aggregate.settings import AggregationPlan

METRIC_LABELS = {
    "hr@1": "HR@1", "hr@5": "HR@5", "hr@10": "HR@10", "ndcg@5": "NDCG@5", "ndcg@10": "NDCG@10",
    "bleu4": "BLEU-4", "rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougel": "ROUGE-L",
}
TASK_LABELS = {"sequential": "Seq.", "topn": "Top-n", "explanation": "Expl."}
TASK_METRICS = {
    "sequential": ("hr@5", "ndcg@5", "hr@10", "ndcg@10"),
    "topn": ("hr@1", "hr@5", "ndcg@5", "hr@10", "ndcg@10"),
    "explanation": ("bleu4", "rouge1", "rouge2", "rougel"),
}
TASK_TITLES = {"sequential": "Sequential recommendation", "topn": "Top-n recommendation", "explanation": "Explanation generation"}
GROUP_TITLES = {
    "main": "",
    "task_prompt": "with and without task prompts",
    "embedding": "user embeddings from PMF, BiVAE and LightGCN",
    "model_size": "T5-small versus T5-base",
}
APPENDIX_GROUPS = ("task_prompt", "embedding", "model_size")
# Tasks whose tables show baselines computed on our own data, and what "own" means for them.
BASELINE_TASKS = {"topn": "same candidates", "sequential": "same split"}
# Tasks whose tables show the id-order twins' columns: sequential decodes the next item's id freely,
# which is where P5's numbering by first appearance gives it away.
TWIN_TASKS = ("sequential",)
TWIN_LABEL = "random ids"
STAR, DAGGER = "*", "†"
DECIMALS = 4  # every number of the papers' tables has four decimals


@dataclass(frozen=True)
class TableSpec:
    name: str
    task: str
    group: str  # "main" or an ablation of APPENDIX_GROUPS

    @property
    def title(self) -> str:
        extra = GROUP_TITLES[self.group]
        return f"{TASK_TITLES[self.task]}: {extra}" if extra else TASK_TITLES[self.task]


TABLE_SPECS: dict[str, TableSpec] = {
    **{task: TableSpec(task, task, "main") for task in TASK_METRICS},
    **{f"{g}_{task}": TableSpec(f"{g}_{task}", task, g) for g in APPENDIX_GROUPS for task in TASK_METRICS},
}
TABLE_NAMES = tuple(TABLE_SPECS)


def table_names(plan: AggregationPlan) -> list[str]:
    """The tables the plan makes: the three main ones, and an appendix group's when that ablation is configured."""
    return [name for name, spec in TABLE_SPECS.items() if spec.group == "main" or spec.group in plan.ablations]


@dataclass(frozen=True)
class Column:
    dataset: str
    task: str
    metric: str


@dataclass
class Cell:
    value: float = math.nan
    std: float = math.nan
    n: int | None = None  # seeds behind a reproduced value; None for a reported or computed number
    ci_low: float = math.nan
    ci_high: float = math.nan
    bold: bool = False
    underline: bool = False
    marks: list[str] = field(default_factory=list)

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2 if not (math.isnan(self.ci_low) or math.isnan(self.ci_high)) else math.nan


@dataclass
class Row:
    label: str
    kind: str  # "reported", "baseline" (computed on our data) or "reproduced"
    cells: dict[Column, Cell]
    variant: str | None = None
    method: str | None = None
    compared: bool = False  # the method that stands for the paper's (the one * is tested for)
    users: str | None = None  # a baseline row's users (peapod.aggregate.baselines: "all" or the sample)


@dataclass
class PaperTable:
    name: str
    title: str
    columns: list[Column]
    rows: list[Row]
    metric_header_tasks: bool = False  # put the task in the metric header (tables spanning tasks)
    notes: list[str] = field(default_factory=list)
    reported_only: set[str] = field(default_factory=set)  # datasets without runs of ours
    twins: dict[str, str] = field(default_factory=dict)  # {twin's columns: the dataset it is the twin of}

    def datasets(self) -> list[str]:
        return list(dict.fromkeys(c.dataset for c in self.columns))

    def dataset_title(self, name: str) -> str:
        """The dataset's name in headers and notes; a twin's is its dataset's with "random ids"."""
        return f"{dataset_label(self.twins[name])}, {TWIN_LABEL}" if name in self.twins else dataset_label(name)


def dataset_label(name: str) -> str:
    return name.replace("_", " ").title()


def fmt(value: float, metric: str | None = None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{DECIMALS}f}"
