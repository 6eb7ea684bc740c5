"""Fixtures of the repository tests: a fake package manager and a task runner that executes
what requests enqueued (after their commit, which the rolled-back tests never do) on the test's
connection, in transactions of its own."""

from __future__ import annotations

import os

import pytest
from sqlalchemy.orm import sessionmaker

from migasfree_pyramid import make_config
from migasfree_pyramid.db import ENGINE_KEY, SESSION_FACTORY_KEY
from migasfree_pyramid.pms import REGISTRY
from migasfree_pyramid.tasks import runtime

from ..conftest import ROOT
from .builders import (  # noqa: F401 (fixtures of the builder tests, shared by their modules)
    build_tree,
    client_dir,
    copied_keys,
    repo_keys,
    repo_signer,
    static_server,
)
from .fakes import FakePMS, NoBuildPMS


@pytest.fixture
def fake_pms(monkeypatch):
    """Replaces apt: projects made with the factory's default PMS build with it."""
    pms = FakePMS()
    monkeypatch.setitem(REGISTRY, "apt", pms)
    monkeypatch.setitem(REGISTRY, "nobuild", NoBuildPMS())
    return pms


class Runner:
    def __init__(self, tm):
        self.tm = tm
        self.done = 0

    def __call__(self) -> int:
        """Run the after-commit hooks registered since the last call; how many ran."""
        hooks = list(self.tm.get().getAfterCommitHooks())[self.done :]
        self.done += len(hooks)
        for hook, args, kwargs in hooks:
            hook(True, *args, **kwargs)
        return len(hooks)


@pytest.fixture
def task_runner(tm, connection, registry, monkeypatch):
    factory = sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    monkeypatch.setitem(registry, SESSION_FACTORY_KEY, factory)
    monkeypatch.setitem(runtime._bound, "registry", registry)
    return Runner(tm)


@pytest.fixture
def public(registry):
    return registry.settings["migasfree.public_dir"]


@pytest.fixture(scope="session")
def dev_app(settings, engine):
    """The app as development.ini configures it: ``migasfree.serve_public = true``."""
    config = make_config(
        {**settings, ENGINE_KEY: engine, "here": str(ROOT), "migasfree.serve_public": "true"}
    )
    return config.make_wsgi_app()


@pytest.fixture
def dev_settings(dev_app, registry, monkeypatch):
    """Point ``dev_app`` at this test's directories (as ``_isolated_dirs`` does for ``app``)."""
    for key in ("migasfree.public_dir", "migasfree.keys_dir", "migasfree.var_dir"):
        monkeypatch.setitem(dev_app.registry.settings, key, registry.settings[key])
    return dev_app.registry.settings


def write_store_file(public_dir: str, package) -> str:
    """Put a file in the store of ``package`` (as an upload would)."""
    path = os.path.join(
        public_dir, package.project.slug, "stores", package.store.slug, package.fullname
    )
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(b"package " + package.fullname.encode())
    return path
