"""Adapter: every planned run's metrics -> tidy table, seed summary, missing runs (see peapod.aggregate.pipeline)."""

from peapod.aggregate.pipeline import collect_metrics, expected_run_paths
from peapod.logs import run_logged


def main(smk, log):
    config = dict(smk.params.config)
    collect_metrics(config, expected_run_paths(config), dict(smk.output.items()))


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
