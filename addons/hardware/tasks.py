"""Background storage of large captures (huey), each task in its own transaction.

A worker builds the application (``make_config``) before it consumes tasks, which includes this
addon and so binds the registry the tasks use for settings and the database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging

import transaction
from pyramid.scripting import prepare

from migasfree_pyramid.db import SESSION_FACTORY_KEY, get_tm_session
from migasfree_pyramid.models import Computer
from migasfree_pyramid.tasks import huey

from .capture import HardwareError, Limits, store_hardware

log = logging.getLogger(__name__)
_bound: dict = {}


def bind(registry) -> None:
    """Remember the application registry the tasks of this process work with."""
    _bound["registry"] = registry


@contextlib.contextmanager
def task_transaction():
    """``(session, registry)`` in a transaction of its own: committed when the block ends,
    aborted if it raises."""
    registry = _bound.get("registry")
    if registry is None:
        raise RuntimeError("the hardware addon is not configured in this process")
    env = prepare(registry=registry)
    manager = transaction.TransactionManager(explicit=True)
    session = None
    try:
        with manager:
            session = get_tm_session(registry[SESSION_FACTORY_KEY], manager, env["request"])
            yield session, registry
    finally:
        # Closed only after the manager committed or aborted: closing first would roll back.
        if session is not None:
            session.close()
        env["closer"]()


@huey.task()
def store_hardware_task(computer_id: int, lshw, received_at: str) -> None:
    """Store a capture the request found too large to store itself."""
    with task_transaction() as (session, registry):
        computer = session.get(Computer, computer_id)
        if computer is None:
            return  # deleted since the capture was received
        try:
            store_hardware(
                session,
                computer,
                lshw,
                Limits.from_settings(registry.settings),
                captured_at=dt.datetime.fromisoformat(received_at),
            )
        except HardwareError as error:
            # The request validated it with the same limits; only a settings change gets here.
            log.warning("hardware of computer %s not stored: %s", computer_id, error.message)
