"""Adapter: t-tests against the reported numbers and between variants (see peapod.aggregate.pipeline)."""

from peapod.aggregate.pipeline import test_significance
from peapod.logs import run_logged


def main(smk, log):
    test_significance(dict(smk.params.config), smk.input.metrics, smk.input.reported, dict(smk.output.items()),
                      list(smk.input.baselines))


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
