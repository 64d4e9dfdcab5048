"""Adapter: write the synthetic demo dataset in P5 format (see peapod.data.demo)."""

from pathlib import Path

from peapod.data.demo import DemoConfig, write_demo_dataset
from peapod.logs import run_logged


def main(smk, log):
    cfg = DemoConfig(**smk.params.demo, n_negatives=smk.params.n_negatives)
    paths = write_demo_dataset(cfg, Path(smk.output.sequences).parent)
    log.info("demo dataset %s written with %s: %s", smk.wildcards.dataset, cfg, sorted(map(str, paths.values())))


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
