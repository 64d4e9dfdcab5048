"""Adapter: fit (or load) one source's user embeddings and its top-n metrics (see peapod.embeddings.stage)."""

from peapod.embeddings.stage import train_embeddings
from peapod.data.tables import declared_tables
from peapod.logs import run_logged


def main(smk, log):
    train_embeddings(
        dataset=smk.wildcards.dataset,
        cf_model=smk.wildcards.cf_model,
        tables=declared_tables(smk.input),
        outputs={"embeddings": smk.output.embeddings, "item_embeddings": smk.output.item_embeddings,
                 "metrics": smk.output.metrics},
        config=dict(smk.params.settings),
    )


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
