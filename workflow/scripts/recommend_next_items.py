"""Adapter: the top-k next items of a finished run's users (see peapod.evaluation.recommend)."""

import torch

from peapod.data.tables import declared_tables
from peapod.devices import claim_from_config
from peapod.evaluation.recommend import RecommendSettings, write_recommendations
from peapod.generator.checkpoint import MODEL_FILES
from peapod.generator.collab import declared_cf_files
from peapod.logs import run_logged


def main(smk, log):
    torch.set_num_threads(max(1, smk.threads))
    with claim_from_config(smk.config) as claim:  # one job per GPU (see peapod.devices)
        write_recommendations(
            run={role: smk.input[role] for role in MODEL_FILES},
            tables=declared_tables(smk.input),
            templates_path=smk.input.templates,
            settings=RecommendSettings(**smk.params.settings),
            outputs=dict(smk.output.items()),
            users_path=smk.input.get("users"),
            device=claim.device,
            cf_files=declared_cf_files(smk.input),
        )


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
