"""A small stand-in for the Hugging Face hub on 127.0.0.1, for download tests without a network.

Answers the parts of the hub API huggingface-hub uses here: `/api/models` (search), the model
info `/api/models/{repo}[/revision/{rev}]` with `siblings` (size and LFS sha256 when
`blobs=true`), and `/{repo}/resolve/{rev}/{file}` with Range requests and the headers
`hf_hub_download` reads (ETag, X-Repo-Commit, X-Linked-Etag, X-Linked-Size). It can also
misbehave on purpose: break the connection after N bytes once, or advertise a wrong sha256.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class HubFileSpec:
    path: Path  # served from disk, so a 100 MB model is never held in memory
    sha256: str
    advertised_sha256: str | None = None  # set to lie about the checksum
    drop_after: int | None = None  # break the connection once after this many body bytes

    @property
    def size(self) -> int:
        return self.path.stat().st_size


@dataclass
class FakeHub:
    repos: dict[str, dict[str, HubFileSpec]] = field(default_factory=dict)
    downloads: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path,
    # Range header
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def add(self, repo_id: str, filename: str, path: Path, **options: object) -> HubFileSpec:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        spec = HubFileSpec(path, digest, **options)  # type: ignore[arg-type]
        self.repos.setdefault(repo_id, {})[filename] = spec
        return spec

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def _json(self, data: object, status: int = 200, headers: dict[str, str] | None = None
              ) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _not_found(self, code: str, message: str) -> None:
        self._json({"error": message}, 404, {"X-Error-Code": code, "X-Error-Message": message})

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)

    def _route(self, head: bool) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        self.fake.requests.append((self.command, path, self.headers.get("Range")))
        query = parse_qs(url.query)
        if path == "/api/models":
            return self._search(query)
        info = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path)
        if info:
            return self._info(info.group(1), "blobs" in query)
        resolve = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if resolve:
            return self._resolve(resolve.group(1), resolve.group(3), head)
        self._not_found("EntryNotFound", "Not found")

    def _search(self, query: dict[str, list[str]]) -> None:
        needle = query.get("search", [""])[0].lower()
        limit = int(query.get("limit", ["1000"])[0])
        found = [
            {"id": repo, "modelId": repo, "downloads": 1000 - i, "likes": 10 - i % 10,
             "tags": ["gguf"], "private": False, "gated": False,
             "lastModified": "2025-01-01T00:00:00.000Z"}
            for i, repo in enumerate(sorted(self.fake.repos)) if needle in repo.lower()
        ]
        self._json(found[:limit])

    def _info(self, repo_id: str, blobs: bool) -> None:
        files = self.fake.repos.get(repo_id)
        if files is None:
            return self._json({"error": "Repository not found"}, 401,
                              {"X-Error-Code": "RepoNotFound",
                               "X-Error-Message": "Repository not found"})
        siblings: list[dict[str, object]] = [{"rfilename": "README.md"}]
        for name, spec in files.items():
            sibling: dict[str, object] = {"rfilename": name}
            if blobs:
                sibling.update(size=spec.size, blobId="b" * 40,
                               lfs={"size": spec.size, "pointerSize": 134,
                                    "sha256": spec.advertised_sha256 or spec.sha256})
            siblings.append(sibling)
        self._json({"id": repo_id, "modelId": repo_id, "sha": COMMIT, "private": False,
                    "gated": False, "tags": ["gguf", "license:apache-2.0"],
                    "siblings": siblings, "downloads": 1, "likes": 1})

    def _resolve(self, repo_id: str, filename: str, head: bool) -> None:
        spec = self.fake.repos.get(repo_id, {}).get(filename)
        if spec is None:
            return self._not_found("EntryNotFound", f"{filename} does not exist")
        size = spec.size
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match:
            start = int(match.group(1))
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self.send_response(206 if match else 200)
        etag = f'"{spec.sha256}"'
        for k, v in (("ETag", etag), ("X-Linked-Etag", etag), ("X-Linked-Size", str(size)),
                     ("X-Repo-Commit", COMMIT), ("Accept-Ranges", "bytes"),
                     ("Content-Type", "application/octet-stream"),
                     ("Content-Length", str(size - start))):
            self.send_header(k, v)
        if match:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.end_headers()
        if head:
            return
        key = f"{repo_id}/{filename}"
        self.fake.downloads[key] = self.fake.downloads.get(key, 0) + 1
        limit = size - start
        if spec.drop_after is not None and spec.drop_after > start:
            limit = spec.drop_after - start
            spec.drop_after = None  # only once: the retry (or the next run) gets the rest
        with spec.path.open("rb") as f:
            f.seek(start)
            sent = 0
            while sent < limit:
                chunk = f.read(min(256 * 1024, limit - sent))
                if not chunk:
                    break
                self.wfile.write(chunk)
                sent += len(chunk)
        if sent < size - start:
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)  # abrupt end: the client sees a short body


def serving_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A fresh local hub for one test (the body of the `hub` fixtures): HF_ENDPOINT points at
    it, never at the network, and it is stopped with every request thread it served."""
    import huggingface_hub.constants
    from huggingface_hub.utils import close_session

    fake = FakeHub().start()
    monkeypatch.setenv("HF_ENDPOINT", fake.url)
    # The embedder sets HF_HUB_OFFLINE for the process (huggingface-hub reads it once, at
    # import); a test of the hub must not depend on whether an embedding test ran first.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    yield fake
    # Kept-alive connections hold the server's request threads; closing them ends those.
    close_session()
    fake.stop()
    for thread in threading.enumerate():
        if "process_request" in thread.name:
            thread.join(5)
