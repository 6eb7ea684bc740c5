"""One build per deployment at a time, across threads, processes and hosts.

With Redis (``migasfree.redis_url``) the lock is a Redis key with an expiry, renewed by a
heartbeat thread while the build runs: a worker killed mid-build (SIGKILL, OOM, power loss)
stops renewing it, so it frees itself after ``repositories.lock_ttl`` seconds instead of blocking
that deployment forever. huey's own ``lock_task`` has no expiry (only ``--flush-locks`` at the
next consumer start clears it), which is why it is not used here.

Without Redis (the embedded default: SQLite, one host) the lock is ``fcntl.flock`` on a file
under ``var_dir``: the kernel releases it when its holder dies, so it can never go stale, and it
excludes threads of one process as well as other processes. It does not work across hosts,
which the embedded default never spans.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import logging
import os
import threading
import time

import redis

log = logging.getLogger(__name__)


class BuildLock:
    """Interface of both locks; ``acquire(timeout=None)`` does not wait when timeout is None."""

    def acquire(self, timeout: float | None = None) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def owned(self) -> bool:
        """Still ours (a Redis lock can expire under a build that outlived its renewals)."""
        raise NotImplementedError

    def busy(self) -> bool:
        """Held by anyone, this process included."""
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.release()


@functools.lru_cache(maxsize=8)
def redis_client(url: str) -> redis.Redis:
    # One connection pool per process and URL; redis-py resets it in a forked child.
    return redis.Redis.from_url(url)


class RedisBuildLock(BuildLock):
    def __init__(self, client: redis.Redis, key: str, ttl: float, max_hold: float):
        self.ttl, self.max_hold = ttl, max_hold
        # Not thread-local: the heartbeat thread renews what the task thread acquired.
        self.lock = client.lock(key, timeout=ttl, thread_local=False)
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def acquire(self, timeout: float | None = None) -> bool:
        if not self.lock.acquire(blocking=timeout is not None, blocking_timeout=timeout):
            return False
        self._stop.clear()
        self._heartbeat = threading.Thread(target=self._renew, name="build-lock", daemon=True)
        self._heartbeat.start()
        return True

    def _renew(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(self.ttl / 3):
            if time.monotonic() - started > self.max_hold:
                # A build this long is stuck: let the lock expire so that others may build.
                log.error("build lock %s held too long; no longer renewed", self.lock.name)
                return
            try:
                self.lock.reacquire()
            except redis.exceptions.LockError:
                log.error("build lock %s was lost", self.lock.name)
                return

    def release(self) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
            self._heartbeat = None
        with contextlib.suppress(redis.exceptions.LockError):
            self.lock.release()

    def owned(self) -> bool:
        return bool(self.lock.owned())

    def busy(self) -> bool:
        return bool(self.lock.locked())


class FileBuildLock(BuildLock):
    def __init__(self, path: str):
        self.path = path
        self._fd: int | None = None

    def _open(self) -> int:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def acquire(self, timeout: float | None = None) -> bool:
        fd = self._open()
        deadline = time.monotonic() + (timeout or 0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.1)
            else:
                self._fd = fd
                return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def owned(self) -> bool:
        return self._fd is not None

    def busy(self) -> bool:
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing also drops the lock taken just now
        return False


def build_lock(settings, deployment_id: int) -> BuildLock:
    """The build lock of a deployment, per the settings (Redis when configured)."""
    url = settings.get("migasfree.redis_url")
    if url:
        # Named after the public directory too: two sites (or test runs) sharing one Redis
        # build different trees and must not block each other.
        public = os.path.realpath(settings["migasfree.public_dir"])
        site = hashlib.sha256(public.encode()).hexdigest()[:12]
        return RedisBuildLock(
            redis_client(url),
            f"migasfree:repos:lock:{site}:{deployment_id}",
            ttl=float(settings.get("repositories.lock_ttl", 60)),
            max_hold=float(settings.get("repositories.build_timeout", 7200)),
        )
    path = os.path.join(settings["migasfree.var_dir"], "locks", f"repository-{deployment_id}.lock")
    return FileBuildLock(path)
