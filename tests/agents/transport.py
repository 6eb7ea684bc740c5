"""How an agent's requests reach a server: through WebTest (tests) or real HTTP (benchmark).

Both transports take the same arguments and return a ``Reply``; the agent never sees which one
it uses. Bodies are encoded here, once, the way the v5 client's ``requests`` calls encode them
(protocol-v5 1, 1.1): form-urlencoded for public calls (empty body without data), JSON for safe
calls, multipart with an absolute-path filename for uploads.
"""

from __future__ import annotations

import errno
import http.client
import json
import secrets
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

USER_AGENT = "migasfree-client/5.0 migasfree-pyramid-test-agent"


@dataclass
class Reply:
    """An HTTP answer as the agent needs it."""

    status: int
    content_type: str
    body: bytes
    headers: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class TransportError(Exception):
    """The request never got an HTTP answer; ``code`` is the errno the client would report."""

    def __init__(self, code: int, info: str):
        super().__init__(info)
        self.code = code
        self.info = info


@dataclass
class UploadFile:
    """One multipart file part: ``filename`` is sent as given (the client sends a full path)."""

    name: str
    filename: str
    data: bytes
    content_type: str = "application/octet-stream"


def encode_form(fields: dict | None) -> tuple[bytes, str | None]:
    if not fields:
        return b"", None  # requests.post(data=None/{}) sends no body and no content type
    return urlencode(fields).encode("ascii"), "application/x-www-form-urlencoded"


def encode_json(body) -> tuple[bytes, str]:
    return json.dumps(body).encode("utf-8"), "application/json"


def encode_multipart(fields: dict, files: list[UploadFile]) -> tuple[bytes, str]:
    """``multipart/form-data``: text fields in order, then the files."""
    boundary = secrets.token_hex(16)
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + str(value).encode("utf-8")
            + b"\r\n"
        )
    for upload in files:
        head = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{upload.name}"; filename="{upload.filename}"'
            f"\r\nContent-Type: {upload.content_type}\r\n\r\n"
        )
        parts.append(head.encode("utf-8") + upload.data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class Transport:
    """The seam: subclasses implement ``send``; the helpers encode bodies."""

    def send(self, method: str, path: str, body: bytes, content_type: str | None, headers: dict):
        raise NotImplementedError

    def post_form(self, path: str, fields: dict | None = None, headers: dict | None = None):
        body, content_type = encode_form(fields)
        return self.send("POST", path, body, content_type, headers or {})

    def post_json(self, path: str, data, headers: dict | None = None):
        body, content_type = encode_json(data)
        return self.send("POST", path, body, content_type, headers or {})

    def post_multipart(self, path: str, fields: dict, files: list, headers: dict | None = None):
        body, content_type = encode_multipart(fields, files)
        return self.send("POST", path, body, content_type, headers or {})

    def post_raw(self, path: str, body: bytes, content_type: str | None, headers=None):
        return self.send("POST", path, body, content_type, headers or {})

    def get(self, path: str, headers: dict | None = None):
        return self.send("GET", path, b"", None, headers or {})


class WebTestTransport(Transport):
    """Requests through a ``webtest.TestApp`` (the real WSGI app, in the test's transaction).

    ``remote_addr`` is the peer address the server sees (its ``forwarded_ip_address``).
    """

    def __init__(self, app, remote_addr: str | None = None):
        self.app = app
        self.remote_addr = remote_addr

    def send(self, method, path, body, content_type, headers):
        environ = {"REMOTE_ADDR": self.remote_addr} if self.remote_addr else {}
        params = {"method": method, "headers": headers, "environ": environ}
        if method != "GET":
            params["body"] = body
        if content_type:
            params["content_type"] = content_type
        response = self.app.request(path, expect_errors=True, **params)
        return Reply(
            status=response.status_int,
            content_type=response.headers.get("Content-Type", ""),
            body=response.body,
            headers=dict(response.headers),
        )


class HttpTransport(Transport):
    """Requests over a real (keep-alive) HTTP connection, for the benchmark.

    Like the client, TLS certificates are not verified (protocol-v5 1: ``verify=False``).
    Not thread-safe: give each agent (or thread) its own transport.
    """

    def __init__(self, base_url: str, timeout: float = 60.0):
        parts = urlsplit(base_url)
        self.scheme = parts.scheme or "http"
        self.host = parts.hostname or "localhost"
        self.port = parts.port
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.connection = None

    def _connect(self):
        if self.scheme == "https":
            context = ssl._create_unverified_context()  # noqa: S323 - the client's verify=False
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=context
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def send(self, method, path, body, content_type, headers):
        headers = {**headers, "Content-Length": str(len(body))}
        if content_type:
            headers["Content-Type"] = content_type
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = self._connect()
            try:
                self.connection.request(method, self.prefix + path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if attempt == 2:  # a kept-alive connection may have been closed by the server
                    raise TransportError(errno.EIO, str(exc)) from exc
                continue
            except TimeoutError as exc:
                self.close()
                raise TransportError(errno.ETIMEDOUT, str(exc)) from exc
            except ConnectionRefusedError as exc:
                self.close()
                raise TransportError(errno.ECONNREFUSED, str(exc)) from exc
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise TransportError(errno.EIO, str(exc)) from exc
            return Reply(
                status=response.status,
                content_type=response.getheader("Content-Type", ""),
                body=data,
                headers=dict(response.getheaders()),
            )
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
