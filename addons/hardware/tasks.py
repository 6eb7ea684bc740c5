"""Background storage of large captures (huey), each task in its own transaction.

A worker builds the application (``migasfree-worker``) before it consumes tasks; the core binds
the registry the tasks use for settings and the database (``tasks.runtime``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging

from migasfree_pyramid.models import Computer
from migasfree_pyramid.tasks import huey, runtime

from .capture import HardwareError, Limits, store_hardware

log = logging.getLogger(__name__)


@contextlib.contextmanager
def task_transaction():
    """``(session, registry)`` in a transaction of its own (``tasks.runtime``): committed when
    the block ends, aborted if it raises."""
    with runtime.task_request() as request:
        yield request.dbsession, request.registry


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
