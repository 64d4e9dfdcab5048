"""Adapter: train one generator run (dataset, variant, seed); see peapod.generator.train."""

from pathlib import Path

import torch

from peapod.devices import claim_from_config
from peapod.generator.config import GeneratorConfig
from peapod.generator.train import LoopSettings, load_item_factors, load_run_inputs, train_generator
from peapod.data.tables import declared_tables
from peapod.logs import run_logged


def main(smk, log):
    torch.set_num_threads(max(1, smk.threads))
    with claim_from_config(smk.config) as claim:  # one job per GPU (see peapod.devices)
        train(smk, log, claim.device)


def train(smk, log, device):
    cfg = GeneratorConfig.from_dict(dict(smk.params.generator))
    data, templates, collab, cf_source = load_run_inputs(
        cfg,
        tables=declared_tables(smk.input),
        templates_path=smk.input.templates,
        embeddings=smk.input.get("embeddings"),
        neighbors=smk.input.get("neighbors"),
    )
    # Watching is read from the config at run time, not a rule parameter: switching it reruns nothing.
    monitoring = smk.config.get("monitoring") or {}
    tensorboard_every = int(monitoring.get("tensorboard_every_steps", 50)) if monitoring.get("tensorboard") else 0
    # Likewise the batch-building processes: a speed setting, the same batches.
    loop = LoopSettings(loader_workers=int((smk.config.get("devices") or {}).get("loader_workers", 0)),
                        tensorboard_every_steps=tensorboard_every, scoring_memory_mib=smk.params.scoring_memory_mib)
    # The run writes its declared outputs, and its resumable state while it trains, in one directory.
    summary = train_generator(cfg, data, templates, seed=smk.params.seed, run_dir=Path(smk.output.model).parent,
                              collab=collab, cf_source=cf_source, device=device, loop=loop,
                              item_factors=load_item_factors(cfg, smk.input.get("item_embeddings")))
    log.info("run %s/%s seed %s done: %s", smk.wildcards.dataset, smk.wildcards.variant, smk.params.seed,
             {k: summary[k] for k in ("best_epoch", "best_valid_loss", "stop_reason", "train_seconds")})


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
