"""Adapter: the dataset statistics table (the paper's Table 2 columns) as CSV and Markdown."""

import json

from peapod.data.tables import statistics_table
from peapod.formatting import markdown_table
from peapod.io import write_text
from peapod.logs import run_logged


def main(smk, log):
    stats = [json.loads(open(path, encoding="utf-8").read()) for path in smk.input]
    table = statistics_table(stats)
    write_text(table.to_csv(index=False), smk.output.csv)
    write_text(markdown_table(table), smk.output.markdown)
    log.info("statistics of %d dataset(s) written", len(stats))


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
