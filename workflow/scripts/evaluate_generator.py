"""Adapter: evaluate one trained run on the three tasks (see peapod.evaluation.evaluate)."""

from pathlib import Path

import torch

from peapod.devices import claim_from_config
from peapod.evaluation.evaluate import EvalSettings, evaluate_run_directory
from peapod.logs import run_logged


def main(smk, log):
    torch.set_num_threads(max(1, smk.threads))
    with claim_from_config(smk.config) as claim:  # one job per GPU (see peapod.devices)
        evaluate(smk, claim.device)


def evaluate(smk, device):
    evaluate_run_directory(
        run_dir=Path(smk.input.model).parent,
        data_dir=Path(smk.input.sequences).parent,
        templates_path=smk.input.templates,
        settings=EvalSettings(**smk.params.evaluation),
        outputs=dict(smk.output.items()),
        cf_files=(smk.input.embeddings, smk.input.neighbors) if "embeddings" in smk.input.keys() else None,
        device=device,
    )


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
