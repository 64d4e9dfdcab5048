"""The paper's tables: layout, best/second marks, significance marks, and four renderings.

A table is rows (reported models, then variants reproduced here) by columns (dataset x metric).
Marks, per column over every row with a value, on the values as displayed (so a tie on screen is a
tie): best in bold, second best underlined. Significance marks on reproduced rows:
  *  one-sample t-test (the paper's protocol) against the strongest reported baseline of another
     model in that column: the variant's mean is higher and p < alpha;
  †  paired t-test over shared seeds against the comparison variant (POD for PeaPOD in the main
     tables, the default PeaPOD in ablation tables): mean higher and Holm-adjusted p < alpha.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Sequence

import pandas as pd

METRIC_LABELS = {
    "hr@1": "HR@1", "hr@5": "HR@5", "hr@10": "HR@10", "ndcg@5": "NDCG@5", "ndcg@10": "NDCG@10",
    "bleu4": "BLEU-4", "rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougel": "ROUGE-L",
}
TASK_LABELS = {"sequential": "Seq.", "topn": "Top-n", "explanation": "Expl."}
STAR, DAGGER = "*", "†"


@dataclass(frozen=True)
class Column:
    dataset: str
    task: str
    metric: str


@dataclass
class Cell:
    value: float = math.nan
    std: float = math.nan
    n: int | None = None  # seeds behind a reproduced value; None for a reported number
    bold: bool = False
    underline: bool = False
    marks: list[str] = field(default_factory=list)


@dataclass
class Row:
    label: str
    kind: str  # "reported" or "reproduced"
    cells: dict[Column, Cell]
    variant: str | None = None
    method: str | None = None


@dataclass
class PaperTable:
    name: str
    title: str
    columns: list[Column]
    rows: list[Row]
    metric_header_tasks: bool = False  # put the task in the metric header (tables spanning tasks)
    notes: list[str] = field(default_factory=list)


def decimals(metric: str) -> int:
    return 4 if metric.startswith(("hr", "ndcg")) else 2


def fmt(value: float, metric: str) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{decimals(metric)}f}"


def mark_best(table: PaperTable, higher_is_better: bool = True) -> None:
    """Bold the best and underline the second best value of each column (ties share the mark)."""
    for col in table.columns:
        shown = {}
        for i, row in enumerate(table.rows):
            cell = row.cells.get(col)
            if cell is not None and not math.isnan(cell.value):
                shown[i] = round(cell.value, decimals(col.metric))
        distinct = sorted(set(shown.values()), reverse=higher_is_better)
        for i, v in shown.items():
            cell = table.rows[i].cells[col]
            cell.bold = v == distinct[0]
            cell.underline = len(distinct) > 1 and v == distinct[1]


def add_significance(
    table: PaperTable,
    vs_reported: pd.DataFrame | None,
    paired: pd.DataFrame | None,
    alpha: float = 0.05,
    star_uses_holm: bool = False,
    paired_against: dict[str, str] | None = None,
) -> None:
    """Add * and † to reproduced cells (see the module docstring)."""
    pcol = "p_holm" if star_uses_holm else "p"
    for row in table.rows:
        if row.kind != "reproduced":
            continue
        for col, cell in row.cells.items():
            if math.isnan(cell.value):
                continue
            if vs_reported is not None and len(vs_reported):
                t = vs_reported[
                    (vs_reported["variant"] == row.variant) & (vs_reported["dataset"] == col.dataset)
                    & (vs_reported["task"] == col.task) & (vs_reported["method"] == row.method)
                    & (vs_reported["metric"] == col.metric) & (vs_reported["reproduced_by"] != row.variant)
                ]
                if len(t):
                    best = t.loc[t["reported"].idxmax()]
                    if best["mean"] > best["reported"] and best[pcol] < alpha:
                        cell.marks.append(STAR)
            other = (paired_against or {}).get(row.variant)
            if other and paired is not None and len(paired):
                p = paired[
                    (paired["variant_a"] == row.variant) & (paired["variant_b"] == other)
                    & (paired["dataset"] == col.dataset) & (paired["task"] == col.task)
                    & (paired["method"] == row.method) & (paired["metric"] == col.metric)
                ]
                if len(p) and p["mean_diff"].iloc[0] > 0 and p["p_holm"].iloc[0] < alpha:
                    cell.marks.append(DAGGER)


def build_table(
    name: str,
    title: str,
    columns: Sequence[Column],
    summary: pd.DataFrame,
    reported: pd.DataFrame,
    reproduced_rows: Sequence[tuple[str, str, str]],
    reported_label: dict[str, str] | None = None,
) -> PaperTable:
    """Reported rows (one per model, in the order of the reported file) then reproduced rows.

    ``reproduced_rows``: (label, variant, method). A reported model that is reproduced here is
    labelled "<model> (paper)". Reported models with no value in any column are left out.
    """
    columns = list(columns)
    rows: list[Row] = []
    wanted = {(c.dataset, c.task, c.metric) for c in columns}
    mask = [(d, t, m) in wanted for d, t, m in zip(reported["dataset"], reported["task"], reported["metric"])]
    rep = reported.loc[pd.Series(mask, index=reported.index, dtype=bool)]
    for model in dict.fromkeys(rep["model"]):
        sub = rep[rep["model"] == model]
        cells = {}
        for c in columns:
            hit = sub[(sub["dataset"] == c.dataset) & (sub["task"] == c.task) & (sub["metric"] == c.metric)]
            cells[c] = Cell(value=float(hit["value"].iloc[0]) if len(hit) else math.nan)
        reproduced = sub["reproduced_by"].notna().any()
        label = (reported_label or {}).get(model, f"{model} (paper)" if reproduced else model)
        rows.append(Row(label, "reported", cells))
    test = summary[summary["split"] == "test"]
    for label, variant, method in reproduced_rows:
        cells = {}
        for c in columns:
            hit = test[
                (test["dataset"] == c.dataset) & (test["variant"] == variant) & (test["task"] == c.task)
                & (test["method"] == method) & (test["metric"] == c.metric)
            ]
            if len(hit):
                h = hit.iloc[0]
                cells[c] = Cell(value=float(h["mean"]), std=float(h["std"]), n=int(h["n_seeds"]))
            else:
                cells[c] = Cell()
        rows.append(Row(label, "reproduced", cells, variant=variant, method=method))
    return PaperTable(name, title, columns, rows)


# ----------------------------------------------------------------------------------------------
# Renderings


def _groups(table: PaperTable) -> list[tuple[str, int]]:
    groups: list[tuple[str, int]] = []
    for c in table.columns:
        if groups and groups[-1][0] == c.dataset:
            groups[-1] = (c.dataset, groups[-1][1] + 1)
        else:
            groups.append((c.dataset, 1))
    return groups


def _metric_header(table: PaperTable, c: Column) -> str:
    m = METRIC_LABELS.get(c.metric, c.metric)
    return f"{TASK_LABELS.get(c.task, c.task)} {m}" if table.metric_header_tasks else m


def _dataset_label(name: str) -> str:
    return name.replace("_", " ").title()


def _seed_note(table: PaperTable) -> str:
    ns = sorted({cell.n for r in table.rows for cell in r.cells.values() if cell.n is not None})
    if not ns:
        return "No reproduced values."
    span = f"{ns[0]}" if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"
    return f"Reproduced values: mean over {span} seed(s) (per-cell n in the summary table)."


def legend(table: PaperTable) -> str:
    return (
        "Best in bold, second best underlined. * the variant's mean is significantly higher than the "
        "strongest reported baseline of another model (one-sample t-test, p < 0.05, the paper's protocol). "
        "† significantly higher than the comparison variant (paired t-test over shared seeds, Holm-adjusted "
        f"p < 0.05). – not available. {_seed_note(table)}"
    )


def to_markdown(table: PaperTable) -> str:
    header = ["Model"] + [f"{_dataset_label(c.dataset)} {_metric_header(table, c)}" for c in table.columns]
    lines = [f"**{table.title}**", "", "| " + " | ".join(header) + " |", "|---" + "|---:" * len(table.columns) + "|"]
    for row in table.rows:
        cells = []
        for c in table.columns:
            cell = row.cells.get(c, Cell())
            text = fmt(cell.value, c.metric)
            if cell.bold:
                text = f"**{text}**"
            elif cell.underline:
                text = f"<u>{text}</u>"
            cells.append(text + "".join(cell.marks))
        lines.append("| " + " | ".join([row.label, *cells]) + " |")
    lines += ["", legend(table), *table.notes]
    return "\n".join(lines) + "\n"


_LATEX_ESCAPES = {"&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "$": r"\$", "{": r"\{", "}": r"\}"}


def _tex(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(table: PaperTable) -> str:
    """A booktabs table: dataset groups over metric headers, reported rows, a rule, reproduced rows."""
    groups = _groups(table)
    lines = [
        "% Requires \\usepackage{booktabs}",
        "\\begin{table}[t]",
        "\\centering",
        "\\caption{" + _tex(table.title) + ". " + _tex(legend(table)).replace("†", "$^\\dagger$") + "}",
        f"\\label{{tab:{table.name}}}",
        "\\begin{tabular}{l" + "".join("r" * n for _, n in groups) + "}",
        "\\toprule",
    ]
    head, rules, start = [""], [], 2
    for dataset, n in groups:
        head.append(f"\\multicolumn{{{n}}}{{c}}{{{_tex(_dataset_label(dataset))}}}")
        rules.append(f"\\cmidrule(lr){{{start}-{start + n - 1}}}")
        start += n
    lines += [" & ".join(head) + " \\\\", " ".join(rules)]
    lines.append(" & ".join(["Model", *(_tex(_metric_header(table, c)) for c in table.columns)]) + " \\\\")
    lines.append("\\midrule")
    previous = None
    for row in table.rows:
        if previous == "reported" and row.kind == "reproduced":
            lines.append("\\midrule")
        previous = row.kind
        cells = []
        for c in table.columns:
            cell = row.cells.get(c, Cell())
            text = fmt(cell.value, c.metric)
            if cell.bold:
                text = f"\\textbf{{{text}}}"
            elif cell.underline:
                text = f"\\underline{{{text}}}"
            marks = "".join("*" if m == STAR else "\\dagger" for m in cell.marks)
            cells.append(text + (f"$^{{{marks}}}$" if marks else ""))
        lines.append(" & ".join([_tex(row.label), *cells]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def to_html(table: PaperTable) -> str:
    """A standalone HTML page (for the Snakemake report) with the same layout and marks."""
    groups = _groups(table)
    out = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(table.title)}</title>",
        "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
        "th,td{padding:3px 8px;text-align:right}th:first-child,td:first-child{text-align:left}"
        "thead tr:first-child th{border-top:2px solid #000}thead tr:last-child th{border-bottom:1px solid #000}"
        "tbody tr:last-child td{border-bottom:2px solid #000}tr.sep td{border-top:1px solid #000}"
        "p{max-width:60em;font-size:90%}</style></head><body>",
        f"<h3>{html.escape(table.title)}</h3><table><thead><tr><th></th>",
    ]
    out += [f"<th colspan='{n}' style='text-align:center'>{html.escape(_dataset_label(d))}</th>" for d, n in groups]
    out.append("</tr><tr><th>Model</th>")
    out += [f"<th>{html.escape(_metric_header(table, c))}</th>" for c in table.columns]
    out.append("</tr></thead><tbody>")
    previous = None
    for row in table.rows:
        sep = previous == "reported" and row.kind == "reproduced"
        previous = row.kind
        out.append(f"<tr{' class=sep' if sep else ''}><td>{html.escape(row.label)}</td>")
        for c in table.columns:
            cell = row.cells.get(c, Cell())
            text = html.escape(fmt(cell.value, c.metric))
            if cell.bold:
                text = f"<b>{text}</b>"
            elif cell.underline:
                text = f"<u>{text}</u>"
            if cell.marks:
                text += f"<sup>{html.escape(''.join(cell.marks))}</sup>"
            title = f" title='sd {cell.std:.4g}, n={cell.n}'" if cell.n is not None else ""
            out.append(f"<td{title}>{text}</td>")
        out.append("</tr>")
    out.append(f"</tbody></table><p>{html.escape(legend(table))}</p>")
    out += [f"<p>{html.escape(n)}</p>" for n in table.notes]
    out.append("</body></html>")
    return "".join(out) + "\n"


def to_csv(table: PaperTable) -> str:
    """Wide CSV in the paper's layout with exact values: model, kind, then one column per dataset:task:metric."""
    data = {
        "model": [r.label for r in table.rows],
        "kind": [r.kind for r in table.rows],
        "method": [r.method or "" for r in table.rows],
    }
    for c in table.columns:
        data[f"{c.dataset}:{c.task}:{c.metric}"] = [r.cells.get(c, Cell()).value for r in table.rows]
        data[f"{c.dataset}:{c.task}:{c.metric}:marks"] = [
            ("best" if r.cells.get(c, Cell()).bold else "second" if r.cells.get(c, Cell()).underline else "")
            + "".join(r.cells.get(c, Cell()).marks)
            for r in table.rows
        ]
    return pd.DataFrame(data).to_csv(index=False)


# ----------------------------------------------------------------------------------------------
# The paper's tables

TABLE_SPECS: dict[str, dict] = {
    "sequential": {"title": "Sequential recommendation", "metrics": [("sequential", m) for m in ("hr@5", "ndcg@5", "hr@10", "ndcg@10")]},
    "topn": {"title": "Top-n recommendation", "metrics": [("topn", m) for m in ("hr@1", "hr@5", "ndcg@5", "hr@10", "ndcg@10")]},
    "explanation": {"title": "Explanation generation", "metrics": [("explanation", m) for m in ("bleu4", "rouge1", "rouge2", "rougel")]},
    "model_size": {
        "title": "Model size: small versus base backbone",
        "metrics": [("sequential", "hr@10"), ("sequential", "ndcg@10"), ("topn", "hr@10"), ("topn", "ndcg@10"),
                    ("explanation", "bleu4"), ("explanation", "rougel")],
    },
}
TABLE_NAMES = tuple(TABLE_SPECS)
METHOD_ORDER = {"beam": 0}


def variant_label(variant: str, labels: dict[str, str] | None) -> str:
    return (labels or {}).get(variant, variant)


def make_paper_table(
    name: str,
    plan,
    summary: pd.DataFrame,
    reported: pd.DataFrame,
    vs_reported: pd.DataFrame,
    paired: pd.DataFrame,
    settings: pd.DataFrame,
    labels: dict[str, str] | None = None,
    alpha: float = 0.05,
    star_uses_holm: bool = False,
) -> PaperTable:
    """One of TABLE_NAMES for the plan: main tables over all datasets and the table variants; the
    model-size table over the model_size ablation's datasets and variants, rows named by backbone."""
    spec = TABLE_SPECS[name]
    test = summary[summary["split"] == "test"]
    if name == "model_size":
        ab = plan.ablations.get("model_size", {"variants": (), "datasets": ()})
        datasets, variants = ab["datasets"], ab["variants"]
        backbone = settings.drop_duplicates("variant").set_index("variant")["backbone"].to_dict()
        paired_against = {v: plan.default_variant for v in variants if v != plan.default_variant}
        reported = reported.iloc[0:0]  # config/reported.yaml records no model-size numbers yet
    else:
        datasets, variants = plan.datasets, plan.table_variants
        backbone = {}
        paired_against = {plan.default_variant: plan.baseline_variant} if plan.baseline_variant else {}
    columns = [Column(d, t, m) for d in datasets for t, m in spec["metrics"]]
    tasks = {t for t, _ in spec["metrics"]}
    rows = []
    for variant in variants:
        methods = sorted(set(test.loc[(test["variant"] == variant) & test["task"].isin(tasks), "method"]),
                         key=lambda m: (METHOD_ORDER.get(m, 1), m))
        for method in methods or ["beam"]:
            label = variant_label(variant, labels)
            if name == "model_size":
                label = f"{label}, {backbone.get(variant, '?')}"
            label = f"{label} (ours)" if method == "beam" else f"{label} (ours, {method})"
            rows.append((label, variant, method))
    table = build_table(name, spec["title"], columns, summary, reported, rows)
    table.metric_header_tasks = name == "model_size"
    mark_best(table)
    add_significance(table, vs_reported, paired, alpha, star_uses_holm, paired_against)
    if not any(r.kind == "reported" for r in table.rows):
        table.notes.append("No reported numbers are recorded for these datasets and metrics (config/reported.yaml).")
    return table


def write_table(table: PaperTable, outputs: dict[str, str]) -> None:
    """Write the renderings named in ``outputs`` (markdown, latex, html, csv) atomically."""
    from peapod.io import write_text

    render = {"markdown": to_markdown, "latex": to_latex, "html": to_html, "csv": to_csv}
    for kind, path in outputs.items():
        write_text(render[kind](table), path)
