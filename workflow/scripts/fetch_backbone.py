"""Adapter: fetch a T5 backbone from the Hugging Face Hub into resources/models/ (download: true only)."""

from peapod.fetch import fetch_backbone, require_download
from peapod.logs import run_logged


def main(smk, log):
    downloads = require_download(smk.config, smk.output.model)
    record = fetch_backbone(smk.wildcards.backbone, smk.output.model, endpoint=downloads.get("hub_endpoint"),
                            revision=downloads.get("hub_revision", "main"))
    log.info("%s: %s at commit %s, files %s", smk.output.model, record["repo"], record["commit"],
             {name: f["sha256"] for name, f in record["downloaded"].items()})


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
