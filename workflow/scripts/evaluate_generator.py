"""Adapter: evaluate one trained run on the three tasks (see peapod.evaluation.evaluate)."""

import torch

from peapod.devices import claim_from_config
from peapod.evaluation.inputs import EvalSettings
from peapod.evaluation.stage import evaluate_run_files
from peapod.generator.checkpoint import MODEL_FILES
from peapod.generator.collab import declared_cf_files
from peapod.data.tables import declared_tables
from peapod.logs import run_logged


def main(smk, log):
    torch.set_num_threads(max(1, smk.threads))
    with claim_from_config(smk.config) as claim:  # one job per GPU (see peapod.devices)
        evaluate(smk, claim.device)


def evaluate(smk, device):
    evaluate_run_files(
        run={role: smk.input[role] for role in (*MODEL_FILES, "run")},
        tables=declared_tables(smk.input),
        templates_path=smk.input.templates,
        settings=EvalSettings(**smk.params.evaluation),
        outputs=dict(smk.output.items()),
        cf_files=declared_cf_files(smk.input),
        device=device,
    )


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
