"""Adapter: every planned run's per-user results -> paired tests over users (see peapod.aggregate.pipeline)."""

from peapod.aggregate.pipeline import expected_run_paths, test_users
from peapod.logs import run_logged
from peapod.paths import run_file


def main(smk, log):
    config = dict(smk.params.config)
    test_users(config, expected_run_paths(config, pattern=run_file("per_user.parquet")), smk.output.tests)


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
