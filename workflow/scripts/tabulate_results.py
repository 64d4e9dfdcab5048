"""Adapter: one of the paper's tables as Markdown, LaTeX, CSV and HTML (see peapod.aggregate.pipeline)."""

from peapod.aggregate.pipeline import tabulate_results
from peapod.logs import run_logged


def main(smk, log):
    tabulate_results(
        dict(smk.params.config),
        smk.wildcards.table,
        smk.input.summary,
        smk.input.reported,
        smk.input.vs_reported,
        smk.input.paired,
        list(smk.input.baselines),
        dict(smk.output.items()),
    )


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
