"""Adapter: a recommendation request's request.json (see peapod.evaluation.recommend_request)."""

from peapod.evaluation.recommend_request import check_files, stamped
from peapod.io import write_json
from peapod.logs import run_logged


def main(smk, log):
    record = dict(smk.params.record)
    check_files(record)
    write_json(stamped(record), smk.output.record)
    log.info("request %s of %s recorded", record["request"], record["dataset"])


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
