"""The worker: a real ``migasfree-worker`` process killed in the middle of a build leaves the
published repository intact, and a later build succeeds once the dead worker's lock expires.

These tests use a SQLite site of their own (committed data shared between processes), not the
rolled-back PostgreSQL transaction of the other tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import transaction
from pyramid.paster import get_appsettings
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from migasfree_pyramid.db import get_tm_session, make_engine
from migasfree_pyramid.models import (
    Deployment,
    DeploymentBuild,
    Package,
    Platform,
    Project,
    Store,
)
from migasfree_pyramid.repositories.locks import FileBuildLock
from migasfree_pyramid.repositories.subscribers import request_builds
from migasfree_pyramid.scripts.migrate import upgrade
from migasfree_pyramid.settings import expand_env
from migasfree_pyramid.tasks import worker

from ..conftest import ROOT, TESTING_INI

FULLNAME = "hello_1.0-1_all.deb"


def redis_url() -> str:
    raw = get_appsettings(str(TESTING_INI))["migasfree.redis_url"]
    return expand_env("migasfree.redis_url", raw)


@pytest.fixture
def site(tmp_path):
    """A SQLite site with one apt project, a store file and an internal deployment (id 1)."""
    var = tmp_path / "var"
    ini = tmp_path / "site.ini"
    ini.write_text(
        textwrap.dedent(
            f"""\
            [app:main]
            use = egg:migasfree-pyramid
            sqlalchemy.url = sqlite:///{var}/site.sqlite
            migasfree.addons =
            migasfree.var_dir = {var}
            migasfree.public_dir = {var}/public
            migasfree.keys_dir = {var}/keys
            migasfree.redis_url = {redis_url()}
            migasfree.jwt_secret = worker-test-secret-worker-test-secret-0123456789
            repositories.lock_ttl = 2
            huey.backend = sqlite
            huey.sqlite_path = {var}/huey.sqlite

            [loggers]
            keys = root

            [handlers]
            keys = console

            [formatters]
            keys = generic

            [logger_root]
            level = INFO
            handlers = console

            [handler_console]
            class = StreamHandler
            args = (sys.stderr,)
            formatter = generic

            [formatter_generic]
            format = %(levelname)s [%(name)s] %(message)s
            """
        )
    )
    os.makedirs(var / "keys")
    url = f"sqlite:///{var}/site.sqlite"
    engine = make_engine(url)
    upgrade(str(ini), url=url, engine=engine)
    with sessionmaker(bind=engine)() as session:
        project = Project(
            name="Debian 12",
            slug="debian-12",
            pms="apt",
            architecture="amd64",
            platform=Platform(name="Linux"),
        )
        store = Store(name="Main", slug="main", project=project)
        package = Package(
            fullname=FULLNAME,
            name="hello",
            version="1.0-1",
            architecture="all",
            project=project,
            store=store,
        )
        session.add(
            Deployment(
                id=1, name="Office", slug="office", project=project, available_packages=[package]
            )
        )
        session.commit()
    stored = var / "public" / "debian-12" / "stores" / "main" / FULLNAME
    os.makedirs(stored.parent)
    stored.write_bytes(b"the package")
    yield {
        "ini": str(ini),
        "var": var,
        "engine": engine,
        "live": var / "public" / "debian-12" / "repos" / "dists" / "office",
    }
    engine.dispose()


def run(*args, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (fixed argv)
        [sys.executable, "-m", "tests.repositories.worker_process", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def build_row(engine) -> DeploymentBuild:
    with sessionmaker(bind=engine, expire_on_commit=False)() as session:
        return session.get(DeploymentBuild, 1)


def snapshot(live) -> dict:
    """What a client sees: every file under the live path, with its content."""
    files = {}
    for directory, _, names in os.walk(live, followlinks=True):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                files[os.path.relpath(path, live)] = handle.read()
    return files


def wait_for(path, process, seconds=60) -> None:
    deadline = time.monotonic() + seconds
    while not os.path.exists(path):
        if process.poll() is not None:
            raise AssertionError(f"the worker exited early:\n{process.stderr.read()}")
        if time.monotonic() > deadline:
            raise AssertionError("the build never started")
        time.sleep(0.05)


def test_killing_the_worker_mid_build_keeps_the_repository(site):
    live, engine = site["live"], site["engine"]
    first = run("recover", site["ini"])  # the never-built deployment is built by the check
    assert first.returncode == 0, first.stderr
    published = os.readlink(live)
    before = snapshot(live)
    assert before == {
        "Packages": f"{FULLNAME}\n".encode(),
        "build-number": b"1",
        f"PKGS/{FULLNAME}": b"the package",
    }

    marker = site["var"] / "building"
    process = subprocess.Popen(  # noqa: S603 (fixed argv)
        [
            sys.executable,
            "-m",
            "tests.repositories.worker_process",
            "consume",
            site["ini"],
            "hang",
            str(marker),
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(marker, process)
        stage = marker.read_text()
        assert os.path.isfile(os.path.join(stage, "Packages"))  # half-way: files written
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL

    # Clients still get the previous repository, whole.
    assert os.readlink(live) == published
    assert snapshot(live) == before
    assert build_row(engine).state == "building"  # what the dead worker left behind

    started = time.monotonic()
    second = run("recover", site["ini"])
    assert second.returncode == 0, second.stderr
    assert time.monotonic() - started < 20  # the dead worker's lock expired (ttl 2 s)
    row = build_row(engine)
    assert (row.state, row.build_count, row.last_error, row.pending) == ("idle", 2, None, False)
    assert os.readlink(live) != published
    assert snapshot(live)["Packages"] == f"{FULLNAME}\n".encode()
    assert not os.path.exists(stage)  # the killed build's stage was cleaned up
    leftovers = [n for n in os.listdir(live.parent) if n.startswith(".office.")]
    assert leftovers == [os.readlink(live)]


def test_request_flags_survive_a_commit_without_other_changes(site):
    """Flags are written with a Core statement; zope.sqlalchemy must not treat the request's
    transaction as read-only (the ``metadata/`` action changes nothing else)."""
    engine = site["engine"]
    manager = transaction.TransactionManager(explicit=True)
    queued = []

    class Request:
        environ: dict = {}
        tm = manager

        def enqueue(self, task, *args):
            manager.get().addAfterCommitHook(lambda ok: ok and queued.append(args))

    request = Request()
    with manager:
        request.dbsession = get_tm_session(sessionmaker(bind=engine), manager, request)
        assert request_builds(request, [1]) == [1]
    request.dbsession.close()
    assert queued == [(1,)]
    with sessionmaker(bind=engine)() as session:
        row = session.scalars(select(DeploymentBuild)).one()
        assert (row.deployment_id, row.pending, row.state) == (1, True, "queued")


def test_a_killed_holder_releases_the_file_lock(tmp_path):
    """Without Redis the lock is a flock: the kernel releases it when its holder dies."""
    path = str(tmp_path / "locks" / "repository-1.lock")
    holder = subprocess.Popen(  # noqa: S603 (fixed argv)
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import time
            from migasfree_pyramid.repositories.locks import FileBuildLock
            lock = FileBuildLock({path!r})
            assert lock.acquire()
            print("locked", flush=True)
            time.sleep(600)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        lock = FileBuildLock(path)
        assert lock.busy() and not lock.acquire()
        assert not lock.acquire(timeout=0.3)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        holder.stdout.close()
    assert not lock.busy()
    assert lock.acquire()
    other = FileBuildLock(path)
    assert other.busy() and not other.acquire()  # threads of one process are excluded too
    lock.release()
    assert other.acquire()
    other.release()


def test_worker_refuses_an_immediate_queue(registry):
    args = worker.parse_args(["site.ini"])
    assert (args.workers, args.worker_type, args.no_periodic) == (2, "thread", False)
    with pytest.raises(SystemExit, match="immediate"):
        worker.make_consumer(registry, args)
