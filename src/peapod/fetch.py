"""Fetching what is public, on request (``download: true``): T5 checkpoints and raw Amazon reviews.

Nothing here runs unless the config allows downloads; the default workflow stays offline.

- Every file is streamed to a hidden ``.<name>.<pid>.part`` beside its destination, checked, and
  only then renamed into place, so a partial or corrupted download never looks complete (and the
  part file is removed on any failure).
- Checks: the byte count against ``Content-Length``; the SHA-256 against a pinned value when one is
  given; for the Hugging Face Hub, each file against the digest the Hub publishes for it (the
  SHA-256 of LFS files such as ``model.safetensors``, the git blob SHA-1 of small files), from the
  repository listing at one commit; ``.gz`` files are decompressed once to check their CRC.
- What was fetched is recorded: ``<file>.sha256`` (``sha256sum -c`` format) beside a fetched file,
  ``fetched.json`` (source, commit, every file's size and SHA-256) inside a fetched model directory.

The Hub is reached with plain HTTP GETs of its public endpoints (``/api/models/<repo>/revision/<rev>``
for the listing with digests, ``/<repo>/resolve/<commit>/<file>`` for the files) under an endpoint
that defaults to ``$HF_ENDPOINT`` or https://huggingface.co, the same variable the Hub client honours.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import logging
import os
import re
import shutil
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

log = logging.getLogger(__name__)

HUB_ENDPOINT = "https://huggingface.co"
# The Hub repositories of the backbones that can be fetched (peapod.generator.backbone reads them).
HUB_REPOS = {"t5-small": "google-t5/t5-small", "t5-base": "google-t5/t5-base"}
# Raw Amazon 2014 5-core review files (McAuley et al.): <url>/reviews_<Category>_5.json.gz
AMAZON_2014_URL = "http://snap.stanford.edu/data/amazon/productGraph/categoryFiles"
# Files of a Hub checkpoint that from_pretrained needs (the rest, e.g. TF/Flax weights, is skipped).
CHECKPOINT_FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                    "spiece.model", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json")
CHUNK = 1 << 20


class FetchError(RuntimeError):
    """A download that failed or did not verify; the message names the URL or file and the problem."""


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch and the digests it must match (None: not published / not pinned)."""

    name: str
    url: str
    size: int | None = None
    sha256: str | None = None
    git_sha1: str | None = None


def hub_endpoint(configured: str | None = None) -> str:
    return (configured or os.environ.get("HF_ENDPOINT") or HUB_ENDPOINT).rstrip("/")


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def git_blob_sha1(path: str | Path) -> str:
    """The git object id of a file's contents (what the Hub publishes for non-LFS files)."""
    path = Path(path)
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _get(url: str, timeout: float):
    request = urllib.request.Request(url, headers={"User-Agent": "peapod-repro"})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise FetchError(f"{url}: {getattr(exc, 'reason', exc)}") from None


def _check_gzip(path: Path, url: str) -> None:
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(CHUNK):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        raise FetchError(f"{url}: the downloaded file is not a complete gzip stream ({exc})") from None


def verify(path: Path, remote: RemoteFile) -> str:
    """The file's SHA-256 after checking size and every known digest; FetchError on a mismatch."""
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        raise FetchError(f"{remote.url}: got {size} bytes, expected {remote.size}")
    sha256 = sha256_of(path)
    if remote.sha256 is not None and sha256 != remote.sha256.lower():
        raise FetchError(f"{remote.url}: SHA-256 {sha256} does not match the expected {remote.sha256} "
                         "(corrupted or changed file); nothing was kept")
    if remote.git_sha1 is not None and git_blob_sha1(path) != remote.git_sha1.lower():
        raise FetchError(f"{remote.url}: git blob SHA-1 {git_blob_sha1(path)} does not match the published "
                         f"{remote.git_sha1} (corrupted or changed file); nothing was kept")
    return sha256


def download(remote: RemoteFile, dest: str | Path, timeout: float = 60.0) -> str:
    """Fetch ``remote`` to ``dest`` atomically; returns its SHA-256. ``dest`` appears only when complete
    and verified."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    try:
        with _get(remote.url, timeout) as response, open(part, "wb") as out:
            length = response.headers.get("Content-Length")
            received = 0
            try:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    received += len(chunk)
            except (OSError, http.client.HTTPException) as exc:  # e.g. IncompleteRead, reset
                raise FetchError(f"{remote.url}: transfer broke off after {received} bytes ({exc})") from None
        if length is not None and received != int(length):
            raise FetchError(f"{remote.url}: transfer broke off: got {received} of {length} bytes")
        if dest.name.endswith(".gz"):
            _check_gzip(part, remote.url)
        sha256 = verify(part, remote)
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    log.info("fetched %s -> %s (%d bytes, sha256 %s)", remote.url, dest, dest.stat().st_size, sha256)
    return sha256


def write_record(path: str | Path, sha256: str) -> Path:
    """``<path>.sha256`` in ``sha256sum`` format (check with ``sha256sum -c``), written atomically."""
    path = Path(path)
    record = path.with_name(path.name + ".sha256")
    part = record.with_name(f".{record.name}.{os.getpid()}.part")
    part.write_text(f"{sha256}  {path.name}\n", encoding="utf-8")
    os.replace(part, record)
    return record


def check_record(path: str | Path) -> str:
    """Verify ``path`` against its ``.sha256`` record; returns the digest."""
    path = Path(path)
    record = path.with_name(path.name + ".sha256")
    expected = record.read_text(encoding="utf-8").split()[0]
    got = sha256_of(path)
    if got != expected:
        raise FetchError(f"{path}: SHA-256 {got} does not match its record {record} ({expected})")
    return got


# --- Raw Amazon 2014 reviews ---------------------------------------------------------------------


def amazon_url(file_name: str, base_url: str | None = None) -> str:
    return f"{(base_url or AMAZON_2014_URL).rstrip('/')}/{file_name}"


def fetch_file(url: str, dest: str | Path, sha256: str | None = None, timeout: float = 60.0) -> str:
    """Fetch one public file (e.g. a reviews_<Category>_5.json.gz), verify it against the pinned
    ``sha256`` when given, and record its digest beside it."""
    digest = download(RemoteFile(Path(dest).name, url, sha256=sha256), dest, timeout)
    write_record(dest, digest)
    return digest


# --- T5 checkpoints from the Hugging Face Hub ----------------------------------------------------


def hub_listing(repo: str, revision: str = "main", endpoint: str | None = None,
                timeout: float = 60.0) -> tuple[str, list[RemoteFile]]:
    """(commit, the checkpoint files with their published digests) of a Hub model repository."""
    base = hub_endpoint(endpoint)
    url = f"{base}/api/models/{repo}/revision/{revision}?blobs=true"
    with _get(url, timeout) as response:
        try:
            info = json.loads(response.read())
            commit = info["sha"]
            siblings = {s["rfilename"]: s for s in info["siblings"]}
        except (ValueError, KeyError, TypeError) as exc:
            raise FetchError(f"{url}: not a Hub model listing ({exc})") from None
    files = []
    for name in CHECKPOINT_FILES:
        if name not in siblings:
            continue
        entry = siblings[name]
        lfs = entry.get("lfs") or {}
        remote = RemoteFile(name, f"{base}/{repo}/resolve/{commit}/{name}",
                            size=lfs.get("size", entry.get("size")), sha256=lfs.get("sha256"),
                            git_sha1=None if lfs else entry.get("blobId"))
        if remote.sha256 is None and remote.git_sha1 is None:
            raise FetchError(f"{url}: no digest published for {name}; refusing to fetch it unverified")
        files.append(remote)
    names = {f.name for f in files}
    missing = [n for n in ("config.json", "model.safetensors") if n not in names]
    if not names & {"tokenizer.json", "spiece.model"}:
        missing.append("tokenizer.json or spiece.model")
    if missing:
        raise FetchError(f"{url}: {repo}@{revision} lacks {', '.join(missing)}")
    return commit, files


def fetch_backbone(backbone: str, dest: str | Path, endpoint: str | None = None, revision: str = "main",
                   timeout: float = 60.0) -> dict:
    """Fetch ``backbone`` (t5-small/t5-base) from the Hub, load it and ``save_pretrained`` it into
    ``dest`` (which must not exist), with ``fetched.json``; ``dest`` appears only when complete."""
    if backbone not in HUB_REPOS:
        raise ValueError(f"no Hub repository known for backbone {backbone!r} (known: {', '.join(HUB_REPOS)})")
    dest = Path(dest)
    if dest.exists():
        raise FileExistsError(f"{dest} exists; remove it to fetch {backbone} again")
    repo = HUB_REPOS[backbone]
    work = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    shutil.rmtree(work, ignore_errors=True)
    try:
        commit, files = hub_listing(repo, revision, endpoint, timeout)
        raw, saved = work / "hub", work / "saved"
        fetched = {}
        for remote in files:
            digest = download(remote, raw / remote.name, timeout)
            fetched[remote.name] = {"sha256": digest, "size": (raw / remote.name).stat().st_size}
        _save_pretrained(raw, saved)
        record = {"backbone": backbone, "repo": repo, "endpoint": hub_endpoint(endpoint),
                  "revision": revision, "commit": commit, "downloaded": fetched,
                  "saved": {p.name: sha256_of(p) for p in sorted(saved.iterdir()) if p.is_file()}}
        (saved / "fetched.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        os.replace(saved, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("fetched %s (%s@%s) into %s", backbone, repo, commit, dest)
    return record


def _save_pretrained(raw: Path, saved: Path) -> None:
    """Load the downloaded checkpoint (which checks it is a T5 with a tokenizer) and save it."""
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    try:
        model = T5ForConditionalGeneration.from_pretrained(raw, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(raw, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise FetchError(f"the files fetched into {raw} do not load as a T5 checkpoint: {exc}") from None
    model.save_pretrained(saved)
    tokenizer.save_pretrained(saved)


# --- The workflow's side: what may be fetched, and the message when it may not --------------------

AMAZON_2023_SITE = "https://amazon-reviews-2023.github.io/"
FETCHABLE_REVIEWS = re.compile(r"^resources/amazon/reviews_[A-Za-z_]+_5\.json\.gz$")


def require_download(config: Mapping, target: str | Path) -> Mapping:
    """The config's ``downloads`` section, or FetchError when ``download`` is not true."""
    if not config.get("download", False):
        raise FetchError(f"{target}: not fetched, the config has download: false "
                         "(set download: true to allow it)")
    return config.get("downloads") or {}


def reviews_input(path: str, download: bool, base_url: str | None = None) -> str:
    """The raw reviews file of an amazon_reviews dataset as a workflow input: ``path`` when it exists
    or the fetch rule can make it; else FileNotFoundError saying what to fetch and where."""
    if Path(path).exists():
        return path
    name = Path(path).name
    if re.search(r"\.jsonl(\.gz)?$", name):  # the 2023 release: not fetched (no stable per-file URL is pinned)
        raise FileNotFoundError(f"{path} does not exist. Fetch the Amazon Reviews 2023 file <Category>.jsonl.gz "
                                f"({AMAZON_2023_SITE}) to {path}; download: true fetches only the 2014 files.")
    if not re.fullmatch(r"reviews_[A-Za-z_]+_5\.json\.gz", name):
        name = "reviews_<Category>_5.json.gz"
    url = amazon_url(name, base_url)
    if not download:
        raise FileNotFoundError(f"{path} does not exist, and nothing is downloaded (download: false). "
                                f"Fetch the raw Amazon 2014 5-core reviews from {url} to {path}, or set "
                                "download: true to let the workflow fetch them.")
    if not FETCHABLE_REVIEWS.match(os.path.normpath(path)):
        raise FileNotFoundError(f"{path} does not exist; download: true fetches raw Amazon reviews only "
                                f"to resources/amazon/reviews_<Category>_5.json.gz (from {url}): set the "
                                "dataset's path to that form.")
    return os.path.normpath(path)


def pinned_sha256(datasets: Mapping, path: str | Path) -> str | None:
    """The ``sha256`` a dataset of the config pins for ``path`` (None when none does)."""
    target = os.path.normpath(path)
    pins = {spec["sha256"] for spec in datasets.values()
            if spec.get("sha256") and os.path.normpath(spec.get("path", "")) == target}
    if len(pins) > 1:
        raise ValueError(f"datasets pin different SHA-256 values for {path}: {', '.join(sorted(pins))}")
    return pins.pop() if pins else None
