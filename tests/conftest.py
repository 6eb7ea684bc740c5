"""Test fixtures: a real PostgreSQL database migrated once per session, and per test a
transaction that is rolled back (the app sees it through WebTest's environ).

Set MIGASFREE_TEST_DATABASE_URL to use another server; the database named there is dropped and
created anew at the start of the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import transaction
import webtest
import zope.sqlalchemy
from plaster_pastedeploy import Loader  # noqa: F401 (registers the ini loader)
from pyramid.paster import get_appsettings
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from migasfree_pyramid import make_config
from migasfree_pyramid.db import ENGINE_KEY, make_engine
from migasfree_pyramid.initial_data import seed
from migasfree_pyramid.settings import expand_env

from .support import Client, StatementCounter

ROOT = Path(__file__).resolve().parent.parent
TESTING_INI = ROOT / "testing.ini"


def database_url() -> str:
    """testing.ini's database, or MIGASFREE_TEST_DATABASE_URL's. Without the variable each run
    gets its own database (suffixed with the process id), so that concurrent runs on one
    machine never drop each other's database."""
    url = expand_env("sqlalchemy.url", get_appsettings(str(TESTING_INI))["sqlalchemy.url"])
    parsed = make_url(url)
    if "MIGASFREE_TEST_DATABASE_URL" in os.environ or parsed.get_backend_name() != "postgresql":
        return url
    return parsed.set(database=f"{parsed.database}_{os.getpid()}").render_as_string(
        hide_password=False
    )


def drop_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    admin = make_engine(
        parsed.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def recreate_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    admin = make_engine(
        parsed.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        name = parsed.database
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def migrate(engine, url: str) -> None:
    from migasfree_pyramid.scripts.migrate import upgrade

    upgrade(str(TESTING_INI), url=url, engine=engine)


@pytest.fixture(scope="session")
def settings():
    settings = dict(get_appsettings(str(TESTING_INI)))
    settings["sqlalchemy.url"] = database_url()
    # Concurrent runs share the test Redis: each keeps its keys under its own prefix.
    settings["migasfree.redis_prefix"] = f"migasfree-test-{os.getpid()}"
    return settings


@pytest.fixture(scope="session")
def engine(settings):
    url = settings["sqlalchemy.url"]
    recreate_database(url)
    engine = make_engine(url)
    migrate(engine, url)
    yield engine
    engine.dispose()
    if "MIGASFREE_TEST_DATABASE_URL" not in os.environ:
        drop_database(url)


@pytest.fixture(scope="session")
def app_config(settings, engine):
    config = make_config({**settings, ENGINE_KEY: engine, "here": str(ROOT)})
    with engine.begin() as conn:
        session = sessionmaker()(bind=conn)
        seed(session, config.registry)
        session.flush()
        session.close()
    return config


@pytest.fixture(scope="session")
def app(app_config):
    return app_config.make_wsgi_app()


@pytest.fixture(scope="session")
def registry(app_config):
    return app_config.registry


@pytest.fixture
def connection(engine):
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def tm():
    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    manager.doom()
    yield manager
    manager.abort()


@pytest.fixture
def dbsession(connection, tm):
    session = sessionmaker(expire_on_commit=False)(
        bind=connection, join_transaction_mode="create_savepoint"
    )
    zope.sqlalchemy.register(session, transaction_manager=tm)
    yield session
    session.close()


@pytest.fixture
def statements(engine):
    counter = StatementCounter()
    event.listen(engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine, "before_cursor_execute", counter)


@pytest.fixture
def testapp(app, tm, dbsession):
    return webtest.TestApp(
        app,
        extra_environ={
            "HTTP_HOST": "testserver",
            "tm.active": True,
            "tm.manager": tm,
            "app.dbsession": dbsession,
            "REMOTE_ADDR": "127.0.0.1",
        },
    )


@pytest.fixture
def client(testapp, dbsession, registry):
    """A helper that makes users with roles and calls the API as them."""
    return Client(testapp, dbsession, registry)


@pytest.fixture(scope="session", autouse=True)
def _stop_gpg_agents(tmp_path_factory):
    """gpg starts an agent per key directory and leaves it running; the tests' key directories
    are temporary, so their agents are stopped at the end of the run."""
    yield
    gpgconf = shutil.which("gpgconf")
    if gpgconf is None:
        return
    for home in tmp_path_factory.getbasetemp().rglob(".gnupg"):
        subprocess.run(  # noqa: S603 (a fixed program on our own directories)
            [gpgconf, "--homedir", str(home), "--kill", "gpg-agent"],
            capture_output=True,
            check=False,
        )


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, app_config, monkeypatch):
    settings = app_config.registry.settings
    for key in ("migasfree.var_dir", "migasfree.public_dir", "migasfree.keys_dir"):
        monkeypatch.setitem(settings, key, str(tmp_path / key.split(".")[1]))
    os.makedirs(tmp_path / "keys_dir", exist_ok=True)


@pytest.fixture
def make(dbsession):
    """Test data factories (see tests/factories.py)."""
    from .factories import Factory

    return Factory(dbsession)
