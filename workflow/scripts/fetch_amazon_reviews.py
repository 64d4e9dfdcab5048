"""Adapter: fetch one raw Amazon 2014 5-core review file into resources/amazon/ (download: true only)."""

from pathlib import Path

from peapod.fetch import amazon_url, fetch_file, pinned_sha256, require_download
from peapod.logs import run_logged


def main(smk, log):
    downloads = require_download(smk.config, smk.output.reviews)
    url = amazon_url(Path(smk.output.reviews).name, downloads.get("amazon_url"))
    pin = pinned_sha256(smk.config["datasets"], smk.output.reviews)
    digest = fetch_file(url, smk.output.reviews, sha256=pin)
    log.info("%s: sha256 %s recorded in %s", smk.output.reviews, digest, smk.output.checksum)


run_logged(snakemake, main)  # noqa: F821 (injected by Snakemake)
