"""The cache's building blocks (paths, freshness, lock, writer) and the weekly orphan check."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import time

import pytest
from sqlalchemy.orm import sessionmaker

from migasfree_pyramid.db import SESSION_FACTORY_KEY
from migasfree_pyramid.external import address_allowed, as_networks, cache
from migasfree_pyramid.external.tasks import (
    remove_orphan_files,
    remove_orphan_files_from_external_deployments,
)
from migasfree_pyramid.tasks import runtime

from . import allow_loopback_fixture, forget_rate_limits_fixture, mirror_fixture  # noqa: F401


# -- paths -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "resource",
    ["dists/stable/InRelease", "pool/main/h/hello_1.0+b1~2_all.deb", "x86_64/repodata/a.xml.gz"],
)
def test_clean_resources_are_accepted(resource):
    assert cache.clean_resource(resource) == resource


@pytest.mark.parametrize(
    "resource",
    ["", "..", "a/../b", "/etc/passwd", "a//b", "a/./b", "a/", "a b", "a%2e", "é", "a\x00b", "@x"],
)
def test_unsafe_resources_are_refused(resource):
    with pytest.raises(cache.InvalidPath):
        cache.clean_resource(resource)


def test_locate_builds_the_original_layout(tmp_path):
    paths = cache.locate(str(tmp_path), "proj", "deb", "dists/stable/InRelease")
    assert paths.root == str(tmp_path / "proj" / "external" / "deb")
    assert paths.file == str(tmp_path / "proj" / "external" / "deb" / "dists/stable/InRelease")
    assert paths.lock.startswith(os.path.join(paths.root, cache.WORK_DIR) + os.sep)
    assert paths.lock.endswith(".lock")
    assert cache.locate(str(tmp_path), "proj", "deb", "dists/stable/Release").lock != paths.lock


def test_locate_refuses_a_symlink_leaving_the_cache(tmp_path):
    root = tmp_path / "proj" / "external" / "deb"
    root.mkdir(parents=True)
    (root / "out").symlink_to(tmp_path)
    with pytest.raises(cache.InvalidPath):
        cache.locate(str(tmp_path), "proj", "deb", "out/secret")


def test_is_package_uses_the_given_extensions():
    assert cache.is_package("pool/a_1_all.deb", ("deb",))
    assert not cache.is_package("dists/stable/Release", ("deb",))
    assert cache.is_package("core/x-1-1-any.pkg.tar.zst", ("pkg.tar.zst", "pkg.tar.xz"))
    assert not cache.is_package("pool/a.deb.sig", ("deb",))


# -- freshness ---------------------------------------------------------------------------------
def test_cached_stat_ignores_missing_empty_and_directories(tmp_path):
    assert cache.cached_stat(str(tmp_path / "missing")) is None
    assert cache.cached_stat(str(tmp_path / "missing" / "below")) is None
    (tmp_path / "empty").write_bytes(b"")
    assert cache.cached_stat(str(tmp_path / "empty")) is None
    assert cache.cached_stat(str(tmp_path)) is None
    (tmp_path / "full").write_bytes(b"x")
    assert cache.cached_stat(str(tmp_path / "full")).st_size == 1


def test_is_fresh_rules(tmp_path):
    path = tmp_path / "Release"
    path.write_bytes(b"x")
    now = time.time()
    os.utime(path, (now - 600, now - 600))  # ten minutes old
    st = os.stat(path)

    def fresh(**kw):
        args = {"package": False, "frozen": False, "expire_minutes": 60, "now": now} | kw
        return cache.is_fresh(st, **args)

    assert fresh()
    assert not fresh(expire_minutes=5)
    assert not fresh(expire_minutes=0)
    assert not fresh(expire_minutes=-1)
    assert fresh(expire_minutes=0, frozen=True)
    assert fresh(expire_minutes=0, package=True)
    assert fresh(expire_minutes=0, not_before=now - 601)  # fetched after the request came
    assert not fresh(expire_minutes=0, not_before=now - 599)


# -- lock --------------------------------------------------------------------------------------
def _hold(path, ready, release):
    lock = cache.FileLock(path)
    lock.acquire(5)
    ready.set()
    release.wait(10)
    lock.release()


def test_file_lock_excludes_other_processes(tmp_path):
    path = str(tmp_path / "work" / "a.lock")
    context = multiprocessing.get_context("fork")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold, args=(path, ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        lock = cache.FileLock(path)
        started = time.monotonic()
        assert not lock.acquire(0.2)
        assert time.monotonic() - started >= 0.2
        release.set()
        assert lock.acquire(5)
        lock.release()
    finally:
        release.set()
        holder.join(10)


def test_file_lock_survives_the_lock_file_being_cleaned(tmp_path):
    first = cache.FileLock(str(tmp_path / "a.lock"))
    assert first.acquire(0)
    assert cache.clean_work_dir(str(tmp_path)) == 0  # not under @proxy: nothing to see
    os.unlink(first.path)  # as clean_work_dir would, had it got the lock
    second = cache.FileLock(first.path)
    assert second.acquire(0)  # a new file, a new lock
    first.release()
    second.release()


# -- writer ------------------------------------------------------------------------------------
def test_writer_commits_atomically_and_aborts_cleanly(tmp_path):
    paths = cache.locate(str(tmp_path), "p", "d", "dists/stable/Release")
    writer = cache.CacheWriter(paths)
    writer.write(b"part one ")
    assert not os.path.exists(paths.file)
    writer.write(b"part two")
    writer.commit()
    with open(paths.file, "rb") as result:
        assert result.read() == b"part one part two"
    assert os.listdir(paths.work) == []

    writer = cache.CacheWriter(paths)
    writer.write(b"half")
    writer.abort()
    writer.abort()
    with open(paths.file, "rb") as result:
        assert result.read() == b"part one part two"  # the old copy stays
    assert os.listdir(paths.work) == []


def test_iter_cached_skips_the_work_dir(tmp_path):
    paths = cache.locate(str(tmp_path), "p", "d", "pool/a.deb")
    writer = cache.CacheWriter(paths)
    writer.write(b"a")
    writer.commit()
    cache.CacheWriter(cache.locate(str(tmp_path), "p", "d", "pool/b.deb")).file.close()
    cache.FileLock(paths.lock).acquire(0)
    found = [resource for resource, _, _ in cache.iter_cached(paths.root)]
    assert found == ["pool/a.deb"]


def test_clean_work_dir_removes_stale_temp_files_and_free_locks(tmp_path):
    root = str(tmp_path)
    work = tmp_path / cache.WORK_DIR
    work.mkdir()
    for name in ("old.part", "new.part", "free.lock", "held.lock"):
        (work / name).write_bytes(b"")
    old = time.time() - 2 * 24 * 3600
    os.utime(work / "old.part", (old, old))
    held = cache.FileLock(str(work / "held.lock"))
    assert held.acquire(0)
    try:
        assert cache.clean_work_dir(root) == 2
    finally:
        held.release()
    assert sorted(os.listdir(work)) == ["held.lock", "new.part"]


# -- address guard -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),  # noqa: S104 (an address to refuse, not to bind)
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("100.64.0.1", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("ff02::1", False),
    ],
)
def test_address_guard(address, allowed):
    assert address_allowed(address) is allowed


def test_allow_list_admits_private_networks():
    networks = as_networks("10.0.0.0/8, fd00::/8")
    assert address_allowed("10.1.2.3", networks)
    assert address_allowed("::ffff:10.1.2.3", networks)
    assert address_allowed("fd12::1", networks)
    assert not address_allowed("192.168.1.1", networks)
    with pytest.raises(ValueError, match="not a network"):
        as_networks("10.0.0.0/8 nonsense")


# -- the weekly orphan check -------------------------------------------------------------------
def put(registry, dep, resource: str, body: bytes) -> str:
    paths = cache.locate(
        registry.settings["migasfree.public_dir"], dep.project.slug, dep.slug, resource
    )
    writer = cache.CacheWriter(paths)
    writer.write(body)
    writer.commit()
    return paths.file


def test_orphan_check_deletes_files_gone_or_changed_upstream(
    dbsession, make, mirror, allow_loopback, registry, client
):
    mirror.files["/debian/pool/same.deb"] = b"same"
    mirror.files["/debian/dists/stable/Packages"] = b"longer than before"
    dep = make.deployment(source="E", base_url=mirror.base_url, frozen=False)
    frozen = make.deployment(source="E", base_url=mirror.base_url, frozen=True)
    internal = make.deployment(source="I")
    # One file cached through the proxy itself, the others put in place.
    same = f"/src/{dep.project.slug}/external/{dep.slug}/pool/same.deb"
    assert client.get(same, as_="anonymous").status_code == 200
    kept = put(registry, dep, "pool/same.deb", b"same")
    gone = put(registry, dep, "pool/gone.deb", b"gone")
    changed = put(registry, dep, "dists/stable/Packages", b"short")
    failing = put(registry, dep, "status/500", b"whatever")
    frozen_gone = put(registry, frozen, "pool/gone.deb", b"gone")
    internal_dir = put(registry, internal, "pool/gone.deb", b"gone")

    report = remove_orphan_files(dbsession, registry.settings)

    assert sorted(report.deleted) == sorted([gone, changed])
    assert report.kept_on_error == 1
    assert all(os.path.exists(path) for path in (kept, failing, frozen_gone, internal_dir))
    assert not os.path.exists(gone)
    assert not os.path.exists(changed)
    assert mirror.hits("/debian/pool/gone.deb", "HEAD") == 1
    assert report.cleaned >= 1  # the lock file of the proxied download


def test_the_periodic_task_runs_saturdays_at_one_in_its_own_transaction(
    connection, dbsession, make, mirror, allow_loopback, registry, monkeypatch
):
    task = remove_orphan_files_from_external_deployments
    scheduled = task.s()
    saturday = dt.datetime(2024, 1, 6, 1, 0)
    assert scheduled.validate_datetime(saturday)
    assert not scheduled.validate_datetime(saturday + dt.timedelta(days=1))
    assert not scheduled.validate_datetime(saturday + dt.timedelta(hours=1))

    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
    monkeypatch.setitem(registry, SESSION_FACTORY_KEY, factory)
    monkeypatch.setitem(runtime._bound, "registry", registry)
    dep = make.deployment(source="E", base_url=mirror.base_url, frozen=False)
    gone = put(registry, dep, "pool/gone.deb", b"gone")
    task.call_local()
    assert not os.path.exists(gone)
