"""What a task needs to touch the database: a request-like object in its own transaction.

Tasks take ids, never ORM objects, and open their own transaction with ``task_request()``. The
request it yields has ``registry``, ``dbsession``, ``tm`` (an explicit transaction manager of its
own: committed when the block ends, aborted if it raises) and ``enqueue`` (after that commit),
so code written for requests (subscribers, ``request.enqueue``) works unchanged in a worker.

A worker builds the application before it consumes tasks (``migasfree-worker``); the
application's ``includeme`` calls ``bind(registry)``, which is the registry tasks of this process
use. Tests bind their own registry (and a session factory on their connection).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import transaction
import zope.sqlalchemy
from pyramid.scripting import prepare

from ..db import SESSION_FACTORY_KEY, get_tm_session

_bound: dict = {}


def bind(registry) -> None:
    """Remember the application registry the tasks of this process work with."""
    _bound["registry"] = registry


def bound_registry():
    """The registry bound by ``bind``; a clear error when the app was never configured."""
    registry = _bound.get("registry")
    if registry is None:
        raise RuntimeError("no application is configured in this process (see migasfree-worker)")
    return registry


@contextlib.contextmanager
def task_request(registry=None) -> Iterator:
    """A request with ``dbsession`` in a transaction of its own (see the module docstring)."""
    registry = registry if registry is not None else bound_registry()
    env = prepare(registry=registry)
    request = env["request"]
    manager = transaction.TransactionManager(explicit=True)
    session = None
    try:
        with manager:
            # Instance attributes win over the reified request methods of the same names.
            request.tm = manager
            session = get_tm_session(registry[SESSION_FACTORY_KEY], manager, request)
            # Tasks write with Core statements (UPDATE ... WHERE) that zope.sqlalchemy does not
            # see; unmarked, it would roll them back as a read-only transaction.
            zope.sqlalchemy.mark_changed(session, transaction_manager=manager)
            request.dbsession = session
            yield request
    finally:
        # Closed only after the manager committed or aborted: closing first would roll back.
        if session is not None:
            session.close()
        env["closer"]()
