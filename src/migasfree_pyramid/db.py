"""Engine, sessions and ``request.dbsession`` joined to the request transaction (pyramid_tm)."""

from __future__ import annotations

import weakref
from collections.abc import Iterable

from pyramid_retry import mark_error_retryable
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool
from transaction._transaction import Status
from zope.sqlalchemy.datamanager import STATUS_ACTIVE, join_transaction, mark_changed

from .settings import DEFAULT_POSTGRESQL_SETTINGS

ENGINE_KEY = "migasfree.engine"
SESSION_FACTORY_KEY = "migasfree.dbsession_factory"
TEST_SESSION_ENVIRON_KEY = "app.dbsession"
TM_INFO_KEY = "migasfree.tm"


def make_engine(
    url: str, postgresql_settings: Iterable[str] = DEFAULT_POSTGRESQL_SETTINGS, **kwargs
) -> Engine:
    """Create the engine; SQLite gets foreign keys, WAL and a busy timeout, PostgreSQL
    connections ``postgresql_settings`` (``name=value`` pairs, see settings.py)."""
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it costs a round trip on every checkout, i.e. on every request. A connection
    # the server dropped fails its first statement with an OperationalError instead; SQLAlchemy
    # then discards the pool's stale connections and pyramid_retry runs the request again.
    kwargs.setdefault("pool_pre_ping", False)
    options = " ".join(f"-c {pair}" for pair in postgresql_settings)
    if options and url.startswith("postgresql"):
        connect_args = kwargs.setdefault("connect_args", {})
        connect_args["options"] = " ".join(filter(None, (connect_args.get("options"), options)))
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # SQLite ignores ON DELETE clauses unless told otherwise, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def get_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False)


class _TransactionEvents:
    """``zope.sqlalchemy.register``'s session events, listened to once per session factory
    rather than once per session: adding seven listeners to every request's session cost a
    quarter of a millisecond per request. Each session names its transaction manager in
    ``session.info[TM_INFO_KEY]``; sessions without one are left alone. The handlers do what
    zope.sqlalchemy's do (``keep_session=False``, initial state active)."""

    @staticmethod
    def after_begin(session, transaction, connection):
        manager = session.info.get(TM_INFO_KEY)
        if manager is not None:
            join_transaction(session, STATUS_ACTIVE, manager, False)

    @staticmethod
    def after_attach(session, instance):
        manager = session.info.get(TM_INFO_KEY)
        if manager is not None:
            join_transaction(session, STATUS_ACTIVE, manager, False)

    @staticmethod
    def after_flush(session, flush_context):
        manager = session.info.get(TM_INFO_KEY)
        if manager is not None:
            mark_changed(session, manager, False)

    @staticmethod
    def after_bulk(context):  # after_bulk_update and after_bulk_delete
        manager = context.session.info.get(TM_INFO_KEY)
        if manager is not None:
            mark_changed(context.session, manager, False)

    @staticmethod
    def before_commit(session):
        manager = session.info.get(TM_INFO_KEY)
        if manager is not None:
            assert session.in_nested_transaction() or manager.get().status == Status.COMMITTING, (
                "Transaction must be committed using the transaction manager"
            )

    @staticmethod
    def do_orm_execute(state):
        manager = state.session.info.get(TM_INFO_KEY)
        dml = state.is_update or state.is_insert or state.is_delete
        if manager is not None and state.is_orm_statement and dml:
            mark_changed(state.session, manager, False)


_listening: weakref.WeakSet = weakref.WeakSet()


def _listen(factory: sessionmaker) -> None:
    if factory in _listening:
        return
    events = _TransactionEvents
    for name, handler in (
        ("after_begin", events.after_begin),
        ("after_attach", events.after_attach),
        ("after_flush", events.after_flush),
        ("after_bulk_update", events.after_bulk),
        ("after_bulk_delete", events.after_bulk),
        ("before_commit", events.before_commit),
        ("do_orm_execute", events.do_orm_execute),
    ):
        event.listen(factory, name, handler)
    _listening.add(factory)


def get_tm_session(factory: sessionmaker, transaction_manager, request=None) -> Session:
    """A session whose commit/abort is driven by ``transaction_manager``."""
    _listen(factory)
    return factory(info={"request": request, TM_INFO_KEY: transaction_manager})


def includeme(config) -> None:
    settings = config.get_settings()
    settings["tm.manager_hook"] = "pyramid_tm.explicit_manager"
    settings["tm.annotate_user"] = False
    # A returned 4xx (e.g. a validation error) must not commit what the view flushed.
    settings["tm.commit_veto"] = "pyramid_tm.default_commit_veto"
    settings.setdefault("retry.attempts", 3)
    config.include("pyramid_tm")
    config.include("pyramid_retry")

    engine = settings.get(ENGINE_KEY) or make_engine(
        settings["sqlalchemy.url"], settings["migasfree.postgresql_settings"]
    )
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
