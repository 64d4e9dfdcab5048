"""Adapter: one dataset's learning curves (every run's train_log.csv) as PNG and PDF."""

from peapod.aggregate.figures import plot_learning_curves, read_train_logs
from peapod.logs import run_logged


def main(smk, log):
    logs = {(variant, int(seed)): path for (variant, seed), path in zip(smk.params.runs, smk.input.logs)}
    plot_learning_curves(read_train_logs(logs), smk.wildcards.dataset, [smk.output.png, smk.output.pdf])


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
