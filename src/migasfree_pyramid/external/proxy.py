"""``GET|HEAD /src/<project>/external/<deployment>/<resource>``: the external-source proxy.

A fresh cached copy is served from disk (Range, If-Modified-Since, HEAD). Otherwise the file is
fetched from ``base_url`` + resource and streamed to the client while it is written to a
temporary file that becomes the cached copy only when complete (``cache.py``).

Decisions (differences from the original, spec repositories.md 3 and Q12):
- Upstream is reached through the guarded client of ``__init__``: a URL it refuses (not http(s),
  or a private/loopback/... address outside ``migasfree.external_allowed_networks``) answers
  403 with a Notification.
- Concurrent requests for one missing file: the first takes ``<work>/<key>.lock`` (flock, so
  across processes) and downloads; the others wait up to ``migasfree.external_lock_wait`` seconds
  and then serve the copy it cached. If it takes longer, they stream from upstream themselves
  without caching (a slow client of the first request must not stall everyone).
- An upstream error before the first bytes go out gives 502 (504 on a timeout); the first
  64 KiB are read before answering, so a small file is complete or refused. A failure after that
  can only abort the response: the connection is dropped and the client sees a body shorter than
  Content-Length. The temporary file is deleted in both cases.
- Upstream 404/410 are passed through without a Notification (apt probes optional index files
  all the time); other 4xx are passed through, 5xx become 502, both with a Notification.
- A body whose end cannot be verified (no Content-Length and not chunked) is streamed but not
  cached. The query string is ignored (it is not part of the resource). HEAD on a file that is
  not cached asks upstream with HEAD and caches nothing.
- Notifications are rate-limited to one per deployment and URL per
  ``migasfree.external_notify_interval`` seconds through Redis (``migasfree.redis_url``); without
  Redis every failure is recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import mimetypes
import os
import time
from dataclasses import dataclass

import redis
from pyramid.response import FileResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..api.errors import error_entry, json_error_response
from ..db import SESSION_FACTORY_KEY, TEST_SESSION_ENVIRON_KEY
from ..models import Deployment, Notification, Project
from ..models.deployments import SOURCE_EXTERNAL
from ..pms import all_extensions, get_pms
from . import CHUNK, ProxySettings, Refused, Upstream, UpstreamError, cache, open_url, upstream_url

log = logging.getLogger(__name__)

QUIET_STATUSES = frozenset({404, 410})
_redis_clients: dict[str, redis.Redis] = {}


# -- the deployment ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """What the proxy needs of an external deployment (no ORM object outlives the lookup)."""

    id: int
    name: str
    slug: str
    base_url: str | None
    frozen: bool
    expire: int
    project_name: str
    project_slug: str
    extensions: tuple[str, ...]


@contextlib.contextmanager
def own_session(request, commit: bool = False):
    """A short session of its own, so that no pooled connection stays checked out while the view
    waits for a lock or a download streams, and so that a Notification survives an error answer
    (pyramid_tm aborts those). Under the test harness, the test's session (rolled back later)."""
    shared = request.environ.get(TEST_SESSION_ENVIRON_KEY)
    if shared is not None:
        yield shared
        if commit:
            shared.flush()
        return
    session = request.registry[SESSION_FACTORY_KEY]()
    try:
        yield session
        if commit:
            session.commit()
    finally:
        session.close()


def find_source(session, project_slug: str, slug: str) -> Source | str:
    """The external deployment, or the 404 message saying what is missing."""
    project = session.execute(
        select(Project.id, Project.name, Project.pms).where(Project.slug == project_slug)
    ).first()
    if project is None:
        return f"Project not exists: {project_slug}"
    row = session.execute(
        select(
            Deployment.id,
            Deployment.name,
            Deployment.base_url,
            Deployment.frozen,
            Deployment.expire,
        ).where(
            Deployment.project_id == project.id,
            Deployment.slug == slug,
            Deployment.source == SOURCE_EXTERNAL,
        )
    ).first()
    if row is None:
        return f"URL not exists: {slug}"
    pms = get_pms(project.pms)
    return Source(
        id=row.id,
        name=row.name,
        slug=slug,
        base_url=row.base_url,
        frozen=bool(row.frozen),
        expire=row.expire if row.expire is not None else 0,
        project_name=project.name,
        project_slug=project_slug,
        extensions=tuple(pms.extensions) if pms else tuple(all_extensions()),
    )


def error_response(request, status: int, message: str) -> Response:
    return json_error_response(request, status, [error_entry(message, "", "path")])


def _first_report(cfg: ProxySettings, deployment_id: int, url: str) -> bool:
    if not cfg.redis_url or cfg.notify_interval <= 0:
        return True
    digest = hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()
    key = f"migasfree:external:notified:{deployment_id}:{digest}"
    try:
        client = _redis_clients.get(cfg.redis_url)
        if client is None:
            client = redis.Redis.from_url(cfg.redis_url, socket_timeout=2, socket_connect_timeout=2)
            _redis_clients[cfg.redis_url] = client
        return bool(client.set(key, "1", nx=True, ex=cfg.notify_interval))
    except redis.RedisError as error:
        log.warning("notification rate limit unavailable: %s", error)
        return True


def notify(request, cfg: ProxySettings, source: Source, resource: str, url: str, error) -> None:
    """Record the download failure for the administrators (spec B.11 wording)."""
    message = (
        f"Deployment (external source): [{source.name}@{source.project_name}], "
        f"resource: [{resource}], remote file: [{url}], from [{request.client_addr}]. "
        f"Error: {error}"
    )
    log.warning("%s", message)
    if not _first_report(cfg, source.id, url):
        return
    try:
        with own_session(request, commit=True) as session:
            session.add(Notification(message=message))
    except SQLAlchemyError:
        log.exception("notification not recorded: %s", message)


# -- answers -----------------------------------------------------------------------------------
def serve_file(request, path: str) -> Response | None:
    """The cached copy (None if it vanished meanwhile). WebOb answers Range (206/416) and
    If-Modified-Since (304) from Content-Length and Last-Modified."""
    content_type, encoding = mimetypes.guess_type(path)
    if encoding or not content_type:
        # Never Content-Encoding: gzip for a .gz file; clients must store the bytes as they are.
        content_type = "application/octet-stream"
    try:
        # wsgi.file_wrapper cannot seek; Range requests read through FileIter instead.
        response = FileResponse(
            path, request=None if request.range else request, content_type=content_type
        )
    except FileNotFoundError:
        return None
    response.accept_ranges = "bytes"
    return response


class Download:
    """The WSGI body of a fetch: upstream bytes to the client, teed into a ``CacheWriter``."""

    def __init__(self, upstream: Upstream, writer, lock, on_error):
        self.upstream = upstream
        self.writer = writer
        self.lock = lock
        self.on_error = on_error
        self.first = b""
        self.finished = False
        self.closed = False

    def prefetch(self) -> None:
        """Read the first CHUNK bytes (or the whole body if smaller) before answering."""
        while len(self.first) < CHUNK:
            chunk = self._read()
            if not chunk:
                self._finish()
                return
            self.first += chunk

    def _read(self) -> bytes:
        chunk = self.upstream.read(CHUNK)
        if chunk and self.writer is not None:
            try:
                self.writer.write(chunk)
            except OSError as error:  # disk full...: the client still gets its file
                log.warning("not caching %s: %s", self.upstream.url, error)
                self.writer.abort()
                self.writer = None
        return chunk

    def _finish(self) -> None:
        self.upstream.check_complete()
        if self.writer is not None:
            try:
                self.writer.commit()
            except OSError as error:
                log.warning("not caching %s: %s", self.upstream.url, error)
        self.finished = True
        self.close()  # frees the lock now: waiting requests can serve the new copy

    def __iter__(self):
        if self.first:
            yield self.first
        while not self.finished:
            try:
                chunk = self._read()
                if not chunk:
                    self._finish()
                    return
            except UpstreamError as error:
                self.close()
                self.on_error(error)
                # After the headers the only way to signal failure is to break the connection.
                raise
            yield chunk

    def close(self) -> None:
        """Called by the WSGI server, also when the client went away mid-download."""
        if self.closed:
            return
        self.closed = True
        if self.writer is not None:
            self.writer.abort()
        self.upstream.close()
        if self.lock is not None:
            self.lock.release()


class Fetch:
    def __init__(self, request, cfg: ProxySettings, source: Source, resource: str, paths):
        self.request = request
        self.cfg = cfg
        self.source = source
        self.resource = resource
        self.paths = paths
        self.url = upstream_url(source.base_url, resource)

    def _report(self, error) -> None:
        notify(self.request, self.cfg, self.source, self.resource, self.url, error)

    def _open(self, method: str) -> Upstream | Response:
        try:
            upstream = open_url(self.url, method, self.cfg)
        except Refused as error:
            self._report(error)
            return error_response(self.request, 403, f"Forbidden remote URL: {error}")
        except UpstreamError as error:
            self._report(error)
            return error_response(self.request, error.status, str(error))
        if upstream.status == 200:
            return upstream
        upstream.close()
        status = upstream.status
        if status not in QUIET_STATUSES:
            self._report(f"upstream answered {status}")
        if not 400 <= status < 500:
            status = 502
        return error_response(self.request, status, f"upstream answered {upstream.status}")

    def head(self) -> Response:
        upstream = self._open("HEAD")
        if isinstance(upstream, Response):
            return upstream
        upstream.close()
        response = Response(status=200)
        response.headers["Content-Type"] = upstream.header("Content-Type") or (
            "application/octet-stream"
        )
        for name in ("Content-Length", "Last-Modified"):
            if upstream.header(name):
                response.headers[name] = upstream.header(name)
        return response

    def get(self, lock: cache.FileLock | None) -> Response:
        """Fetch and stream; ``lock`` (held, or None: do not cache) passes to the body."""
        upstream = self._open("GET")
        if isinstance(upstream, Response):
            if lock is not None:
                lock.release()
            return upstream
        writer = None
        if lock is not None and upstream.verifiable:
            try:
                writer = cache.CacheWriter(self.paths)
            except OSError as error:
                log.warning("not caching %s: %s", self.paths.file, error)
        download = Download(upstream, writer, lock, self._report)
        try:
            download.prefetch()
        except UpstreamError as error:
            download.close()
            self._report(error)
            return error_response(self.request, error.status, str(error))
        except BaseException:
            download.close()
            raise
        headers = [("Content-Type", upstream.header("Content-Type") or "application/octet-stream")]
        if upstream.expected is not None:
            headers.append(("Content-Length", str(upstream.expected)))
        if upstream.header("Last-Modified"):
            headers.append(("Last-Modified", upstream.header("Last-Modified")))
        return Response(status=200, headerlist=headers, app_iter=download)


def _resource(request) -> str:
    # From the raw (decoded) path, not the matchdict: Pyramid collapses ``..`` in ``*resource``,
    # which would turn a traversal attempt into a different file instead of a refusal.
    match = request.matchdict
    prefix = f"/src/{match['project']}/external/{match['deployment']}/"
    if not request.path_info.startswith(prefix):
        raise cache.InvalidPath("Invalid file path")
    return request.path_info[len(prefix) :]


def source_file_view(request):
    """Serve an external deployment's file from the cache, fetching it when needed."""
    started = time.time()
    cfg = ProxySettings.from_settings(request.registry.settings)
    with own_session(request) as session:
        source = find_source(session, request.matchdict["project"], request.matchdict["deployment"])
    if isinstance(source, str):
        return error_response(request, 404, source)
    try:
        resource = _resource(request)
        if not resource:
            return error_response(request, 404, "Not found.")
        paths = cache.locate(cfg.public_dir, source.project_slug, source.slug, resource)
    except cache.InvalidPath as error:
        return error_response(request, 400, str(error))
    package = cache.is_package(resource, source.extensions)

    def cached(not_before=None) -> Response | None:
        st = cache.cached_stat(paths.file)
        if st is None or not cache.is_fresh(
            st,
            package=package,
            frozen=source.frozen,
            expire_minutes=source.expire,
            now=time.time(),
            not_before=not_before,
        ):
            return None
        return serve_file(request, paths.file)

    response = cached()
    if response is not None:
        return response
    if os.path.isdir(paths.file):
        return error_response(request, 404, "Not found.")
    fetch = Fetch(request, cfg, source, resource, paths)
    if request.method == "HEAD":
        return fetch.head()
    lock = cache.FileLock(paths.lock)
    try:
        locked = lock.acquire(cfg.lock_wait)
    except OSError as error:  # e.g. a file where the work directory should be
        log.warning("cannot lock %s: %s", paths.lock, error)
        locked = False
    if not locked:
        return fetch.get(None)
    try:
        response = cached(not_before=started)
        if response is not None:
            lock.release()
            return response
        return fetch.get(lock)
    except BaseException:
        lock.release()
        raise
