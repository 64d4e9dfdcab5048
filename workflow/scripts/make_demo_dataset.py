"""Adapter: write the synthetic demo dataset in P5 format (see peapod.data.demo)."""

from peapod.data.demo import DEMO_FILES, DemoConfig, write_demo_files
from peapod.logs import run_logged


def main(smk, log):
    cfg = DemoConfig(**smk.params.demo, n_negatives=smk.params.n_negatives)
    paths = {role: smk.output[role] for role in DEMO_FILES}
    write_demo_files(cfg, paths)
    log.info("demo dataset %s written with %s: %s", smk.wildcards.dataset, cfg, sorted(paths.values()))


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
