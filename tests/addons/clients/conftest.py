"""Fixtures for the client protocol tests: shared keys and simulated v5 computers."""

from __future__ import annotations

import itertools
import os
import uuid as uuidlib

import pytest

from migasfree_pyramid.crypto.keystore import PACKAGER, SERVER, KeyStore
from tests.agents import V5Agent

REPOSITORY_KEY_FILE = "migasfree-repository.gpg"
FAKE_REPOSITORY_KEY = (
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n"
    "mQINBGTestKeyForTheAgentTestsOnlyNotARealKey\n"
    "=TEST\n"
    "-----END PGP PUBLIC KEY BLOCK-----\n"
)

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def session_keys_dir(tmp_path_factory):
    """One keys directory for the whole run: RSA generation is slow, so the server and
    packager pairs are made once. Project pairs are added as projects register."""
    path = tmp_path_factory.mktemp("client-keys")
    store = KeyStore(str(path))
    store.ensure(SERVER)
    store.ensure(PACKAGER)
    return str(path)


@pytest.fixture(autouse=True)
def shared_keys(_isolated_dirs, session_keys_dir, registry, monkeypatch):
    """Point ``migasfree.keys_dir`` at the session directory (after the root conftest gave
    each test a fresh one)."""
    monkeypatch.setitem(registry.settings, "migasfree.keys_dir", session_keys_dir)
    return session_keys_dir


@pytest.fixture
def repository_key(registry):
    """Write a (fake) armored repository key where ``keys/repositories/`` reads it; sync needs
    it, because the client crashes without one (protocol-v5 3.5)."""

    path = os.path.join(registry.settings["migasfree.keys_dir"], REPOSITORY_KEY_FILE)
    if not os.path.exists(path):
        with open(path, "w", encoding="ascii") as handle:
            handle.write(FAKE_REPOSITORY_KEY)
    with open(path, encoding="ascii") as handle:
        return handle.read()


@pytest.fixture
def agent(testapp):
    """Factory of simulated computers: ``agent(project, name=..., uuid=..., register=True)``.

    ``project`` is a ``Project`` row or a project name (a new one auto-registers); with
    ``register=True`` the agent fetches its keys (``keys/project/``) before being returned.
    """

    def factory(project=None, name=None, uuid=None, register=False, **kwargs):
        number = next(_numbers)
        project_name = getattr(project, "name", project) or f"agent-project-{number}"
        made = V5Agent(
            testapp,
            project_name,
            uuid or str(uuidlib.uuid4()).upper(),
            name or f"PC-AGENT-{number:04d}",
            **kwargs,
        )
        if register:
            value = made.register(made.username, made.password)
            assert made.has_keys, value
        return made

    return factory
