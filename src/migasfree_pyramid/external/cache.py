"""The on-disk side of the external-source proxy: where a resource is cached, whether the copy is
still fresh, the per-file lock and the temporary file that becomes the cached copy.

Layout: ``<public>/<project>/external/<deployment>/<resource>`` holds the cached copies (the path
the original uses, so an existing cache keeps working). Lock and temporary files live in
``<deployment dir>/@proxy/``: ``@`` is outside the resource alphabet, so no request can name (and
overwrite, or be served) one of them, and removing the deployment directory removes them too.

A cached file only ever appears through ``os.replace`` of a complete temporary file, so a reader
sees the old copy or the new one, never a partial file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

EXTERNAL_DIR = "external"
WORK_DIR = "@proxy"
RESOURCE_RE = re.compile(r"^[a-zA-Z0-9_\-+~/.]+$")
LOCK_POLL_SECONDS = 0.05
STALE_TEMP_SECONDS = 24 * 3600


class InvalidPath(ValueError):
    """The resource path is not acceptable (bad characters, ``..``, absolute, escapes)."""


def clean_resource(resource: str) -> str:
    """Return ``resource`` if it is a safe relative path, else raise ``InvalidPath``.

    Empty and ``.`` segments are refused as well as ``..``: ``a//b`` and ``a/./b`` would name the
    same cache file as ``a/b`` while asking upstream for a different URL.
    """
    if not resource or not RESOURCE_RE.match(resource):
        raise InvalidPath("Invalid file path")
    if any(segment in ("", ".", "..") for segment in resource.split("/")):
        raise InvalidPath("Invalid file path")
    return resource


def cache_root(public_dir: str, project_slug: str, slug: str) -> str:
    """The directory holding the cached copies of one external deployment."""
    return os.path.join(public_dir, project_slug, EXTERNAL_DIR, slug)


@dataclass(frozen=True)
class CachePaths:
    root: str
    file: str
    lock: str
    work: str
    key: str

    def temp_prefix(self) -> str:
        return f"{self.key}."


def locate(public_dir: str, project_slug: str, slug: str, resource: str) -> CachePaths:
    """Where ``resource`` of a deployment is cached; ``InvalidPath`` if it would leave the
    deployment's cache directory (also through a symbolic link planted inside it)."""
    resource = clean_resource(resource)
    root = cache_root(public_dir, project_slug, slug)
    target = os.path.join(root, *resource.split("/"))
    real_root = os.path.realpath(root)
    if not os.path.realpath(target).startswith(real_root + os.sep):
        raise InvalidPath("Invalid file path")
    key = hashlib.sha1(resource.encode(), usedforsecurity=False).hexdigest()
    work = os.path.join(root, WORK_DIR)
    return CachePaths(root, target, os.path.join(work, f"{key}.lock"), work, key)


def is_package(resource: str, extensions) -> bool:
    """Package files never change upstream once published: they are never refreshed."""
    name = resource.rsplit("/", 1)[-1]
    return any(name.endswith(f".{ext}") for ext in extensions)


def cached_stat(path: str) -> os.stat_result | None:
    """The cached copy's stat, or None when there is none. Empty files count as missing (as in
    the original); directories too."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not os.path.isfile(path) or st.st_size == 0:
        return None
    return st


def is_fresh(
    st: os.stat_result,
    *,
    package: bool,
    frozen: bool,
    expire_minutes: int,
    now: float,
    not_before: float | None = None,
) -> bool:
    """May the cached copy be served without asking upstream?

    Package files and anything of a frozen source: always. Metadata of other sources: while
    younger than ``expire`` minutes (``expire <= 0``: never), or when it was fetched after
    ``not_before`` (the moment the current request arrived: a copy another request fetched while
    this one waited is as new as a fetch of our own would be).
    """
    if package or frozen:
        return True
    if not_before is not None and st.st_mtime >= not_before:
        return True
    if expire_minutes <= 0:
        return False
    return now - st.st_mtime <= expire_minutes * 60


class FileLock:
    """An exclusive ``flock`` on a lock file: held across processes, released by ``release``
    (or when the process dies, since the kernel drops it with the descriptor)."""

    def __init__(self, path: str):
        self.path = path
        self.fd: int | None = None

    def acquire(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; False when another holder kept it that long."""
        deadline = time.monotonic() + max(timeout, 0)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            os.close(fd)
                            return False
                        time.sleep(LOCK_POLL_SECONDS)
            except BaseException:
                os.close(fd)
                raise
            # The cleanup task unlinks unheld lock files; if it did so between our open and our
            # flock we hold a lock nobody else can see: start again on the current file.
            if _same_file(fd, self.path):
                self.fd = fd
                return True
            os.close(fd)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    @property
    def held(self) -> bool:
        return self.fd is not None


def _same_file(fd: int, path: str) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (own.st_dev, own.st_ino) == (st.st_dev, st.st_ino)


class CacheWriter:
    """A temporary file in the work directory that becomes the cached copy on ``commit``."""

    def __init__(self, paths: CachePaths):
        self.target = paths.file
        os.makedirs(os.path.dirname(paths.file), exist_ok=True)
        os.makedirs(paths.work, exist_ok=True)
        fd, self.temp = tempfile.mkstemp(dir=paths.work, prefix=paths.temp_prefix(), suffix=".part")
        self.file = os.fdopen(fd, "wb")
        self.size = 0
        self.done = False

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self.size += len(chunk)

    def commit(self) -> None:
        """Make the written bytes the cached copy (atomically)."""
        self.file.flush()
        # Durable before visible: after a crash the name must not point at missing data.
        os.fsync(self.file.fileno())
        self.file.close()
        # mkstemp creates 0600; the front web server serving <public> must be able to read it.
        os.chmod(self.temp, 0o644)
        # The mtime is the fetch time, which the expiry rule reads.
        os.utime(self.temp)
        os.replace(self.temp, self.target)
        self.done = True

    def abort(self) -> None:
        """Forget the download: the temporary file goes, the cached copy is left as it was."""
        if self.done:
            return
        self.done = True
        self.file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temp)


def iter_cached(root: str) -> Iterator[tuple[str, str, os.stat_result]]:
    """``(resource, path, stat)`` for every cached regular file under a deployment's root."""
    for directory, dirs, files in os.walk(root):
        if directory == root and WORK_DIR in dirs:
            dirs.remove(WORK_DIR)
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(directory, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            resource = os.path.relpath(path, root).replace(os.sep, "/")
            yield resource, path, os.stat(path)


def clean_work_dir(root: str, now: float | None = None) -> int:
    """Delete temporary files left by a crashed process and lock files nobody holds.

    Returns how many files went. A lock file is unlinked only while we hold its lock, and
    ``FileLock.acquire`` notices a lock file that was unlinked under it, so this never lets two
    downloads of one file run together.
    """
    work = os.path.join(root, WORK_DIR)
    now = time.time() if now is None else now
    removed = 0
    try:
        names = sorted(os.listdir(work))
    except FileNotFoundError:
        return 0
    for name in names:
        path = os.path.join(work, name)
        if name.endswith(".part"):
            with contextlib.suppress(FileNotFoundError):
                if now - os.stat(path).st_mtime > STALE_TEMP_SECONDS:
                    os.unlink(path)
                    removed += 1
        elif name.endswith(".lock"):
            lock = FileLock(path)
            if lock.acquire(0):
                try:
                    os.unlink(path)
                    removed += 1
                finally:
                    lock.release()
    return removed
