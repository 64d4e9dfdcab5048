"""Adapter: one ablation figure as PNG and PDF (see peapod.aggregate.pipeline)."""

from peapod.aggregate.pipeline import plot_ablation
from peapod.logs import run_logged


def main(smk, log):
    plot_ablation(dict(smk.params.config), smk.wildcards.ablation, smk.input.summary, [smk.output.png, smk.output.pdf])


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
