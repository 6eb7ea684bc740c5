"""Build status in the admin API (``generating/``, ``{id}/build/``) and ``/pub/`` served by the
app in development."""

from __future__ import annotations

import os

import pytest
import webtest

from migasfree_pyramid.repositories import builds
from migasfree_pyramid.repositories.public import public_prefix
from migasfree_pyramid.tasks.runtime import task_request

from .conftest import write_store_file

URL = "/api/v1/token/deployments/internal-sources/"


@pytest.fixture
def deployment(make):
    return make.deployment(name="Office Suite")


def test_build_status_before_any_build(client, deployment):
    response = client.get(f"{URL}{deployment.id}/build/")
    assert response.status_int == 200
    assert response.json == {
        "state": "idle",
        "requested_at": None,
        "started_at": None,
        "finished_at": None,
        "last_success_at": None,
        "last_error": None,
        "build_count": 0,
    }


def test_build_status_after_a_failure(client, fake_pms, task_runner, registry, deployment):
    fake_pms.mode = "fail"
    with task_request(registry) as request:
        builds.mark_requested(request.dbsession, [deployment.id])
    builds.build_deployment(registry, deployment.id)
    data = client.get(f"{URL}{deployment.id}/build/").json
    assert data["state"] == "failed"
    assert data["last_error"] == "the fake tool failed"
    assert data["build_count"] == 1
    assert data["last_success_at"] is None
    assert data["requested_at"] <= data["started_at"] <= data["finished_at"]


@pytest.mark.parametrize(
    ("role", "expected"),
    [("admin", 200), ("reader", 200), ("packager", 200), ("nobody", 403), ("anonymous", 401)],
)
def test_build_status_permissions(client, deployment, role, expected):
    assert client.get(f"{URL}{deployment.id}/build/", as_=role).status_int == expected


def test_build_status_of_a_missing_or_external_deployment_is_404(client, make):
    external = make.deployment(source="E", base_url="http://deb.example.org/debian")
    assert client.get(f"{URL}{external.id}/build/").status_int == 404
    assert client.get(f"{URL}999999/build/").status_int == 404
    assert client.get(f"{URL}99999999999/build/").status_int == 404


def test_generating_lists_queued_and_running_builds(client, registry, task_runner, make):
    queued, idle = make.deployment(), make.deployment()
    with task_request(registry) as request:
        builds.mark_requested(request.dbsession, [queued.id])
    data = client.get(f"{URL}generating/").json
    assert [item["id"] for item in data] == [queued.id]
    assert idle.id not in [item["id"] for item in data]
    assert client.get(f"{URL}generating/", as_="nobody").status_int == 403


def test_metadata_action_requests_a_build(client, fake_pms, task_runner, dbsession, deployment):
    response = client.get(f"{URL}{deployment.id}/metadata/")
    assert response.json == {"detail": "Operation received"}
    assert client.get(f"{URL}{deployment.id}/build/").json["state"] == "queued"
    assert task_runner() == 1
    assert client.get(f"{URL}{deployment.id}/build/").json["state"] == "idle"


# -- /pub/ -------------------------------------------------------------------------------------


@pytest.fixture
def pub(dev_app, dev_settings):
    return webtest.TestApp(dev_app)


@pytest.fixture
def published(fake_pms, task_runner, registry, make, public):
    store = make.store(name="main")
    package = make.package(name="hello", store=store)
    write_store_file(public, package)
    deployment = make.deployment(project=store.project, available_packages=[package])
    with task_request(registry) as request:
        builds.mark_requested(request.dbsession, [deployment.id])
    builds.build_deployment(registry, deployment.id)
    return f"/pub/{store.project.slug}/repos/dists/{deployment.slug}", package


def test_pub_serves_repository_files_through_their_links(pub, published):
    base, package = published
    assert pub.get(f"{base}/Packages").text == f"{package.fullname}\n"
    response = pub.get(f"{base}/PKGS/{package.fullname}")
    assert response.body == b"package " + package.fullname.encode()
    assert response.content_type == "application/vnd.debian.binary-package"
    assert pub.head(f"{base}/PKGS/{package.fullname}").status_int == 200
    ranged = pub.get(f"{base}/PKGS/{package.fullname}", headers={"Range": "bytes=0-6"})
    assert (ranged.status_int, ranged.body) == (206, b"package")


def test_pub_lists_no_directory_and_hides_dot_files(pub, published, public):
    base, _ = published
    stage = os.path.basename(os.readlink(os.path.join(public, base.split("/", 2)[2])))
    for path in (base, f"{base}/", f"{base}/PKGS/", "/pub/", f"{base}/../{stage}/Packages"):
        assert pub.get(path, status="*").status_int == 404, path
    assert (
        pub.get(f"/pub/{base.split('/')[2]}/repos/dists/{stage}/Packages", status="*").status_int
        == 404
    )


def test_pub_follows_no_link_out_of_the_public_directory(pub, public, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not public")
    os.makedirs(public, exist_ok=True)
    os.symlink(str(secret), os.path.join(public, "leak.txt"))
    assert pub.get("/pub/leak.txt", status="*").status_int == 404
    assert pub.get("/pub/%2e%2e/secret.txt", status="*").status_int == 404


def test_pub_is_not_served_unless_enabled(client, published):
    base, _ = published
    assert client.get(f"{base}/Packages", as_="anonymous").status_int == 404


def test_public_prefix():
    assert public_prefix("/pub/") == "/pub/"
    assert public_prefix("/files") == "/files/"
    assert public_prefix("https://cdn.example.org/pub/") is None
