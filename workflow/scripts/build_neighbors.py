"""Adapter: exact cosine top-k neighbours of every user (see peapod.neighbors)."""

from peapod.logs import run_logged
from peapod.neighbors import build_neighbors_stage


def main(smk, log):
    build_neighbors_stage(smk.input.embeddings, smk.output.neighbors, k=smk.params.k, block_mib=smk.params.block_mib)


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
