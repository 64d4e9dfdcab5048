"""Adapter: generated explanations of given (user, item) pairs (see peapod.evaluation.recommend)."""

import torch

from peapod.data.tables import declared_tables
from peapod.devices import claim_from_config
from peapod.evaluation.evaluate import EvalSettings
from peapod.evaluation.recommend import write_explanations
from peapod.generator.checkpoint import MODEL_FILES
from peapod.generator.collab import declared_cf_files
from peapod.logs import run_logged


def main(smk, log):
    torch.set_num_threads(max(1, smk.threads))
    with claim_from_config(smk.config) as claim:  # one job per GPU (see peapod.devices)
        write_explanations(
            run={role: smk.input[role] for role in MODEL_FILES},
            tables=declared_tables(smk.input),
            templates_path=smk.input.templates,
            settings=EvalSettings(**smk.params.evaluation),
            pairs_path=smk.input.pairs,
            outputs=dict(smk.output.items()),
            device=claim.device,
            cf_files=declared_cf_files(smk.input),
        )


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
