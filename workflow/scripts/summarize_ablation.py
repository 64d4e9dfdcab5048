"""Adapter: one ablation's runs -> its seed summary, missing runs, paired tests over seeds and over
users (see peapod.aggregate.pipeline)."""

from peapod.aggregate.pipeline import expected_run_paths, summarize_ablation
from peapod.logs import run_logged
from peapod.paths import run_file


def main(smk, log):
    config = dict(smk.params.config)
    ablation = smk.wildcards.ablation
    summarize_ablation(config, ablation, expected_run_paths(config, ablation=ablation), dict(smk.output.items()),
                       expected_run_paths(config, ablation=ablation, pattern=run_file("per_user.parquet")))


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
