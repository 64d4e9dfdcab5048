"""Adapter: most-popular and the CF models' own ranking on one dataset's data (see peapod.aggregate.pipeline)."""

from peapod.aggregate.pipeline import compute_baselines
from peapod.logs import run_logged


def main(smk, log):
    cf_metrics = {name[len("cf_"):]: path for name, path in smk.input.items() if name.startswith("cf_")}
    compute_baselines(smk.wildcards.dataset, smk.input.sequences_table, smk.input.candidates_table, cf_metrics, smk.output.metrics)


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
