"""Fixtures for the hardware tests: signed (v5) requests as a computer of a project."""

from __future__ import annotations

import pytest
from webob.request import BaseRequest

from migasfree_pyramid.crypto.envelope import unwrap, wrap
from migasfree_pyramid.crypto.keystore import SERVER, KeyStore

SAFE = "/api/v1/safe/computers"


@pytest.fixture(scope="session")
def hardware_keys_dir(tmp_path_factory):
    """RSA generation is slow: the server pair and the test project's pair are made once."""
    return str(tmp_path_factory.mktemp("hardware-keys"))


@pytest.fixture(autouse=True)
def shared_keys(_isolated_dirs, hardware_keys_dir, registry, monkeypatch):
    monkeypatch.setitem(registry.settings, "migasfree.keys_dir", hardware_keys_dir)


@pytest.fixture(autouse=True)
def body_in_memory(monkeypatch):
    """WebOb copies a body over 10 KiB (any real lshw capture) into a temporary file that nothing
    closes, and the unclosed file's ResourceWarning fails the test. Keep bodies in memory here;
    the application-wide fix belongs with the request set-up (reported)."""
    monkeypatch.setattr(BaseRequest, "request_body_tempfile_limit", 64 * 1024 * 1024)


@pytest.fixture
def project(make):
    # Always the same name (each test rolls back), so its key pair is reused.
    return make.project(name="hardware-tests")


class Agent:
    """Posts claims the way the v5 client does and decrypts the replies."""

    def __init__(self, testapp, registry, project):
        self.app = testapp
        self.project = project
        keys = KeyStore(registry.settings["migasfree.keys_dir"])
        self.private = keys.private(project.slug)
        self.server = keys.public(SERVER)

    def message(self, claims) -> str:
        return wrap(claims, self.private, self.server)

    def post(self, path: str, claims, project_name: str | None = None):
        """``(response, decrypted data or the plain body)``."""
        body = {"msg": self.message(claims), "project": project_name or self.project.name}
        response = self.app.post_json(f"{SAFE}/{path}", body, status="*")
        if isinstance(response.json, dict) and "msg" in response.json:
            return response, unwrap(response.json["msg"], self.private, self.server)
        return response, response.json


@pytest.fixture
def agent(testapp, registry, project):
    return Agent(testapp, registry, project)
