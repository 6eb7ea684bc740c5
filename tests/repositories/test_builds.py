"""Repository builds with a fake package manager: triggers, the build loop, the swap, failures,
renames and removals (the orchestration of repositories.md 2, with its pitfalls Q1, Q5, Q6 fixed).
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from migasfree_pyramid.models import DeploymentBuild, Notification
from migasfree_pyramid.repositories import builds, layout
from migasfree_pyramid.repositories.locks import build_lock
from migasfree_pyramid.tasks.runtime import task_request

from .conftest import write_store_file

URL = "/api/v1/token/deployments/internal-sources/"


@pytest.fixture
def project(make):
    return make.project(name="Debian 12")


@pytest.fixture
def store(make, project):
    # A name that is not its own slug: links must use the slug (spec Q1 / F.12).
    return make.store(name="Main Store", project=project)


@pytest.fixture
def package(make, store, public):
    pkg = make.package(name="hello", version="1.0-1", store=store)
    write_store_file(public, pkg)
    return pkg


@pytest.fixture
def deployment(make, project, package):
    return make.deployment(name="Office Suite", project=project, available_packages=[package])


def live(public, deployment) -> str:
    return os.path.join(public, deployment.project.slug, "repos", "dists", deployment.slug)


def status(dbsession, deployment) -> DeploymentBuild | None:
    dbsession.expire_all()
    return dbsession.get(DeploymentBuild, deployment.id)


def notifications(dbsession) -> list[str]:
    return list(dbsession.scalars(select(Notification.message).order_by(Notification.id)))


def request_build(registry, deployment_id) -> None:
    with task_request(registry) as request:
        builds.mark_requested(request.dbsession, [deployment_id])


def siblings(path) -> list[str]:
    parent, name = os.path.split(path)
    return sorted(n for n in os.listdir(parent) if n.startswith(f".{name}."))


def read(path, name) -> str:
    with open(os.path.join(path, name)) as handle:
        return handle.read()


# -- triggers ----------------------------------------------------------------------------------


def test_changing_packages_queues_one_build(client, fake_pms, task_runner, dbsession, make):
    project = make.project()
    deployment = make.deployment(project=project)
    other = make.package(store=make.store(project=project))
    response = client.patch(f"{URL}{deployment.id}/", {"available_packages": [other.id]})
    assert response.status_int == 200
    row = status(dbsession, deployment)
    assert (row.state, row.pending) == ("queued", True)
    assert row.requested_at is not None
    assert client.get(f"{URL}generating/").json[0]["id"] == deployment.id
    assert fake_pms.contexts == []  # nothing runs before the commit
    assert task_runner() == 1
    assert len(fake_pms.contexts) == 1
    assert status(dbsession, deployment).state == "idle"
    assert client.get(f"{URL}generating/").json == []


def test_uploads_into_a_set_rebuild_the_deployments_that_list_it(
    client, fake_pms, task_runner, dbsession, deployment, package, store, public
):
    """A package set (multipart, with a file) added to a deployment: one build with both."""
    assert task_runner() == 0
    response = client.call(
        "POST",
        "/api/v1/token/package-sets/",
        params={"name": "extras", "project": str(store.project_id), "store": str(store.id)},
        upload_files=[("files", "extra_2.0_all.deb", b"extra")],
    )
    assert response.status_int == 201, response.text
    set_id = response.json["id"]
    client.patch(f"{URL}{deployment.id}/", {"available_package_sets": [set_id]})
    assert task_runner() == 1  # one build, though two events named the deployment
    assert fake_pms.contexts[-1].packages[0][0] == "extra_2.0_all.deb"
    published = os.path.join(live(public, deployment), "PKGS")
    assert sorted(os.listdir(published)) == ["extra_2.0_all.deb", package.fullname]


def test_external_and_non_building_deployments_are_not_built(
    fake_pms, task_runner, dbsession, make, registry
):
    external = make.deployment(source="E", base_url="http://deb.example.org/debian")
    other = make.deployment(project=make.project(pms="nobuild"))
    internal = make.deployment()
    with task_request(registry) as request:
        ids = builds.buildable(request.dbsession, [external.id, other.id, internal.id])
    assert ids == [internal.id]


# -- a build -----------------------------------------------------------------------------------


def test_build_publishes_a_linked_repository(
    fake_pms, task_runner, registry, dbsession, deployment, package, public
):
    request_build(registry, deployment.id)
    assert builds.build_deployment(registry, deployment.id) == 1

    path = live(public, deployment)
    assert os.path.islink(path)
    target = os.readlink(path)
    assert target.startswith(f".{deployment.slug}.build-") and "/" not in target
    link = os.path.join(path, "PKGS", package.fullname)
    # Relative, through the store's slug (not its name "Main Store").
    assert os.readlink(link) == f"../../../../stores/main-store/{package.fullname}"
    assert read(path, "Packages") == f"{package.fullname}\n"
    with open(link, "rb") as handle:
        assert handle.read() == b"package " + package.fullname.encode()

    ctx = fake_pms.contexts[0]
    assert ctx.live_name == deployment.slug
    assert ctx.repos_root == os.path.join(public, deployment.project.slug, "repos")
    assert ctx.architecture == "amd64"
    assert ctx.packages == (
        (
            package.fullname,
            os.path.join(public, "debian-12", "stores", "main-store", "hello_1.0-1_all.deb"),
        ),
    )
    row = status(dbsession, deployment)
    assert (row.state, row.pending, row.build_count, row.last_error) == ("idle", False, 1, None)
    assert row.started_at <= row.finished_at == row.last_success_at
    assert notifications(dbsession) == [
        "Repository metadata for deployment [Office Suite] in project [Debian 12] created"
    ]


def test_packages_of_sets_are_included_and_storeless_ones_left_out(
    fake_pms, task_runner, registry, make, project, store, package, public
):
    in_set = make.package(name="tools", store=store)
    write_store_file(public, in_set)
    inventory_only = make.package(name="firefox", project=project)  # no store: no file
    missing = make.package(name="ghost", store=store)  # a row whose file is gone
    both = make.package_set(project=project, packages=[in_set, package, inventory_only, missing])
    deployment = make.deployment(
        project=project, available_packages=[package], available_package_sets=[both]
    )
    request_build(registry, deployment.id)
    builds.build_deployment(registry, deployment.id)
    names = [name for name, _ in fake_pms.contexts[0].packages]
    assert names == [package.fullname, in_set.fullname]
    assert sorted(os.listdir(os.path.join(live(public, deployment), "PKGS"))) == sorted(names)


def test_without_a_pending_request_nothing_is_built(fake_pms, task_runner, registry, deployment):
    assert builds.build_deployment(registry, deployment.id) == 0
    request_build(registry, deployment.id)
    assert builds.build_deployment(registry, deployment.id) == 1
    assert builds.build_deployment(registry, deployment.id) == 0  # a duplicated task: no-op


def test_rebuild_swaps_and_removes_the_previous_build(
    fake_pms, task_runner, registry, deployment, public
):
    path = live(public, deployment)
    request_build(registry, deployment.id)
    builds.build_deployment(registry, deployment.id)
    first = os.readlink(path)
    request_build(registry, deployment.id)
    builds.build_deployment(registry, deployment.id)
    second = os.readlink(path)
    assert first != second
    assert siblings(path) == [second]  # the previous build directory is gone
    assert read(path, "build-number") == "2"
    assert read(path, "Packages") == read(os.path.join(os.path.dirname(path), second), "Packages")


def test_failure_keeps_the_live_repository_and_records_the_error(
    fake_pms, task_runner, registry, dbsession, deployment, public
):
    path = live(public, deployment)
    request_build(registry, deployment.id)
    builds.build_deployment(registry, deployment.id)
    before = os.readlink(path)

    fake_pms.mode = "fail"
    for _ in range(2):
        request_build(registry, deployment.id)
        assert builds.build_deployment(registry, deployment.id) == 1
    assert os.readlink(path) == before
    assert read(path, "build-number") == "1"
    assert siblings(path) == [before]  # the failed stages were removed
    row = status(dbsession, deployment)
    assert (row.state, row.last_error, row.build_count) == ("failed", "the fake tool failed", 3)
    assert row.last_success_at < row.finished_at
    where = "deployment [Office Suite] in project [Debian 12]"
    # The same failure twice is notified once.
    assert notifications(dbsession)[1:] == [
        f"Repository metadata for {where} failed: the fake tool failed"
    ]

    fake_pms.mode = "ok"
    request_build(registry, deployment.id)
    builds.build_deployment(registry, deployment.id)
    row = status(dbsession, deployment)
    assert (row.state, row.last_error) == ("idle", None)


def test_an_unexpected_error_is_recorded_too(
    fake_pms, task_runner, registry, dbsession, deployment, monkeypatch
):
    def broken(ctx):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fake_pms, "build", broken)
    request_build(registry, deployment.id)
    builds.build_deployment(registry, deployment.id)
    row = status(dbsession, deployment)
    assert row.state == "failed"
    assert row.last_error == "OSError: [Errno 28] No space left on device"


def test_a_live_directory_from_an_import_is_replaced(
    fake_pms, task_runner, registry, deployment, public
):
    path = live(public, deployment)
    os.makedirs(os.path.join(path, "PKGS"))
    with open(os.path.join(path, "Release"), "w") as handle:
        handle.write("built by the original server")
    request_build(registry, deployment.id)
    builds.build_deployment(registry, deployment.id)
    assert os.path.islink(path)
    assert not os.path.exists(os.path.join(path, "Release"))
    assert siblings(path) == [os.readlink(path)]  # the old directory was set aside, then removed


# -- concurrency -------------------------------------------------------------------------------


def test_a_build_in_progress_blocks_others_and_keeps_the_request(
    fake_pms, task_runner, registry, dbsession, deployment
):
    request_build(registry, deployment.id)
    lock = build_lock(registry.settings, deployment.id)
    assert lock.acquire()
    try:
        assert builds.build_deployment(registry, deployment.id) == 0
        assert status(dbsession, deployment).pending is True
    finally:
        lock.release()
    assert builds.build_deployment(registry, deployment.id) == 1
    assert status(dbsession, deployment).pending is False


def test_triggers_during_a_build_cause_exactly_one_more(
    fake_pms, task_runner, registry, dbsession, deployment
):
    def triggers(ctx):
        if len(fake_pms.contexts) == 1:
            for _ in range(3):
                request_build(registry, deployment.id)
                # Each trigger's task finds the lock taken and leaves at once.
                assert builds.build_deployment(registry, deployment.id) == 0
            assert status(dbsession, deployment).state == "building"

    fake_pms.on_build = triggers
    request_build(registry, deployment.id)
    assert builds.build_deployment(registry, deployment.id) == 2
    assert len(fake_pms.contexts) == 2
    row = status(dbsession, deployment)
    assert (row.state, row.pending, row.build_count) == ("idle", False, 2)


def test_a_build_that_lost_its_lock_is_not_published(
    fake_pms, task_runner, registry, dbsession, deployment, public, monkeypatch
):
    request_build(registry, deployment.id)
    lock_class = type(build_lock(registry.settings, deployment.id))
    monkeypatch.setattr(lock_class, "owned", lambda self: False)
    builds.build_deployment(registry, deployment.id)
    assert not os.path.lexists(live(public, deployment))
    assert "repositories.build_timeout" in status(dbsession, deployment).last_error


# -- renames and removals ------------------------------------------------------------------------


def test_rename_publishes_the_new_slug_and_removes_the_old(
    client, fake_pms, task_runner, registry, dbsession, deployment, public
):
    old = live(public, deployment)
    request_build(registry, deployment.id)
    builds.build_deployment(registry, deployment.id)
    response = client.patch(f"{URL}{deployment.id}/", {"name": "Office 2"})
    assert response.status_int == 200
    assert os.path.islink(old)  # until the commit
    assert task_runner() == 2  # the build and the removal
    dbsession.refresh(deployment)
    assert deployment.slug == "office-2"
    assert os.path.islink(live(public, deployment))
    assert not os.path.lexists(old)
    assert siblings(old) == []


def test_rename_back_before_the_removal_keeps_the_repository(
    fake_pms, task_runner, registry, deployment, public
):
    from migasfree_pyramid.repositories.tasks import remove_published

    path = live(public, deployment)
    request_build(registry, deployment.id)
    builds.build_deployment(registry, deployment.id)
    args = (deployment.id, deployment.project.slug, "apt", deployment.slug, "I")
    assert remove_published(registry, *args) is False  # the slug is still in use
    assert os.path.islink(path)


def test_delete_removes_the_repository_and_its_stages(
    client, fake_pms, task_runner, registry, deployment, public
):
    path = live(public, deployment)
    request_build(registry, deployment.id)
    builds.build_deployment(registry, deployment.id)
    os.mkdir(layout.sibling(path, "build", "0-killed"))  # a killed build's stage
    assert client.delete(f"{URL}{deployment.id}/").status_int == 204
    assert task_runner() == 1
    assert not os.path.lexists(path)
    assert siblings(path) == []


def test_delete_of_an_external_source_removes_its_cache(
    client, fake_pms, task_runner, make, public
):
    external = make.deployment(source="E", base_url="http://deb.example.org/debian")
    cache = os.path.join(public, external.project.slug, "external", external.slug, "dists")
    os.makedirs(cache)
    assert client.delete(f"/api/v1/token/deployments/{external.id}/").status_int == 204
    assert task_runner() == 1
    assert not os.path.exists(os.path.dirname(cache))
