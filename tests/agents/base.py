"""The agent's machinery: identity and key files, requests, reading answers (protocol-v5 1.2).

``BaseAgent`` turns every answer into the value the real client's ``UrlRequest.run`` returns
and records each request as a ``Call``; ``V5Agent`` (``v5.py``) adds the protocol's calls.
"""

from __future__ import annotations

import errno
import functools
import json
from dataclasses import dataclass
from typing import Any

from . import secure
from .transport import Transport, TransportError, UploadFile, WebTestTransport

OK_STATUSES = frozenset({200, 201, 301, 302, 307, 308})
PUBLIC = "/api/v1/public/"
SAFE = "/api/v1/safe/"


@dataclass
class Call:
    """One request as the agent saw it. ``status`` is None when no HTTP answer came back."""

    path: str
    status: int | None
    value: Any
    sent: Any = None  # the form fields (public) or the claims (safe)

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES


class ClientExit(Exception):
    """The real client would exit here with ``code`` (an errno) after printing ``info``."""

    def __init__(self, code: int, info: str, calls: list[Call] | None = None):
        super().__init__(f"client exits {code}: {info}")
        self.code = code
        self.info = info
        self.calls = calls or []


def is_error(value) -> bool:
    """True for the client's error shape ``{"error": {"info", "code"}}``."""
    return isinstance(value, dict) and isinstance(value.get("error"), dict) and len(value) == 1


def error_code(value) -> int | None:
    return value["error"]["code"] if is_error(value) else None


class BaseAgent:
    """One simulated computer running migasfree-client 5.0 against ``app``.

    ``app`` is a ``webtest.TestApp`` (requests go through the WSGI app, peer address
    ``ip_address``) or any ``Transport`` (e.g. ``HttpTransport`` for a real server).
    """

    consumer = "migasfree 5.0"

    def __init__(
        self,
        app,
        project: str,
        uuid: str,
        name: str,
        ip_address: str = "127.16.1.10",
        fqdn: str | None = None,
        pms: str = "apt",
        platform: str = "Linux",
        architecture: str = "amd64",
        username: str = "",
        password: str = "",
        *,
        language: str = "en",
        check_payload: bool = True,
    ):
        if isinstance(app, Transport) or hasattr(app, "post_form"):
            self.transport = app
        else:
            self.transport = WebTestTransport(app, remote_addr=ip_address)
        self.project = project
        self.uuid = uuid
        self.name = name
        self.ip_address = ip_address
        self.fqdn = fqdn if fqdn is not None else f"{name}.migasfree.test"
        self.pms = pms
        self.platform = platform
        self.architecture = architecture
        self.username = username
        self.password = password
        self.language = language
        self.check_payload = check_payload
        self.keys: dict[str, str] = {}  # client key files by name: server.pub, <Project>.pri
        self.computer_id: Any = None  # the client's cached CID (whatever computers/id/ gave)
        self.calls: list[Call] = []
        self.envelope_errors: list[tuple[str, str]] = []  # (path, Invalid Data|Signature)
        self.error_log: list[str] = []  # the client's error file, uploaded by errors/
        self.inventory: list[str] | None = None  # the client's saved installed_software.txt
        self.server: Any = None  # last server/info/ answer
        self.repository_key_text: Any = None  # what sync got from keys/repositories/
        self.repository_list: Any = None  # repositories/ of the last sync
        self.mandatory: Any = None  # packages/mandatory/ of the last sync
        self._jwks: dict[str, Any] = {}

    # -- keys ---------------------------------------------------------------------------

    @property
    def private_key_name(self) -> str:
        return f"{self.project}.pri"

    @property
    def has_keys(self) -> bool:
        """Both key files the client checks before skipping registration (3.2)."""
        return "server.pub" in self.keys and self.private_key_name in self.keys

    def key(self, name: str):
        """The parsed JWK of one of the agent's key files."""
        pem = self.keys.get(name)
        if pem is None:
            raise ClientExit(errno.EPERM, f"key {name} is missing (register first)")
        if pem not in self._jwks:
            self._jwks[pem] = secure.load_pem(pem)
        return self._jwks[pem]

    def _save_keys(self, value, renames: dict[str, str]) -> bool:
        if not isinstance(value, dict) or is_error(value):
            return False
        for name, pem in value.items():
            self.keys[renames.get(name, name)] = pem
        return True

    # -- requests -----------------------------------------------------------------------

    @property
    def headers(self) -> dict:
        return {"User-Agent": "migasfree-client/5.0", "Accept-Language": self.language}

    def _record(self, path, status, value, sent) -> Any:
        self.calls.append(Call(path, status, value, sent))
        return value

    def _unwrap(self, path, message, keypair):
        if keypair is None:  # no key to read it with: what the client would make of it
            value = failure = secure.INVALID_DATA
        else:
            value, failure = secure.open_message(message, *keypair, self.check_payload)
        if failure is not None:  # not a server message that happens to say "Invalid Data"
            self.envelope_errors.append((path, failure))
        return value

    def _value_of(self, path, body, safe, keypair):
        if safe and isinstance(body, dict) and "msg" in body:
            return self._unwrap(path, body["msg"], keypair)
        if isinstance(body, dict):
            return body.get("detail", body)
        return body

    def evaluate(self, path, reply, safe: bool, keypair=None) -> Any:
        """A reply turned into a value as ``UrlRequest.run`` does (protocol-v5 1.2)."""
        if reply.status not in OK_STATUSES:
            info: Any = reply.text
            if "json" in reply.content_type:
                try:
                    info = self._value_of(path, json.loads(reply.body), True, keypair)
                except ValueError:
                    info = reply.text
            return {"error": {"info": str(info), "code": reply.status}}
        try:
            body = json.loads(reply.body)
        except ValueError as exc:  # the client's req.json() raises: an uncaught crash
            raise ClientExit(1, f"non-JSON {reply.status} reply from {path}: {exc}") from exc
        return self._value_of(path, body, safe, keypair)

    def _send(self, path, sent, safe, keypair, send):
        try:
            reply = send()
        except TransportError as exc:
            return self._record(path, None, {"error": {"info": exc.info, "code": exc.code}}, sent)
        return self._record(path, reply.status, self.evaluate(path, reply, safe, keypair), sent)

    def _project_keys(self):
        if self.has_keys:
            return self.key(self.private_key_name), self.key("server.pub")
        return None

    def _packager_keys(self):
        return self.key("packager.pri"), self.key("server.pub")

    def public(self, path: str, fields: dict | None = None, method: str = "POST") -> Any:
        """A public call (``path`` relative to ``/api/v1/public/``): form body, plain JSON."""
        url = PUBLIC + path
        if method == "GET":
            send = functools.partial(self.transport.get, url, self.headers)
        else:
            send = functools.partial(self.transport.post_form, url, fields, self.headers)
        return self._send(url, fields, False, self._project_keys(), send)

    def envelope(self, claims, sign_key=None, encrypt_key=None, project=None) -> dict:
        """The JSON body of a safe request: ``{"msg": JWE, "project": name}``."""
        sign_key = sign_key or self.key(self.private_key_name)
        encrypt_key = encrypt_key or self.key("server.pub")
        msg = secure.wrap(claims, sign_key, encrypt_key)
        return {"msg": msg, "project": self.project if project is None else project}

    def safe(
        self, path: str, claims, *, sign_key=None, encrypt_key=None, project=None, keypair=None
    ) -> Any:
        """A safe call (``path`` relative to ``/api/v1/safe/``); keys default to the project's.

        ``keypair`` = (decrypt key, verify key) for the reply.
        """
        url = SAFE + path
        body = self.envelope(claims, sign_key, encrypt_key, project)
        send = functools.partial(self.transport.post_json, url, body, self.headers)
        return self._send(url, claims, True, keypair or self._project_keys(), send)

    def safe_raw(self, path: str, body: bytes, content_type: str | None = "application/json"):
        """Any bytes to a safe path, the answer read as the client reads safe answers."""
        url = SAFE + path
        send = functools.partial(self.transport.post_raw, url, body, content_type, self.headers)
        return self._send(url, body, True, self._project_keys(), send)

    def _upload(self, path, claims, upload: UploadFile, project=None):
        url = SAFE + path
        sign_key, server_key = self.key("packager.pri"), self.key("server.pub")
        fields = self.envelope(claims, sign_key, server_key, project)
        send = functools.partial(self.transport.post_multipart, url, fields, [upload], self.headers)
        return self._send(url, claims, True, self._packager_keys(), send)

    @property
    def last(self) -> Call:
        return self.calls[-1]
