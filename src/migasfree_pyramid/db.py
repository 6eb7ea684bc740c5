"""Engine, sessions and ``request.dbsession`` joined to the request transaction (pyramid_tm)."""

from __future__ import annotations

import zope.sqlalchemy
from pyramid_retry import mark_error_retryable
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

ENGINE_KEY = "migasfree.engine"
SESSION_FACTORY_KEY = "migasfree.dbsession_factory"
TEST_SESSION_ENVIRON_KEY = "app.dbsession"


def make_engine(url: str, **kwargs) -> Engine:
    """Create the engine; SQLite gets foreign keys, WAL and a busy timeout."""
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # SQLite ignores ON DELETE clauses unless told otherwise, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def get_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False)


def get_tm_session(factory: sessionmaker, transaction_manager, request=None) -> Session:
    """A session whose commit/abort is driven by ``transaction_manager``."""
    session = factory(info={"request": request})
    zope.sqlalchemy.register(session, transaction_manager=transaction_manager)
    return session


def includeme(config) -> None:
    settings = config.get_settings()
    settings["tm.manager_hook"] = "pyramid_tm.explicit_manager"
    settings["tm.annotate_user"] = False
    # A returned 4xx (e.g. a validation error) must not commit what the view flushed.
    settings["tm.commit_veto"] = "pyramid_tm.default_commit_veto"
    settings.setdefault("retry.attempts", 3)
    config.include("pyramid_tm")
    config.include("pyramid_retry")

    engine = settings.get(ENGINE_KEY) or make_engine(settings["sqlalchemy.url"])
    factory = get_session_factory(engine)
    config.registry[ENGINE_KEY] = engine
    config.registry[SESSION_FACTORY_KEY] = factory

    # Lock timeouts and serialization failures are transient: retry the whole request. Unique
    # violations are not retried; the API turns them into 409 answers.
    mark_error_retryable(OperationalError)

    def dbsession(request) -> Session:
        session = request.environ.get(TEST_SESSION_ENVIRON_KEY)
        if session is None:
            session = get_tm_session(factory, request.tm, request)
        return session

    config.add_request_method(dbsession, reify=True)
