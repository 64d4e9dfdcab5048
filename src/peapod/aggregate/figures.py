"""Ablation figures (matplotlib, PNG and PDF): one panel per dataset x metric, error bars from seeds.

The x axis comes from each variant's resolved settings (peapod.aggregate.settings.ABLATION_AXES):
task prompts on/off, neighbours, heads with the MLP user prompt drawn at 0, prompt length, CF model.
Points are seed means; error bars the 95% Student-t confidence interval over seeds (none for n < 2).
The default variant is drawn filled black.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import pandas as pd  # noqa: E402

from peapod.aggregate.methods import HEADLINE_METRICS  # noqa: E402
from peapod.aggregate.settings import ABLATION_AXES  # noqa: E402
from peapod.aggregate.table_layout import METRIC_LABELS, TASK_LABELS  # noqa: E402
from peapod.embeddings.registry import SOURCE_LABELS, SOURCES  # noqa: E402
from peapod.io import atomic_path  # noqa: E402

FIGURE_METRICS = list(HEADLINE_METRICS)
CATEGORY_ORDER = {
    "task_prompt": ["without", "with"],
    "cf_model": list(SOURCES),
    "backbone": ["tiny", "t5-small", "t5-base"],
}
CATEGORY_LABELS = {**SOURCE_LABELS, "with": "with", "without": "without"}


def save_figure(fig, outputs: Sequence[str]) -> None:
    """Write ``fig`` to every path of ``outputs`` (format from the suffix), each atomically and
    without a creation date, so that the same data gives the same bytes; then close it."""
    for path in outputs:
        fmt = Path(path).suffix.lstrip(".")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=150, format=fmt, metadata={"CreationDate": None} if fmt == "pdf" else None)
    plt.close(fig)


def ablation_points(
    summary: pd.DataFrame, settings: pd.DataFrame, ablation: str, variants: Sequence[str], datasets: Sequence[str],
    method: str = "beam",
) -> pd.DataFrame:
    """Summary rows of the ablation's variants (test split, one method) with the x value from settings."""
    x = ABLATION_AXES[ablation]["x"]
    s = summary[
        (summary["split"] == "test") & (summary["method"] == method)
        & summary["variant"].isin(variants) & summary["dataset"].isin(datasets)
    ]
    s = s.merge(settings[["dataset", "variant", x]].rename(columns={x: "x"}), on=["dataset", "variant"], how="left")
    if ABLATION_AXES[ablation]["kind"] == "line":
        s = s[s["x"].notna()]
    return s


def plot_ablation(
    summary: pd.DataFrame, settings: pd.DataFrame, ablation: str, variants: Sequence[str], datasets: Sequence[str],
    default_variant: str, outputs: Sequence[str], metrics: Sequence[tuple[str, str]] = FIGURE_METRICS,
) -> pd.DataFrame:
    """Draw the ablation figure into every path of ``outputs`` (format from the suffix); return its data."""
    axis = ABLATION_AXES[ablation]
    data = ablation_points(summary, settings, ablation, variants, datasets)
    metrics = [m for m in metrics if ((data["task"] == m[0]) & (data["metric"] == m[1])).any()] or list(metrics[:2])
    nrow, ncol = max(1, len(datasets)), len(metrics)
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.3 * ncol + 0.6, 2.0 * nrow + 0.8), squeeze=False)
    for i, dataset in enumerate(datasets):
        for j, (task, metric) in enumerate(metrics):
            ax = axes[i][j]
            d = data[(data["dataset"] == dataset) & (data["task"] == task) & (data["metric"] == metric)]
            _panel(ax, d, axis, default_variant)
            if i == 0:
                ax.set_title(f"{TASK_LABELS.get(task, task)} {METRIC_LABELS.get(metric, metric)}", fontsize=9)
            if j == 0:
                ax.set_ylabel(dataset.replace("_", " ").title(), fontsize=9)
            if i == nrow - 1:
                ax.set_xlabel(axis["label"], fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(axis="y", alpha=0.3)
    ns = sorted(set(int(n) for n in data["n_seeds"])) if len(data) else [0]
    n_text = f"n = {ns[0]}" if len(ns) == 1 else f"n = {ns[0]}–{ns[-1]}"
    fig.suptitle(f"Ablation: {axis['label']} (mean over seeds, 95% CI, {n_text}; black = default)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, outputs)
    return data


def _panel(ax, d: pd.DataFrame, axis: dict, default_variant: str) -> None:
    if d.empty:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, fontsize=8, color="grey")
        ax.set_xticks([])
        return
    err_low = (d["mean"] - d["ci_low"]).fillna(0).clip(lower=0)
    err_high = (d["ci_high"] - d["mean"]).fillna(0).clip(lower=0)
    is_default = (d["variant"] == default_variant).to_numpy()
    if axis["kind"] == "line":
        d = d.assign(err_low=err_low, err_high=err_high, is_default=is_default).sort_values("x")
        values = sorted(set(d["x"].astype(float)))
        ordinal = axis.get("spacing") == "ordinal"
        position = {v: (k if ordinal else v) for k, v in enumerate(values)}
        d = d.assign(pos=[position[float(v)] for v in d["x"]])
        ax.errorbar(d["pos"], d["mean"], yerr=[d["err_low"], d["err_high"]], marker="o", ms=4, capsize=3, lw=1.2, color="tab:blue")
        dd = d[d["is_default"]]
        ax.plot(dd["pos"], dd["mean"], "o", ms=6, color="black", zorder=3)
        ax.set_xticks([position[v] for v in values])
        ax.set_xticklabels(["MLP" if axis["x"] == "heads_axis" and v == 0 else f"{v:g}" for v in values])
    else:
        order = CATEGORY_ORDER.get(axis["x"], [])
        cats = sorted(set(d["x"]), key=lambda c: (order.index(c) if c in order else len(order), str(c)))
        pos = {c: k for k, c in enumerate(cats)}
        d = d.assign(err_low=err_low, err_high=err_high, is_default=is_default)
        colors = ["black" if flag else "tab:blue" for flag in d["is_default"]]
        ax.bar([pos[c] for c in d["x"]], d["mean"], yerr=[d["err_low"], d["err_high"]], capsize=3, color=colors, alpha=0.8, width=0.6)
        ax.set_xticks(range(len(cats)))
        ax.set_xticklabels([CATEGORY_LABELS.get(c, str(c)) for c in cats])
    lo = (d["mean"] - d["err_low"]).min()
    hi = (d["mean"] + d["err_high"]).max()
    if axis["kind"] == "line" and not math.isnan(lo) and hi > lo:
        pad = 0.1 * (hi - lo)
        ax.set_ylim(lo - pad, hi + pad)


# ----------------------------------------------------------------------------------------------
# Reproduced versus reported

PAPER_MARKERS = {"peapod_cup": "o", "peapod_pd": "s", "pod": "^"}


def plot_reproduction(verdicts: pd.DataFrame, outputs: Sequence[str], reference: str) -> None:
    """Reproduced mean (y, with its 95% interval) against the reported value (x), one point per
    verdict row, one panel per task, the diagonal drawn. With no row the figure says so."""
    tasks = [t for t in ("sequential", "topn", "explanation") if (verdicts["task"] == t).any()] if len(verdicts) else []
    fig, axes = plt.subplots(1, max(1, len(tasks)), figsize=(4.0 * max(1, len(tasks)) + 0.6, 4.2), squeeze=False)
    if not tasks:
        ax = axes[0][0]
        ax.text(0.5, 0.5, "No reported cell matches a configured dataset and variant:\nnothing to compare "
                "(the datasets run here are not the papers').", ha="center", va="center", transform=ax.transAxes, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    variants = sorted(set(verdicts["variant"])) if len(verdicts) else []
    colors = {v: plt.cm.tab10(i % 10) for i, v in enumerate(variants)}
    for ax, task in zip(axes[0], tasks):
        d = verdicts[verdicts["task"] == task]
        for (paper, variant), g in d.groupby(["paper", "variant"], sort=True):
            low = (g["mean"] - g["ci_low"]).fillna(0).clip(lower=0)
            high = (g["ci_high"] - g["mean"]).fillna(0).clip(lower=0)
            ax.errorbar(g["reported"], g["mean"], yerr=[low, high], fmt=PAPER_MARKERS.get(paper, "o"), ms=4,
                        capsize=2, lw=0.8, color=colors[variant], alpha=0.85,
                        mfc="none" if paper != reference else colors[variant], label=f"{variant} vs {paper}")
        lo = min(d["reported"].min(), d["ci_low"].min(skipna=True), d["mean"].min())
        hi = max(d["reported"].max(), d["ci_high"].max(skipna=True), d["mean"].max())
        pad = 0.05 * (hi - lo) if hi > lo else 0.01
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="grey", lw=0.8, ls="--", zorder=0)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_title(f"{task} ({len(d)} cells)", fontsize=9)
        ax.set_xlabel("reported", fontsize=8)
        ax.set_ylabel("ours (mean, 95% CI)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="upper left")
    fig.suptitle(f"Reproduced versus reported (filled: {reference}, the reference; diagonal: equal)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, outputs)


# The learning curves' panels: train_log.csv columns (peapod.generator.train) and their titles.
CURVE_PANELS = (
    ("valid_loss_mean", "validation loss (mean over tasks)"),
    ("valid_hr10_sequential_beam", "sequential HR@10, free beam"),
    ("valid_hr10_topn_beam", "top-n HR@10, free beam"),
    ("valid_hr10_topn_scoring", "top-n HR@10, exact scoring"),
    ("valid_topn_beam_in_candidates", "top-n beams inside the candidates"),
)


def read_train_logs(logs: dict[tuple[str, int], str | Path]) -> pd.DataFrame:
    """The train_log.csv of every (variant, seed), stacked with those two columns."""
    frames = []
    for (variant, seed), path in sorted(logs.items()):
        frame = pd.read_csv(path)
        frame.insert(0, "seed", int(seed))
        frame.insert(0, "variant", variant)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["variant", "seed", "epoch"])


def curve_means(curves: pd.DataFrame, column: str) -> pd.DataFrame:
    """variant, epoch, the seed mean of ``column`` and the seeds behind it (a run that stopped
    early contributes to its epochs only)."""
    runs = curves[curves[column].notna()]
    grouped = runs.groupby(["variant", "epoch"], sort=True)[column]
    return pd.concat([grouped.mean(), grouped.size().rename("seeds")], axis=1).reset_index()


def plot_learning_curves(curves: pd.DataFrame, dataset: str, outputs: Sequence[str]) -> None:
    """One panel per CURVE_PANELS column the logs carry: each variant's seed mean per epoch (a line),
    every seed faint behind it. A run logged by a version without the learning check has none of
    those columns; a panel with no value says so instead of staying silently empty."""
    fig, axes = plt.subplots(1, len(CURVE_PANELS), figsize=(3.4 * len(CURVE_PANELS), 3.0), squeeze=False)
    variants = list(dict.fromkeys(curves["variant"]))
    colors = {v: plt.get_cmap("tab10")(i % 10) for i, v in enumerate(variants)}
    for ax, (column, title) in zip(axes[0], CURVE_PANELS):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=7)
        if column not in curves or curves[column].isna().all():
            ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes, fontsize=8)
            continue
        means = curve_means(curves, column)
        for variant in variants:
            runs = curves[(curves["variant"] == variant) & curves[column].notna()]
            for _, seed_run in runs.groupby("seed"):
                ax.plot(seed_run["epoch"], seed_run[column], color=colors[variant], alpha=0.25, linewidth=0.8)
            mean = means[means["variant"] == variant]
            ax.plot(mean["epoch"], mean[column], color=colors[variant], marker="o", markersize=3, label=variant)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{dataset}: learning curves on the fixed validation users (lines: seed means)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, outputs)
