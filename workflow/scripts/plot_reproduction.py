"""Adapter: the reproduced-versus-reported figure as PNG and PDF (see peapod.aggregate.pipeline)."""

from peapod.aggregate.pipeline import plot_reproduction
from peapod.logs import run_logged


def main(smk, log):
    plot_reproduction(dict(smk.params.config), smk.input.verdicts, [smk.output.png, smk.output.pdf])


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
