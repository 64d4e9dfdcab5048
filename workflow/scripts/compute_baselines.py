"""Adapter: the baseline rows of one dataset: most popular, the id-order probes, the CF models' own
ranking and the trained baselines' seeds, on the users the runs were evaluated on (see
peapod.aggregate.pipeline)."""

from peapod.aggregate.pipeline import compute_baselines
from peapod.logs import run_logged


def main(smk, log):
    cf_metrics = {name[len("cf_"):]: path for name, path in smk.input.items() if name.startswith("cf_")}
    runs = {}
    for name, path in smk.input.items():
        if name.startswith("run_"):  # run_<model>_seed<seed>
            model, seed = name[len("run_"):].rsplit("_seed", 1)
            runs[model, int(seed)] = path
    compute_baselines(smk.wildcards.dataset, smk.input.sequences_table, smk.input.candidates_table, cf_metrics,
                      smk.output.metrics, runs, dict(smk.params.evaluation))


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
