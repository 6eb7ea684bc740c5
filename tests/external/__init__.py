"""A local upstream mirror for the external-source tests, and fixtures that use it.

The mirror serves ``files`` under ``/debian/`` and has misbehaving paths:
``/debian/slow/*`` (the body in eight slices, ``slow_delay`` seconds apart),
``/debian/stall/*`` (headers, then nothing for ``stall_seconds``),
``/debian/truncated/*`` (announces twice the length, sends the file and closes),
``/debian/chunked/*`` (chunked transfer encoding), ``/debian/status/<code>`` (that status),
and ``redirects`` (path -> Location).
"""

from __future__ import annotations

import collections
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis

from migasfree_pyramid.external import as_networks


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.answer(head=False)

    def do_HEAD(self):
        self.answer(head=True)

    def answer(self, head: bool) -> None:
        mirror: Mirror = self.server.mirror
        path = self.path.split("?", 1)[0]
        mirror.record(self.command, path, self.headers.get("Host"))
        if path in mirror.redirects:
            self.send_response(302)
            self.send_header("Location", mirror.redirects[path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path.startswith("/debian/status/"):
            self.send_response(int(path.rsplit("/", 1)[1]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = mirror.files.get(path)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if path.startswith("/debian/chunked/"):
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if not head:
                for start in range(0, len(body), 1000):
                    piece = body[start : start + 1000]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
            return
        truncated = path.startswith("/debian/truncated/")
        self.send_header("Content-Length", str(len(body) * (2 if truncated else 1)))
        self.send_header("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
        self.end_headers()
        if head:
            return
        if path.startswith("/debian/stall/"):
            time.sleep(mirror.stall_seconds)
        if path.startswith("/debian/slow/"):
            step = max(1, len(body) // 8)
            for start in range(0, len(body), step):
                self.wfile.write(body[start : start + step])
                self.wfile.flush()
                time.sleep(mirror.slow_delay)
            return
        self.wfile.write(body)
        if truncated:
            self.wfile.flush()
            self.close_connection = True


class Mirror:
    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.slow_delay = 0.05
        self.stall_seconds = 1.0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.mirror = self
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/debian"

    def record(self, method: str, path: str, host: str | None) -> None:
        with self._lock:
            self.requests.append((method, path, host))

    def hits(self, path: str, method: str = "GET") -> int:
        with self._lock:
            return sum(1 for m, p, _ in self.requests if (m, p) == (method, path))

    def hosts(self) -> collections.Counter:
        with self._lock:
            return collections.Counter(host for _, _, host in self.requests)

    def start(self) -> Mirror:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# Named fixtures: the test modules import these functions, and their parameters keep the short
# names without shadowing the imports.
@pytest.fixture(name="mirror")
def mirror_fixture():
    """A running upstream mirror (one per test)."""
    server = Mirror().start()
    yield server
    server.stop()


@pytest.fixture(name="allow_loopback")
def allow_loopback_fixture(registry, monkeypatch):
    """The mirror runs on 127.0.0.1, which the proxy refuses unless allowed (SSRF guard)."""
    monkeypatch.setitem(
        registry.settings, "migasfree.external_allowed_networks", as_networks("127.0.0.0/8")
    )


@pytest.fixture(autouse=True, name="forget_rate_limits")
def forget_rate_limits_fixture(registry):
    """Rate-limit keys name deployments by id, and each test run starts ids again at 1."""
    url = registry.settings.get("migasfree.redis_url")
    if not url:
        yield
        return
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match="migasfree:external:notified:*"):
            client.delete(key)
        yield
    finally:
        client.close()
