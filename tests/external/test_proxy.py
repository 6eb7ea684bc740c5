"""The external-source proxy ``/src/<project>/external/<deployment>/<resource>`` against a local
upstream mirror: caching, expiry, failures, path safety, SSRF guard, Range/HEAD, concurrency."""

from __future__ import annotations

import http.client
import os
import socket
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
import webob
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from webtest.http import StopableWSGIServer

from migasfree_pyramid.external import cache
from migasfree_pyramid.models import Deployment, Notification, Platform, Project

from ..factories import Factory
from . import allow_loopback_fixture, forget_rate_limits_fixture, mirror_fixture  # noqa: F401

DEB = bytes(range(256)) * 1024  # 256 KiB: several 64 KiB chunks
DEB_PATH = "pool/main/h/hello_1.0_all.deb"
INRELEASE = b"Origin: Test\nSuite: stable\nCodename: stable\n"


def external(make, mirror, **fields):
    fields.setdefault("frozen", False)
    fields.setdefault("expire", 0)
    fields.setdefault("base_url", mirror.base_url)
    return make.deployment(
        project=fields.pop("project", None) or make.project(), source="E", **fields
    )


def src(dep, resource: str) -> str:
    return f"/src/{dep.project.slug}/external/{dep.slug}/{resource}"


def cached_path(registry, dep, resource: str) -> str:
    root = cache.cache_root(registry.settings["migasfree.public_dir"], dep.project.slug, dep.slug)
    return os.path.join(root, resource)


def leftovers(registry, dep) -> list[str]:
    work = os.path.join(os.path.dirname(cached_path(registry, dep, "x")), cache.WORK_DIR)
    return (
        [name for name in os.listdir(work) if name.endswith(".part")] if os.path.isdir(work) else []
    )


def notifications(dbsession, dep) -> list[str]:
    rows = dbsession.scalars(select(Notification.message).order_by(Notification.id))
    return [message for message in rows if f"[{dep.name}@{dep.project.name}]" in message]


def age(path: str, minutes: float) -> None:
    then = time.time() - minutes * 60
    os.utime(path, (then, then))


@pytest.fixture
def setting(registry, monkeypatch):
    def set_(key, value):
        monkeypatch.setitem(registry.settings, f"migasfree.external_{key}", value)

    return set_


# -- caching -----------------------------------------------------------------------------------
def test_first_fetch_streams_and_caches(client, make, mirror, allow_loopback, registry):
    mirror.files[f"/debian/{DEB_PATH}"] = DEB
    dep = external(make, mirror)
    res = client.get(src(dep, DEB_PATH), as_="anonymous")
    assert res.status_code == 200
    assert res.body == DEB
    assert res.headers["Content-Length"] == str(len(DEB))
    assert res.headers["Last-Modified"] == "Mon, 01 Jan 2024 00:00:00 GMT"
    with open(cached_path(registry, dep, DEB_PATH), "rb") as cached:
        assert cached.read() == DEB
    assert oct(os.stat(cached_path(registry, dep, DEB_PATH)).st_mode & 0o777) == "0o644"
    assert leftovers(registry, dep) == []
    assert mirror.hits(f"/debian/{DEB_PATH}") == 1


def test_second_request_is_served_from_the_cache(client, make, mirror, allow_loopback):
    mirror.files[f"/debian/{DEB_PATH}"] = DEB
    dep = external(make, mirror)
    client.get(src(dep, DEB_PATH), as_="anonymous")
    res = client.get(src(dep, DEB_PATH), as_="anonymous")
    assert res.status_code == 200
    assert res.body == DEB
    assert res.headers["Content-Length"] == str(len(DEB))
    assert res.headers["Accept-Ranges"] == "bytes"
    assert "Content-Encoding" not in res.headers
    assert res.last_modified is not None
    assert mirror.hits(f"/debian/{DEB_PATH}") == 1
    # If-Modified-Since of that copy: 304 from the cache too.
    res = client.get(
        src(dep, DEB_PATH),
        as_="anonymous",
        headers={"If-Modified-Since": res.headers["Last-Modified"]},
    )
    assert res.status_code == 304
    assert mirror.hits(f"/debian/{DEB_PATH}") == 1


def test_metadata_of_a_non_frozen_source_is_refetched_when_expire_is_zero(
    client, make, mirror, allow_loopback
):
    mirror.files["/debian/dists/stable/InRelease"] = INRELEASE
    dep = external(make, mirror, expire=0)
    assert client.get(src(dep, "dists/stable/InRelease"), as_="anonymous").body == INRELEASE
    mirror.files["/debian/dists/stable/InRelease"] = INRELEASE + b"Version: 2\n"
    res = client.get(src(dep, "dists/stable/InRelease"), as_="anonymous")
    assert res.body == INRELEASE + b"Version: 2\n"
    assert mirror.hits("/debian/dists/stable/InRelease") == 2


def test_metadata_is_refetched_only_after_expire_minutes(
    client, make, mirror, allow_loopback, registry
):
    mirror.files["/debian/dists/stable/InRelease"] = INRELEASE
    dep = external(make, mirror, expire=60)
    url = src(dep, "dists/stable/InRelease")
    client.get(url, as_="anonymous")
    mirror.files["/debian/dists/stable/InRelease"] = b"new\n"
    assert client.get(url, as_="anonymous").body == INRELEASE
    age(cached_path(registry, dep, "dists/stable/InRelease"), 59)
    assert client.get(url, as_="anonymous").body == INRELEASE
    assert mirror.hits("/debian/dists/stable/InRelease") == 1
    age(cached_path(registry, dep, "dists/stable/InRelease"), 61)
    assert client.get(url, as_="anonymous").body == b"new\n"
    assert mirror.hits("/debian/dists/stable/InRelease") == 2


def test_a_frozen_source_never_refreshes(client, make, mirror, allow_loopback, registry):
    mirror.files["/debian/dists/stable/InRelease"] = INRELEASE
    dep = external(make, mirror, frozen=True, expire=0)
    url = src(dep, "dists/stable/InRelease")
    client.get(url, as_="anonymous")
    mirror.files["/debian/dists/stable/InRelease"] = b"new\n"
    age(cached_path(registry, dep, "dists/stable/InRelease"), 60 * 24 * 365)
    assert client.get(url, as_="anonymous").body == INRELEASE
    assert mirror.hits("/debian/dists/stable/InRelease") == 1


def test_package_files_never_refresh(client, make, mirror, allow_loopback, registry):
    mirror.files[f"/debian/{DEB_PATH}"] = DEB
    dep = external(make, mirror, frozen=False, expire=0)
    client.get(src(dep, DEB_PATH), as_="anonymous")
    age(cached_path(registry, dep, DEB_PATH), 60 * 24 * 365)
    assert client.get(src(dep, DEB_PATH), as_="anonymous").body == DEB
    assert mirror.hits(f"/debian/{DEB_PATH}") == 1


def test_package_extensions_come_from_the_project_pms(client, make, mirror, allow_loopback):
    # A .deb is metadata for a dnf project: refreshed like any other file when expired.
    mirror.files[f"/debian/{DEB_PATH}"] = DEB
    mirror.files["/debian/Packages/x.rpm"] = b"rpm"
    dep = external(make, mirror, project=make.project(pms="dnf", architecture="x86_64"))
    for _ in range(2):
        client.get(src(dep, DEB_PATH), as_="anonymous")
        client.get(src(dep, "Packages/x.rpm"), as_="anonymous")
    assert mirror.hits(f"/debian/{DEB_PATH}") == 2
    assert mirror.hits("/debian/Packages/x.rpm") == 1


def test_chunked_upstream_bodies_are_cached(client, make, mirror, allow_loopback, registry):
    mirror.files["/debian/chunked/Packages"] = b"Package: a\n" * 500
    dep = external(make, mirror, frozen=True)
    res = client.get(src(dep, "chunked/Packages"), as_="anonymous")
    assert res.body == b"Package: a\n" * 500
    with open(cached_path(registry, dep, "chunked/Packages"), "rb") as cached:
        assert cached.read() == b"Package: a\n" * 500


def test_redirects_are_followed(client, make, mirror, allow_loopback):
    mirror.files[f"/debian/{DEB_PATH}"] = DEB
    mirror.redirects["/debian/moved.deb"] = f"/debian/{DEB_PATH}"
    dep = external(make, mirror)
    res = client.get(src(dep, "moved.deb"), as_="anonymous")
    assert res.status_code == 200
    assert res.body == DEB


# -- failures ----------------------------------------------------------------------------------
def test_a_truncated_small_file_answers_502_and_caches_nothing(
    client, make, mirror, allow_loopback, registry, dbsession
):
    mirror.files["/debian/truncated/small.deb"] = b"x" * 1000
    dep = external(make, mirror)
    res = client.get(src(dep, "truncated/small.deb"), as_="anonymous")
    assert res.status_code == 502
    assert not os.path.exists(cached_path(registry, dep, "truncated/small.deb"))
    assert leftovers(registry, dep) == []
    [message] = notifications(dbsession, dep)
    assert message.startswith(f"Deployment (external source): [{dep.name}@{dep.project.name}]")
    assert "resource: [truncated/small.deb]" in message
    assert f"remote file: [{mirror.base_url}/truncated/small.deb]" in message
    assert "from [127.0.0.1]. Error: upstream sent 1000 of 2000 bytes" in message


def test_a_truncated_large_file_breaks_the_response_and_caches_nothing(
    testapp, make, mirror, allow_loopback, registry, dbsession
):
    # Headers went out with the first 64 KiB: the only signal left is to abort the body.
    mirror.files["/debian/truncated/big.deb"] = DEB
    dep = external(make, mirror)
    with pytest.raises(Exception, match="upstream sent 262144 of 524288 bytes"):
        testapp.get(src(dep, "truncated/big.deb"))
    assert not os.path.exists(cached_path(registry, dep, "truncated/big.deb"))
    assert leftovers(registry, dep) == []
    assert len(notifications(dbsession, dep)) == 1
    lock = cache.FileLock(
        cache.locate(
            registry.settings["migasfree.public_dir"],
            dep.project.slug,
            dep.slug,
            "truncated/big.deb",
        ).lock
    )
    assert lock.acquire(0)  # released
    lock.release()


def test_a_client_leaving_mid_download_leaves_no_partial_file(
    app, testapp, make, mirror, allow_loopback, registry
):
    mirror.files[f"/debian/{DEB_PATH}"] = DEB
    dep = external(make, mirror)
    environ = webob.Request.blank(src(dep, DEB_PATH), environ=dict(testapp.extra_environ)).environ
    started = []
    body = app(environ, lambda status, headers, exc_info=None: started.append(status))
    assert next(iter(body))  # the first chunk reached the client...
    body.close()  # ... which hung up
    assert started == ["200 OK"]
    assert not os.path.exists(cached_path(registry, dep, DEB_PATH))
    assert leftovers(registry, dep) == []
    # The lock was released: the next request downloads and caches.
    assert testapp.get(src(dep, DEB_PATH)).body == DEB
    assert os.path.exists(cached_path(registry, dep, DEB_PATH))


@pytest.mark.parametrize(("status", "answer"), [(404, 404), (410, 410), (403, 403), (500, 502)])
def test_upstream_statuses(client, make, mirror, allow_loopback, dbsession, status, answer):
    dep = external(make, mirror)
    res = client.get(src(dep, f"status/{status}"), as_="anonymous")
    assert res.status_code == answer
    assert res.json["status"] == "error"
    assert len(notifications(dbsession, dep)) == (0 if status in (404, 410) else 1)


def test_notifications_about_one_url_are_rate_limited(
    client, make, mirror, allow_loopback, dbsession, registry
):
    assert registry.settings["migasfree.redis_url"]  # testing.ini configures Redis
    dep = external(make, mirror)
    for _ in range(3):
        assert client.get(src(dep, "status/503"), as_="anonymous").status_code == 502
    client.get(src(dep, "status/500"), as_="anonymous")
    messages = notifications(dbsession, dep)
    assert len(messages) == 2
    assert "status/503" in messages[0]
    assert "status/500" in messages[1]


def test_an_upstream_timeout_answers_504(client, make, mirror, allow_loopback, setting, registry):
    setting("read_timeout", 0.2)
    mirror.files["/debian/stall/Packages"] = b"late"
    dep = external(make, mirror)
    res = client.get(src(dep, "stall/Packages"), as_="anonymous")
    assert res.status_code == 504
    assert not os.path.exists(cached_path(registry, dep, "stall/Packages"))


def test_an_unreachable_upstream_answers_502(client, make, allow_loopback, dbsession):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    dep = make.deployment(source="E", base_url=f"http://127.0.0.1:{port}/x", frozen=False)
    assert client.get(src(dep, "Release"), as_="anonymous").status_code == 502
    assert len(notifications(dbsession, dep)) == 1


# -- what may be asked -------------------------------------------------------------------------
def test_unknown_project_deployment_and_internal_sources_are_404(client, make, mirror):
    dep = external(make, mirror)
    internal = make.deployment(project=dep.project, source="I")
    assert client.get(f"/src/nope/external/{dep.slug}/x", as_="anonymous").status_code == 404
    assert (
        client.get(f"/src/{dep.project.slug}/external/nope/x", as_="anonymous").status_code == 404
    )
    assert client.get(src(internal, "x"), as_="anonymous").status_code == 404
    assert client.get(src(dep, ""), as_="anonymous").status_code == 404
    res = client.get(f"/src/nope/external/{dep.slug}/x", as_="anonymous")
    assert res.json["errors"][0]["description"] == "Project not exists: nope"
    assert client.post(src(dep, "x"), as_="anonymous").status_code == 404
    assert mirror.requests == []


@pytest.mark.parametrize(
    "resource",
    [
        "../../../../etc/passwd",
        "dists/../../other/Release",
        "%2e%2e/%2e%2e/etc/passwd",
        "dists%2F..%2F..%2Fx",
        "/etc/passwd",
        "dists//Release",
        "dists/./Release",
        "dists/Release%00.deb",
        "dists/Rel ease",
        "dists/Release;rm",
    ],
)
def test_unsafe_paths_are_refused(client, make, mirror, allow_loopback, resource):
    dep = external(make, mirror)
    res = client.get(f"/src/{dep.project.slug}/external/{dep.slug}/{resource}", as_="anonymous")
    assert res.status_code == 400
    assert res.json["errors"][0]["description"] == "Invalid file path"
    assert mirror.requests == []


def test_a_symlink_out_of_the_cache_is_refused(client, make, mirror, allow_loopback, registry):
    dep = external(make, mirror)
    root = os.path.dirname(cached_path(registry, dep, "x"))
    os.makedirs(root)
    os.symlink("/etc", os.path.join(root, "evil"))
    assert client.get(src(dep, "evil/passwd"), as_="anonymous").status_code == 400
    assert mirror.requests == []


def test_loopback_upstream_is_refused_without_allow_list(client, make, mirror, dbsession):
    mirror.files["/debian/dists/stable/InRelease"] = INRELEASE
    dep = external(make, mirror)
    res = client.get(src(dep, "dists/stable/InRelease"), as_="anonymous")
    assert res.status_code == 403
    assert mirror.requests == []
    [message] = notifications(dbsession, dep)
    assert f"[{dep.name}@{dep.project.name}]" in message
    assert "forbidden address (127.0.0.1)" in message


def test_a_redirect_to_a_private_address_is_refused(
    client, make, mirror, allow_loopback, dbsession
):
    mirror.redirects["/debian/evil.deb"] = "http://10.255.255.1/secret"
    dep = external(make, mirror)
    res = client.get(src(dep, "evil.deb"), as_="anonymous")
    assert res.status_code == 403
    assert "10.255.255.1" in notifications(dbsession, dep)[0]


@pytest.mark.parametrize("base_url", ["ftp://example.org/debian", "file:///etc", "http:///x"])
def test_only_http_urls_are_fetched(client, make, mirror, dbsession, base_url):
    dep = external(make, mirror, base_url=base_url)
    assert client.get(src(dep, "Release"), as_="anonymous").status_code == 403
    assert len(notifications(dbsession, dep)) == 1


def test_the_host_is_resolved_once_and_the_checked_address_used(
    client, make, mirror, allow_loopback, monkeypatch, dbsession
):
    real = socket.getaddrinfo
    lookups = []

    def fake(host, port, *args, **kwargs):
        if host == "mirror.test":
            lookups.append(host)
            # A rebinding resolver: safe the first time, internal afterwards.
            return real("127.0.0.1" if len(lookups) == 1 else "10.0.0.1", port, *args, **kwargs)
        if host == "intranet.test":
            return real("10.1.2.3", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    mirror.files["/debian/Release"] = b"release"
    dep = external(make, mirror, base_url=f"http://mirror.test:{mirror.port}/debian")
    assert client.get(src(dep, "Release"), as_="anonymous").body == b"release"
    assert lookups == ["mirror.test"]
    assert mirror.hosts() == {f"mirror.test:{mirror.port}": 1}

    other = external(make, mirror, base_url=f"http://intranet.test:{mirror.port}/debian")
    assert client.get(src(other, "Release"), as_="anonymous").status_code == 403


def test_allowed_networks_admit_internal_mirrors(client, make, mirror, setting):
    from migasfree_pyramid.external import as_networks

    mirror.files["/debian/Release"] = b"release"
    dep = external(make, mirror)
    setting("allowed_networks", as_networks("10.0.0.0/8, ::1/128"))
    assert client.get(src(dep, "Release"), as_="anonymous").status_code == 403
    setting("allowed_networks", as_networks("10.0.0.0/8 127.0.0.1/32"))
    assert client.get(src(dep, "Release"), as_="anonymous").status_code == 200


# -- Range and HEAD ----------------------------------------------------------------------------
def test_range_and_head_on_a_cached_file(client, make, mirror, allow_loopback):
    mirror.files[f"/debian/{DEB_PATH}"] = DEB
    dep = external(make, mirror)
    url = src(dep, DEB_PATH)
    client.get(url, as_="anonymous")
    res = client.get(url, as_="anonymous", headers={"Range": "bytes=10-19"})
    assert res.status_code == 206
    assert res.body == DEB[10:20]
    assert res.headers["Content-Range"] == f"bytes 10-19/{len(DEB)}"
    res = client.get(url, as_="anonymous", headers={"Range": f"bytes={len(DEB) - 5}-"})
    assert res.status_code == 206
    assert res.body == DEB[-5:]
    res = client.get(url, as_="anonymous", headers={"Range": f"bytes={len(DEB)}-"})
    assert res.status_code == 416
    res = client.call("HEAD", url, "anonymous")
    assert res.status_code == 200
    assert res.headers["Content-Length"] == str(len(DEB))
    assert res.body == b""
    assert mirror.hits(f"/debian/{DEB_PATH}") == 1
    assert mirror.hits(f"/debian/{DEB_PATH}", "HEAD") == 0


def test_head_on_a_missing_file_asks_upstream_and_caches_nothing(
    client, make, mirror, allow_loopback, registry
):
    mirror.files[f"/debian/{DEB_PATH}"] = DEB
    dep = external(make, mirror)
    res = client.call("HEAD", src(dep, DEB_PATH), "anonymous")
    assert res.status_code == 200
    assert res.headers["Content-Length"] == str(len(DEB))
    assert res.headers["Last-Modified"] == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert not os.path.exists(cached_path(registry, dep, DEB_PATH))
    assert client.call("HEAD", src(dep, "nothing.deb"), "anonymous").status_code == 404
    assert mirror.hits(f"/debian/{DEB_PATH}", "HEAD") == 1
    assert mirror.hits(f"/debian/{DEB_PATH}") == 0


# -- concurrency, through a real server ----------------------------------------------------------
@pytest.fixture
def live(app, engine, mirror, allow_loopback):
    """A committed external deployment and the app served by waitress: concurrent requests each
    get their own session and transaction, as in production."""
    session = Session(bind=engine)
    name = f"ext-{uuid.uuid4().hex[:10]}"
    make = Factory(session)
    dep = external(make, mirror, project=make.project(name=name), name=name)
    ids = (dep.id, dep.project.id, dep.project.platform_id)
    session.commit()
    server = StopableWSGIServer.create(app, threads=8)
    server.dep = dep
    yield server
    server.shutdown()
    session.execute(delete(Notification).where(Notification.message.contains(f"[{name}@")))
    session.execute(delete(Deployment).where(Deployment.id == ids[0]))
    session.execute(delete(Project).where(Project.id == ids[1]))
    session.execute(delete(Platform).where(Platform.id == ids[2]))
    session.commit()
    session.close()


def fetch(server, path: str) -> tuple[int, bytes]:
    url = urlsplit(server.application_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def fetch_together(server, path: str, count: int) -> list[tuple[int, bytes]]:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index):
        barrier.wait()
        results[index] = fetch(server, path)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_concurrent_requests_fetch_upstream_once(live, mirror, registry):
    mirror.files[f"/debian/slow/{DEB_PATH}"] = DEB
    results = fetch_together(live, src(live.dep, f"slow/{DEB_PATH}"), 6)
    assert results == [(200, DEB)] * 6
    assert mirror.hits(f"/debian/slow/{DEB_PATH}") == 1
    with open(cached_path(registry, live.dep, f"slow/{DEB_PATH}"), "rb") as cached:
        assert cached.read() == DEB
    assert leftovers(registry, live.dep) == []


def test_waiters_stream_without_caching_after_lock_wait(live, mirror, registry, setting):
    setting("lock_wait", 0.05)
    mirror.slow_delay = 0.1
    mirror.files[f"/debian/slow/{DEB_PATH}"] = DEB
    results = fetch_together(live, src(live.dep, f"slow/{DEB_PATH}"), 3)
    assert results == [(200, DEB)] * 3
    assert mirror.hits(f"/debian/slow/{DEB_PATH}") == 3
    with open(cached_path(registry, live.dep, f"slow/{DEB_PATH}"), "rb") as cached:
        assert cached.read() == DEB
    assert leftovers(registry, live.dep) == []


def test_a_truncated_download_through_a_real_server(live, mirror, registry, engine):
    mirror.files["/debian/truncated/big.deb"] = DEB
    url = urlsplit(live.application_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.request("GET", src(live.dep, "truncated/big.deb"))
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Length") == str(2 * len(DEB))
        with pytest.raises(http.client.IncompleteRead):
            response.read()
    finally:
        connection.close()
    assert not os.path.exists(cached_path(registry, live.dep, "truncated/big.deb"))
    assert leftovers(registry, live.dep) == []
    with Session(bind=engine) as session:  # committed in a transaction of its own
        messages = session.scalars(
            select(Notification.message).where(Notification.message.contains(live.dep.name))
        ).all()
    assert len(messages) == 1
    assert "upstream sent 262144 of 524288 bytes" in messages[0]
