"""Fetching public inputs: only from a server on 127.0.0.1, never the internet."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import pytest

from peapod.fetch import FetchError, amazon_url, check_record, fetch_backbone, fetch_file, sha256_of
from tests.fetch_server import COMMIT, FakeServer, serve, write_tiny_checkpoint

# Twelve users, twelve items, six reviews each way round (a 5-core that leaves room for 5 negatives).
REVIEWS = gzip.compress(b"".join(
    json.dumps({"reviewerID": f"U{u}", "asin": f"I{(u + j) % 12}", "unixReviewTime": 1000 + 7 * u + j}).encode()
    + b"\n" for u in range(12) for j in range(6)))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("hub") / "t5-small")


@pytest.fixture
def server(checkpoint):
    fake = FakeServer(repos={"google-t5/t5-small": checkpoint}, files={"reviews_Beauty_5.json.gz": REVIEWS})
    httpd = serve(fake)
    yield fake
    httpd.shutdown()
    httpd.server_close()


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_file_is_fetched_verified_and_recorded(server, tmp_path):
    dest = tmp_path / "amazon" / "reviews_Beauty_5.json.gz"
    url = amazon_url(dest.name, f"{server.url}/amazon")
    digest = fetch_file(url, dest, sha256=sha256_of_bytes(REVIEWS))
    assert dest.read_bytes() == REVIEWS and digest == sha256_of(dest) == check_record(dest)
    assert leftovers(dest.parent) == ["reviews_Beauty_5.json.gz", "reviews_Beauty_5.json.gz.sha256"]
    # The record is sha256sum's format.
    check = subprocess.run(["sha256sum", "-c", dest.name + ".sha256"], cwd=dest.parent, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    dest.write_bytes(REVIEWS[:-1] + bytes([REVIEWS[-1] ^ 0xFF]))
    with pytest.raises(FetchError, match="does not match its record"):
        check_record(dest)


def sha256_of_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("damage", ["corrupt", "truncate", "pin"])
def test_damaged_or_unexpected_file_is_refused_and_nothing_kept(server, tmp_path, damage):
    dest = tmp_path / "amazon" / "reviews_Beauty_5.json.gz"
    pin = sha256_of_bytes(REVIEWS)
    if damage == "pin":
        pin = "0" * 64
    else:
        getattr(server, damage).add(dest.name)
    with pytest.raises(FetchError) as info:
        fetch_file(amazon_url(dest.name, f"{server.url}/amazon"), dest, sha256=pin)
    message = str(info.value)
    assert f"{server.url}/amazon/reviews_Beauty_5.json.gz" in message
    expected = {"corrupt": "not a complete gzip stream", "truncate": "broke off", "pin": "does not match the expected"}
    assert expected[damage] in message, message
    assert leftovers(dest.parent) == []  # no partial file, no record


def test_missing_file_names_the_url(server, tmp_path):
    with pytest.raises(FetchError, match=r"reviews_Toys_5\.json\.gz: HTTP 404"):
        fetch_file(amazon_url("reviews_Toys_5.json.gz", f"{server.url}/amazon"), tmp_path / "x.json.gz")


def test_backbone_is_fetched_from_the_hub_endpoint_and_loads_offline(server, tmp_path, monkeypatch):
    from peapod.generator.backbone import load_backbone
    from peapod.generator.config import GeneratorConfig

    monkeypatch.setenv("HF_ENDPOINT", server.url)  # as the Hub client does
    dest = tmp_path / "resources" / "models" / "t5-small"
    record = fetch_backbone("t5-small", dest)
    assert record["commit"] == COMMIT and record["endpoint"] == server.url
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(record["downloaded"])
    assert json.loads((dest / "fetched.json").read_text())["saved"]["model.safetensors"] == sha256_of(
        dest / "model.safetensors")
    assert "/api/models/google-t5/t5-small/revision/main" in server.requests
    assert leftovers(dest.parent) == ["t5-small"]
    model, tokenizer = load_backbone(GeneratorConfig.from_dict({"backbone": "t5-small"}), resources=tmp_path / "resources")
    assert model.config.d_model == 16 and tokenizer("user_3 bought").input_ids
    with pytest.raises(FileExistsError):
        fetch_backbone("t5-small", dest)


@pytest.mark.parametrize("damaged", ["model.safetensors", "config.json"])
def test_corrupted_checkpoint_file_is_refused(server, tmp_path, damaged):
    """LFS files are checked against the published SHA-256, small files against their git blob id."""
    server.corrupt.add(damaged)
    dest = tmp_path / "models" / "t5-small"
    with pytest.raises(FetchError, match=f"{damaged}: (SHA-256|git blob SHA-1) .* does not match"):
        fetch_backbone("t5-small", dest, endpoint=server.url)
    assert leftovers(dest.parent) == []


def test_unknown_backbone_and_missing_repo(server, tmp_path):
    with pytest.raises(ValueError, match="no Hub repository known for backbone 'tiny'"):
        fetch_backbone("tiny", tmp_path / "tiny", endpoint=server.url)
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_backbone("t5-base", tmp_path / "t5-base", endpoint=server.url)
    assert leftovers(tmp_path) == []


# --- The fetch rules in the workflow --------------------------------------------------------------

AMAZON_CONFIG = """
datasets:
  beauty:
    source: amazon_reviews
    path: resources/amazon/reviews_Beauty_5.json.gz
{pin}
seeds: [0]
preprocess: {{n_negatives: 5}}
embeddings: {{models: [pmf], dim: 8}}
generator: {{backbone: t5-small}}
variants: {{pod: {{user_prompt: none}}}}
aggregate: {{default_variant: pod, baseline_variant: pod}}
"""


def fetch_workflow(tmp_path: Path, server: FakeServer | None, download: bool, pin: str | None = None) -> Path:
    from tests.workflow_helpers import workflow_copy

    work = workflow_copy(tmp_path)
    text = AMAZON_CONFIG.format(pin=f"    sha256: '{pin}'" if pin else "")
    text += f"download: {str(download).lower()}\n"
    if server is not None:
        text += f"downloads: {{amazon_url: {server.url}/amazon}}\n"
    (work / "fetch.yaml").write_text(text)
    return work


def snakemake(work: Path, *args: str, hub: str | None = None) -> subprocess.CompletedProcess:
    import os
    import sys

    env = {**os.environ, **({"HF_ENDPOINT": hub} if hub else {})}
    return subprocess.run([sys.executable, "-m", "snakemake", "--configfile", "fetch.yaml", *args], cwd=work,
                          capture_output=True, text=True, timeout=300, env=env)


def test_offline_default_says_what_to_fetch(tmp_path):
    proc = snakemake(fetch_workflow(tmp_path, None, download=False), "-n")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert ("resources/amazon/reviews_Beauty_5.json.gz does not exist, and nothing is downloaded (download: false). "
            "Fetch the raw Amazon 2014 5-core reviews from "
            "http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/reviews_Beauty_5.json.gz") in out, out[-3000:]


def test_fetch_rules_get_reviews_and_backbone_from_the_local_server(server, tmp_path):
    work = fetch_workflow(tmp_path, server, download=True, pin=sha256_of_bytes(REVIEWS))
    dry = snakemake(work, "-n", "--cores", "1", hub=server.url)
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]
    assert "rule fetch_backbone:" in dry.stdout and "rule fetch_amazon_reviews:" in dry.stdout
    proc = snakemake(work, "--cores", "1", "resources/models/t5-small", "results/beauty/data/stats.json",
                     hub=server.url)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert check_record(work / "resources" / "amazon" / "reviews_Beauty_5.json.gz") == sha256_of_bytes(REVIEWS)
    assert json.loads((work / "results" / "beauty" / "data" / "stats.json").read_text())["users"] == 12
    fetched = json.loads((work / "resources" / "models" / "t5-small" / "fetched.json").read_text())
    assert fetched["endpoint"] == server.url and fetched["commit"] == COMMIT
    # Fetched once: the training jobs now find everything in place.
    again = snakemake(work, "-n", "--cores", "1", hub=server.url)
    assert "rule fetch_" not in again.stdout and "train_generator" in again.stdout, again.stdout[-3000:]


def test_fetch_rule_refuses_a_file_that_does_not_match_its_pin(server, tmp_path):
    work = fetch_workflow(tmp_path, server, download=True, pin="0" * 64)
    proc = snakemake(work, "--cores", "1", "results/beauty/data/stats.json")
    assert proc.returncode != 0
    log = (work / "results" / "logs" / "fetch_amazon_reviews_Beauty.log").read_text()
    assert f"{server.url}/amazon/reviews_Beauty_5.json.gz: SHA-256" in log and "does not match the expected" in log
    assert leftovers(work / "resources" / "amazon") == []
