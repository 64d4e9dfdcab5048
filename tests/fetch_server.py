"""A stand-in for the Hugging Face Hub and the Amazon review server, on 127.0.0.1, for the fetch tests.

It serves what the fetch code requests: the Hub's model listing with digests
(``/api/models/<repo>/revision/<rev>?blobs=true``), its files (``/<repo>/resolve/<commit>/<file>``)
and plain files (``/amazon/<name>``). ``corrupt`` and ``truncate`` name files to serve damaged.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"
LFS_FILES = {"model.safetensors", "spiece.model"}


@dataclass
class FakeServer:
    repos: dict[str, Path] = field(default_factory=dict)  # Hub repo id -> directory of its files
    files: dict[str, bytes] = field(default_factory=dict)  # /amazon/<name> -> contents
    corrupt: set[str] = field(default_factory=set)  # file names served with one byte flipped
    truncate: set[str] = field(default_factory=set)  # file names cut short (Content-Length kept)
    requests: list[str] = field(default_factory=list)
    url: str = ""

    def listing(self, repo: str) -> dict:
        siblings = []
        for path in sorted(self.repos[repo].iterdir()):
            data = path.read_bytes()
            entry = {"rfilename": path.name, "size": len(data),
                     "blobId": hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()}
            if path.name in LFS_FILES:
                entry["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            siblings.append(entry)
        return {"id": repo, "sha": COMMIT, "siblings": siblings}

    def content(self, path: str) -> tuple[bytes, str] | None:
        """(body, file name) for a request path, or None (404)."""
        if path.startswith("/api/models/"):
            repo = path[len("/api/models/"):].split("/revision/")[0]
            return (json.dumps(self.listing(repo)).encode(), "") if repo in self.repos else None
        if path.startswith("/amazon/"):
            name = path[len("/amazon/"):]
            return (self.files[name], name) if name in self.files else None
        for repo, directory in self.repos.items():
            prefix = f"/{repo}/resolve/{COMMIT}/"
            if path.startswith(prefix) and (directory / path[len(prefix):]).is_file():
                return (directory / path[len(prefix):]).read_bytes(), path[len(prefix):]
        return None


def serve(server: FakeServer):
    """Start ``server`` on 127.0.0.1 (a free port) in a thread; returns the http.server to shut down."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            path = urlsplit(self.path).path
            server.requests.append(path)
            found = server.content(path)
            if found is None:
                self.send_error(404)
                return
            body, name = found
            length = len(body)
            if name in server.corrupt:
                body = body[:-1] + bytes([body[-1] ^ 0xFF])
            if name in server.truncate:
                body = body[: len(body) // 2]
            self.send_response(200)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)
            if name in server.truncate:
                self.close_connection = True

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def write_tiny_checkpoint(directory: Path) -> Path:
    """A tiny T5 and a locally trained tokenizer saved like a Hub checkpoint (config, safetensors,
    tokenizer files)."""
    import torch

    from peapod.generator.backbone import t5_config
    from peapod.generator.tokenization import train_tokenizer
    from transformers import T5ForConditionalGeneration

    tokenizer = train_tokenizer([f"user_{i} bought item_{i * 7} and liked it" for i in range(200)], 150)
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(t5_config(len(tokenizer), 16, 32, 1, 2))
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
