"""The paper's tables rendered: Markdown, LaTeX (booktabs), HTML and CSV from one ``PaperTable``
(peapod.aggregate.tables builds it). Every rendering formats a cell with ``format_cell`` and its
format's ``CellStyle``, so the marks (bold best, underlined second, * and †, the interval) mean the
same in each."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from peapod.aggregate.table_layout import (
    DECIMALS, METRIC_LABELS, STAR, TASK_LABELS, Cell, Column, PaperTable, fmt,
)


@dataclass(frozen=True)
class CellStyle:
    """How one format writes a cell's parts: the number is escaped, then bold or underlined, then
    followed by its marks and its interval's half-width (omitted when it has none)."""

    escape: Callable[[str], str]
    bold: str  # a format string of the number: "**{}**"
    underline: str
    marks: Callable[[str], str]  # the marks ("*", "†") as written after the number
    interval: str  # a format string of the half-width: " ±{}"


def format_cell(cell: Cell, style: CellStyle) -> str:
    text = style.escape(fmt(cell.value))
    if cell.bold:
        text = style.bold.format(text)
    elif cell.underline:
        text = style.underline.format(text)
    marks = "".join(cell.marks)
    if marks:
        text += style.marks(marks)
    if not math.isnan(cell.half_width):
        text += style.interval.format(f"{cell.half_width:.{DECIMALS}f}")
    return text


def _no_escape(text: str) -> str:
    return text


MARKDOWN = CellStyle(_no_escape, "**{}**", "<u>{}</u>", _no_escape, " ±{}")
LATEX = CellStyle(_no_escape, "\\textbf{{{}}}", "\\underline{{{}}}",
                  lambda marks: "$^{" + "".join("*" if m == STAR else "\\dagger" for m in marks) + "}$",
                  "{{\\scriptsize$\\pm${}}}")
HTML = CellStyle(html.escape, "<b>{}</b>", "<u>{}</u>", lambda marks: f"<sup>{html.escape(marks)}</sup>",
                 " <small>±{}</small>")


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


def _dataset_header(table: PaperTable, name: str) -> str:
    return table.dataset_title(name) + (" (reported only)" if name in table.reported_only else "")


def _seed_note(table: PaperTable) -> str:
    ns = sorted({cell.n for r in table.rows for cell in r.cells.values() if cell.n is not None})
    if not ns:
        return "No reproduced values."
    span = f"{ns[0]}" if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"
    return f"(ours): mean over {span} seed(s) ± half-width of its 95% confidence interval."


def legend(table: PaperTable) -> str:
    return (
        "Best in bold, second best underlined, over every row shown. * on a (paper) row: starred in the "
        "paper; on an (ours) row: significantly higher than the strongest reported baseline of this table "
        "(one-sample t-test, p < 0.05, the paper's protocol). † significantly higher than the comparison "
        f"variant (paired t-test over shared seeds, Holm-adjusted p < 0.05). – not available. {_seed_note(table)}"
    )


def to_markdown(table: PaperTable) -> str:
    header = ["Model"] + [f"{_dataset_header(table, c.dataset)} {_metric_header(table, c)}" for c in table.columns]
    lines = [f"**{table.title}**", "", "| " + " | ".join(header) + " |", "|---" + "|---:" * len(table.columns) + "|"]
    for row in table.rows:
        cells = [format_cell(row.cells.get(c, Cell()), MARKDOWN) for c in table.columns]
        lines.append("| " + " | ".join([row.label, *cells]) + " |")
    lines += ["", legend(table), "", *table.notes]
    return "\n".join(lines) + "\n"


_LATEX_ESCAPES = {"&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "$": r"\$", "{": r"\{", "}": r"\}"}


def _tex(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text).replace("±", "$\\pm$").replace("†", "$^\\dagger$")


def to_latex(table: PaperTable) -> str:
    """A booktabs table: dataset groups over metric headers; reported, own-baseline and reproduced
    rows separated by rules; reproduced cells in the compact form 0.0665{\\scriptsize$\\pm$0.0012}."""
    groups = _groups(table)
    lines = [
        "% Requires \\usepackage{booktabs}",
        "\\begin{table}[t]",
        "\\centering",
        "\\caption{" + _tex(table.title) + ". " + _tex(legend(table)) + "}",
        f"\\label{{tab:{table.name}}}",
        "\\begin{tabular}{l" + "".join("r" * n for _, n in groups) + "}",
        "\\toprule",
    ]
    head, rules, start = [""], [], 2
    for dataset, n in groups:
        head.append(f"\\multicolumn{{{n}}}{{c}}{{{_tex(_dataset_header(table, dataset))}}}")
        rules.append(f"\\cmidrule(lr){{{start}-{start + n - 1}}}")
        start += n
    lines += [" & ".join(head) + " \\\\", " ".join(rules)]
    lines.append(" & ".join(["Model", *(_tex(_metric_header(table, c)) for c in table.columns)]) + " \\\\")
    lines.append("\\midrule")
    previous = None
    for row in table.rows:
        if previous is not None and row.kind != previous:
            lines.append("\\midrule")
        previous = row.kind
        cells = [format_cell(row.cells.get(c, Cell()), LATEX) for c in table.columns]
        lines.append(" & ".join([_tex(row.label), *cells]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    lines += [f"\\par\\footnotesize {_tex(n)}" for n in table.notes]
    lines.append("\\end{table}")
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
        "small{color:#555}p{max-width:60em;font-size:90%}</style></head><body>",
        f"<h3>{html.escape(table.title)}</h3><table><thead><tr><th></th>",
    ]
    out += [f"<th colspan='{n}' style='text-align:center'>{html.escape(_dataset_header(table, d))}</th>" for d, n in groups]
    out.append("</tr><tr><th>Model</th>")
    out += [f"<th>{html.escape(_metric_header(table, c))}</th>" for c in table.columns]
    out.append("</tr></thead><tbody>")
    previous = None
    for row in table.rows:
        sep = previous is not None and row.kind != previous
        previous = row.kind
        out.append(f"<tr{' class=sep' if sep else ''}><td>{html.escape(row.label)}</td>")
        for c in table.columns:
            cell = row.cells.get(c, Cell())
            text = format_cell(cell, HTML)
            title = (f" title='sd {cell.std:.4g}, 95% CI [{cell.ci_low:.4g}, {cell.ci_high:.4g}], n={cell.n}'"
                     if cell.n is not None else "")
            out.append(f"<td{title}>{text}</td>")
        out.append("</tr>")
    out.append(f"</tbody></table><p>{html.escape(legend(table))}</p>")
    out += [f"<p>{html.escape(n)}</p>" for n in table.notes]
    out.append("</body></html>")
    return "".join(out) + "\n"


def to_csv(table: PaperTable) -> str:
    """Wide CSV in the paper's layout with exact values: model, kind, method, then per
    dataset:task:metric the value, its 95% interval, n and the marks."""
    data: dict[str, list] = {
        "model": [r.label for r in table.rows],
        "kind": [r.kind for r in table.rows],
        "method": [r.method or "" for r in table.rows],
    }
    for c in table.columns:
        key = f"{c.dataset}:{c.task}:{c.metric}"
        cells = [r.cells.get(c, Cell()) for r in table.rows]
        data[key] = [cell.value for cell in cells]
        data[f"{key}:ci_low"] = [cell.ci_low for cell in cells]
        data[f"{key}:ci_high"] = [cell.ci_high for cell in cells]
        data[f"{key}:n"] = [cell.n if cell.n is not None else "" for cell in cells]
        data[f"{key}:marks"] = [
            ("best" if cell.bold else "second" if cell.underline else "") + "".join(cell.marks) for cell in cells
        ]
    return pd.DataFrame(data).to_csv(index=False)


def write_table(table: PaperTable, outputs: dict[str, str]) -> None:
    """Write the renderings named in ``outputs`` (markdown, latex, html, csv) atomically."""
    from peapod.io import write_text

    render = {"markdown": to_markdown, "latex": to_latex, "html": to_html, "csv": to_csv}
    for kind, path in outputs.items():
        write_text(render[kind](table), path)
