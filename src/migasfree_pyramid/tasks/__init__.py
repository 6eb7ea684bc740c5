"""The task queue (huey): Redis in production, SQLite or immediate in the embedded default.

This module holds the only Huey object and imports nothing else from the app, so task modules,
views and models can all import it. ``request.enqueue(task, ...)`` queues a task only after the
request's transaction commits, so a worker never reads rows that were rolled back.
"""

from __future__ import annotations

import os

from huey import Huey
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

# Results are never read back (tasks report through the database), so none are stored.
huey = Huey("migasfree", results=False, immediate=True, storage_class=MemoryStorage)


def configure(settings) -> None:
    """Point the module-level ``huey`` at the backend the settings choose.

    Task modules decorate their functions with this very object at import time, so it is
    reconfigured in place rather than replaced.
    """
    backend = settings.get("huey.backend", "immediate")
    if backend == "redis":
        huey.storage_class = RedisStorage
        huey.storage_kwargs = {"url": settings.get("huey.url") or settings["migasfree.redis_url"]}
    elif backend == "sqlite":
        os.makedirs(os.path.dirname(settings["huey.sqlite_path"]) or ".", exist_ok=True)
        huey.storage_class = SqliteStorage
        huey.storage_kwargs = {"filename": settings["huey.sqlite_path"]}
    else:
        huey.storage_class = MemoryStorage
        huey.storage_kwargs = {}
    huey.immediate = backend == "immediate"
    huey.storage = huey.create_storage()


def enqueue(request, task, *args, **kwargs) -> None:
    def after_commit(success: bool) -> None:
        if success:
            task(*args, **kwargs)

    request.tm.get().addAfterCommitHook(after_commit)


def includeme(config) -> None:
    configure(config.get_settings())
    config.registry["migasfree.huey"] = huey
    # The registry that tasks of this process use (a worker builds the app, then consumes).
    from .runtime import bind

    bind(config.registry)
    config.add_request_method(enqueue, "enqueue")
