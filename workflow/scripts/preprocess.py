"""Adapter: read one dataset's raw files and write its Parquet tables (see peapod.data.preprocess)."""

from peapod.data.preprocess import preprocess_dataset
from peapod.data.tables import TABLE_NAMES
from peapod.logs import run_logged


def main(smk, log):
    preprocess_dataset(
        name=smk.wildcards.dataset,
        spec=dict(smk.params.spec),
        inputs=dict(smk.input.items()),
        outputs={name: smk.output[f"{name}_table"] for name in TABLE_NAMES} | {"stats": smk.output.stats},
        n_negatives=smk.params.n_negatives,
        negative_seed=smk.params.negative_seed,
    )


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
