"""Adapter: train one RecBole baseline on one dataset and seed (see peapod.baselines.stage)."""

from peapod.baselines.stage import run_baseline
from peapod.data.tables import declared_tables
from peapod.logs import run_logged


def main(smk, log):
    import torch

    torch.set_num_threads(max(1, smk.threads))
    run_baseline(
        dataset=smk.wildcards.dataset,
        model=smk.wildcards.baseline,
        seed=int(smk.wildcards.seed),
        tables=declared_tables(smk.input),
        settings=dict(smk.params.settings),
        outputs={"metrics": smk.output.metrics, "per_user": smk.output.per_user, "run": smk.output.run},
    )


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
