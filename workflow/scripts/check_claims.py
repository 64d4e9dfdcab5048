"""Adapter: the papers' claims checked against our runs (see peapod.aggregate.pipeline)."""

from peapod.aggregate.pipeline import check_claims
from peapod.logs import run_logged


def main(smk, log):
    check_claims(dict(smk.params.config), smk.input.metrics, dict(smk.output.items()))


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
