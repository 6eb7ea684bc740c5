"""Deployment write rules, internal/external sources, repository events and extra actions."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from migasfree_pyramid.core_api.deployments import DeploymentRemoved, RepositoryRebuildRequested
from migasfree_pyramid.models import Deployment, Package, PackageSet, Store

API = "/api/v1/token"
DEPLOYMENTS = f"{API}/deployments/"
INTERNAL = f"{API}/deployments/internal-sources/"
EXTERNAL = f"{API}/deployments/external-sources/"
DEBIAN = "http://deb.debian.org/debian"
SOURCE_KEYS = {
    "id",
    "enabled",
    "project",
    "domain",
    "name",
    "slug",
    "comment",
    "included_attributes",
    "excluded_attributes",
    "packages_to_install",
    "packages_to_remove",
    "default_preincluded_packages",
    "default_included_packages",
    "default_excluded_packages",
    "schedule",
    "start_date",
    "auto_restart",
}


@pytest.fixture
def events(registry):
    """Every repository event notified during the test."""
    received = []

    def handler(event):
        received.append(event)

    kinds = ((RepositoryRebuildRequested,), (DeploymentRemoved,))
    for required in kinds:
        registry.registerHandler(handler, required)
    yield received
    for required in kinds:
        registry.unregisterHandler(handler, required)


@pytest.fixture
def project(make):
    return make.project("debian-12")


def first_error(response) -> tuple[str, str]:
    assert response.status_int == 400, response.text
    error = response.json["errors"][0]
    return error["name"], error["description"]


def test_internal_and_external_are_separate(client, make, project):
    internal = make.deployment("inside", project=project)
    external = make.deployment("outside", project=project, source="E", base_url=DEBIAN)
    assert [r["name"] for r in client.get(INTERNAL).json["results"]] == ["inside"]
    assert [r["name"] for r in client.get(EXTERNAL).json["results"]] == ["outside"]
    assert client.get(DEPLOYMENTS).json["count"] == 2
    assert client.get(f"{INTERNAL}{external.id}/").status_int == 404
    assert client.delete(f"{INTERNAL}{external.id}/").status_int == 404
    assert client.get(f"{EXTERNAL}{internal.id}/").status_int == 404
    assert client.patch(f"{EXTERNAL}{internal.id}/", {"name": "x"}).status_int == 404
    inside = client.get(f"{INTERNAL}{internal.id}/").json
    assert set(inside) == SOURCE_KEYS | {"available_packages", "available_package_sets"}
    outside = client.get(f"{EXTERNAL}{external.id}/").json
    extra = {"base_url", "options", "suite", "components", "frozen", "expire"}
    assert set(outside) == SOURCE_KEYS | extra
    assert outside["base_url"] == DEBIAN and outside["expire"] == 1440


def test_proxy_routes_force_their_source(client, project):
    body = {"project": project.id, "name": "forced", "source": "E"}
    created = client.post(INTERNAL, body)
    assert created.status_int == 201, created.text
    assert client.get(f"{DEPLOYMENTS}{created.json['id']}/").json["source"] == "I"
    body = {"project": project.id, "name": "ext", "source": "I", "base_url": DEBIAN}
    created = client.post(EXTERNAL, {**body, "suite": "bookworm", "components": "main contrib"})
    assert created.status_int == 201, created.text
    assert created.json["suite"] == "bookworm" and created.json["components"] == "main contrib"
    assert client.get(f"{DEPLOYMENTS}{created.json['id']}/").json["source"] == "E"
    general = client.post(DEPLOYMENTS, {**body, "name": "general", "source": "E"})
    assert general.status_int == 201 and general.json["source"] == "E"


def test_external_base_url_validation(client, project):
    body = {"project": project.id, "name": "ext"}
    for url in (
        "ftp://deb.debian.org/debian",
        "http://127.0.0.1/debian",
        "http://10.0.0.1/",
        "http:///debian",
        "https://192.168.1.10/repo",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/repo",
        "http://[::ffff:127.0.0.1]/repo",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://2130706433/",
        "http://localhost/repo",
        "http://deb.debian.org:99999/",
        "http://deb.debian.org/deb ian",
        "deb.debian.org/debian",
    ):
        assert first_error(client.post(EXTERNAL, {**body, "base_url": url})) == (
            "base_url",
            "Invalid or unsafe URL",
        ), url
    assert first_error(client.post(EXTERNAL, body))[0] == "base_url"
    assert first_error(client.post(EXTERNAL, {**body, "base_url": "x" * 101}))[0] == "base_url"
    assert first_error(client.post(EXTERNAL, {**body, "base_url": DEBIAN, "expire": -5})) == (
        "expire",
        "-5 is less than minimum value 0",
    )
    bad_expire = client.post(EXTERNAL, {**body, "base_url": DEBIAN, "expire": 1.5})
    assert first_error(bad_expire)[0] == "expire"
    created = client.post(EXTERNAL, {**body, "base_url": DEBIAN, "expire": 0, "frozen": False})
    assert created.status_int == 201, created.text
    assert created.json["suite"] is None and created.json["components"] is None
    assert (created.json["expire"], created.json["frozen"]) == (0, False)
    pk = created.json["id"]
    patched = client.patch(f"{EXTERNAL}{pk}/", {"base_url": "http://10.1.1.1/"})
    assert first_error(patched)[0] == "base_url"
    ok = client.patch(f"{EXTERNAL}{pk}/", {"base_url": "https://8.8.8.8/mirror"})
    assert ok.status_int == 200 and ok.json["base_url"] == "https://8.8.8.8/mirror"
    # The general route checks the URL as soon as the row is an external source.
    general = {"project": project.id, "name": "g", "source": "E", "base_url": "http://127.0.0.1"}
    assert first_error(client.post(DEPLOYMENTS, general))[0] == "base_url"
    assert first_error(client.post(DEPLOYMENTS, {**general, "base_url": None}))[0] == "base_url"


@pytest.mark.parametrize("field", ["included_attributes", "excluded_attributes"])
def test_inactive_computer_cannot_be_targeted(client, make, project, field):
    def cid(status):
        computer = make.computer(project=project, status=status)
        return make.attribute("CID", str(computer.id), sort="basic")

    body = {"project": project.id, "name": "cid"}
    for status in ("available", "unsubscribed"):
        attribute = cid(status)
        assert first_error(client.post(DEPLOYMENTS, {**body, field: [attribute.id]})) == (
            field,
            "It is not possible to assign an inactive computer "
            f"({attribute.value}) as an attribute",
        )
    gone = make.attribute("CID", "999999", sort="basic")
    assert first_error(client.post(INTERNAL, {**body, field: [gone.id]}))[0] == field
    active = [cid("assigned").id, cid("in repair").id, make.attribute("ROL", "x").id]
    created = client.post(DEPLOYMENTS, {**body, field: active})
    assert created.status_int == 201, created.text
    assert sorted(a["id"] for a in created.json[field]) == sorted(active)


def test_packages_must_belong_to_the_project(client, make, project):
    other = make.project("ubuntu")
    mine = make.package("mine", store=make.store(project=project))
    foreign = make.package("foreign", store=make.store(project=other))
    foreign_set = make.package_set("tools", project=other)
    body = {"project": project.id, "name": "pk", "available_packages": [mine.id, foreign.id]}
    assert first_error(client.post(INTERNAL, body)) == (
        "available_packages",
        f"Package {foreign.fullname} must belong to the project debian-12",
    )
    body = {"project": project.id, "name": "pk", "available_package_sets": [foreign_set.id]}
    assert first_error(client.post(DEPLOYMENTS, body)) == (
        "available_package_sets",
        "Package set tools must belong to the project debian-12",
    )
    pk = make.deployment("mine", project=project).id
    patched = client.patch(f"{INTERNAL}{pk}/", {"available_packages": [foreign.id]})
    assert first_error(patched)[0] == "available_packages"
    ok = client.patch(f"{INTERNAL}{pk}/", {"available_packages": [mine.id]})
    assert ok.json["available_packages"] == [{"id": mine.id, "fullname": mine.fullname}]


def test_project_cannot_change(client, make, project):
    pk = make.deployment("fixed", project=project).id
    other = make.project()
    for url in (DEPLOYMENTS, INTERNAL):
        response = client.patch(f"{url}{pk}/", {"project": other.id})
        assert first_error(response) == ("project", "Is not allowed change project")
    same = client.put(f"{INTERNAL}{pk}/", {"project": project.id, "name": "fixed"})
    assert same.status_int == 200, same.text


def test_repository_events(client, make, project, events):
    store = make.store(project=project)
    package = make.package(store=store)
    created = client.post(INTERNAL, {"project": project.id, "name": "Office"})
    pk = created.json["id"]
    assert events == [RepositoryRebuildRequested(pk)]
    events.clear()
    client.patch(f"{INTERNAL}{pk}/", {"comment": "no repository change"})
    assert events == []
    client.patch(f"{INTERNAL}{pk}/", {"available_packages": [package.id]})
    assert events == [RepositoryRebuildRequested(pk)]
    events.clear()
    client.patch(f"{DEPLOYMENTS}{pk}/", {"name": "Office Suite"})
    assert events == [RepositoryRebuildRequested(pk, old_slug="office")]
    events.clear()
    client.post(EXTERNAL, {"project": project.id, "name": "ext", "base_url": DEBIAN})
    assert events == []
    assert client.delete(f"{INTERNAL}{pk}/").status_int == 204
    assert events == [DeploymentRemoved(pk, "debian-12", "office-suite", "I")]
    assert events[0].request is not None


def test_metadata_action(client, make, project, events):
    pk = make.deployment("repo", project=project).id
    for method in ("get", "post"):
        response = getattr(client, method)(f"{INTERNAL}{pk}/metadata/")
        assert response.status_int == 200, response.text
        assert response.json == {"detail": "Operation received"}
    assert events == [RepositoryRebuildRequested(pk), RepositoryRebuildRequested(pk)]
    assert client.get(f"{INTERNAL}{pk}/metadata/", as_="liberator").status_int == 200
    assert client.get(f"{INTERNAL}{pk}/metadata/", as_="reader").status_int == 403
    assert client.get(f"{INTERNAL}999999/metadata/").status_int == 404
    odd = make.deployment("odd", project=make.project(pms="msi"))
    unsupported = client.get(f"{INTERNAL}{odd.id}/metadata/")
    assert first_error(unsupported)[1] == "Unsupported PMS for this deployment"


def test_generating_action(client, make, project, registry, monkeypatch):
    assert client.get(f"{INTERNAL}generating/").json == []
    busy = make.deployment("busy", project=project)
    external = make.deployment("ext", project=project, source="E", base_url=DEBIAN)
    make.deployment("idle", project=project)
    calls = []

    def generating(request):
        calls.append(request)
        return [busy.id, external.id, 999999]

    monkeypatch.setitem(registry, "migasfree.generating_deployments", generating)
    listed = client.get(f"{INTERNAL}generating/", as_="reader")
    assert listed.status_int == 200 and len(calls) == 1
    assert [row["name"] for row in listed.json] == ["busy"]
    assert "schedule_timeline" in listed.json[0] and "available_packages" in listed.json[0]
    assert client.get(f"{INTERNAL}generating/", as_="anonymous").status_int == 401


def test_copy_action(client, make, project, registry, events, dbsession):
    target = make.project("debian-13")
    store = make.store("Main Store", project=project)
    shipped = make.package("tool", store=store)
    orphan = make.package("orphan", project=project)  # no store: nothing to publish
    in_set = make.package("lib", store=store)
    pset = make.package_set("Libraries", project=project, store=store, packages=[in_set])
    attribute = make.attribute("ROL", "teacher")
    source = make.deployment(
        "Tools",
        project=project,
        included=[attribute],
        packages_to_install="tool\nlib",
        available_packages=[shipped, orphan],
        available_package_sets=[pset],
        comment="copy me",
    )
    public = registry.settings["migasfree.public_dir"]
    origin = os.path.join(public, "debian-12", "stores", "main-store", shipped.fullname)
    os.makedirs(os.path.dirname(origin))
    with open(origin, "wb") as handle:
        handle.write(b"package bytes")
    url = f"{INTERNAL}{source.id}/copy/"
    response = client.post(url, {"project": target.id})
    assert response.status_int == 201, response.text
    copy_id = response.json["deployment_id"]
    assert response.json == {
        "created": True,
        "deployment_id": copy_id,
        "deployment_name": "Tools",
        "copied_packages": 1,
        "copied_package_sets": 1,
    }
    assert events == [RepositoryRebuildRequested(copy_id)]
    copied = client.get(f"{DEPLOYMENTS}{copy_id}/").json
    assert copied["project"]["id"] == target.id and copied["slug"] == "tools"
    assert copied["packages_to_install"] == ["tool", "lib"] and copied["comment"] == "copy me"
    assert [a["id"] for a in copied["included_attributes"]] == [attribute.id]
    assert [p["fullname"] for p in copied["available_packages"]] == [shipped.fullname]
    assert [s["name"] for s in copied["available_package_sets"]] == ["Libraries"]
    new_store = dbsession.scalars(select(Store).where(Store.project_id == target.id)).one()
    assert (new_store.name, new_store.slug) == ("Main Store", "main-store")
    new_set = dbsession.scalars(select(PackageSet).where(PackageSet.project_id == target.id)).one()
    assert [p.fullname for p in new_set.packages] == [in_set.fullname]
    new_package = dbsession.get(Package, copied["available_packages"][0]["id"])
    assert new_package.project_id == target.id and new_package.store_id == new_store.id
    destination = os.path.join(public, "debian-13", "stores", "main-store", shipped.fullname)
    with open(destination, "rb") as handle:
        assert handle.read() == b"package bytes"
    assert not os.path.exists(destination.replace(shipped.fullname, in_set.fullname))

    again = client.post(url, {"project": target.id})
    assert again.status_int == 200
    assert again.json == {
        "created": False,
        "skipped_name": "Tools",
        "copied_packages": 0,
        "copied_package_sets": 0,
    }
    count = select(Deployment.id).where(Deployment.project_id == target.id)
    assert len(dbsession.scalars(count).all()) == 1


def test_copy_errors(client, make, project):
    pk = make.deployment("src", project=project).id
    url = f"{INTERNAL}{pk}/copy/"
    assert first_error(client.post(url, {}))[1] == "Target project is required"
    assert first_error(client.post(url, {"project": None}))[1] == "Target project is required"
    assert first_error(client.post(url, {"project": "abc"}))[0] == "project"
    assert first_error(client.post(url, {"project": project.id}))[1] == (
        "Source and target project must be different"
    )
    missing = client.post(url, {"project": 999999})
    assert missing.status_int == 404
    assert missing.json["errors"][0]["description"] == "Target project not found"
    target = make.project()
    assert client.post(url, {"project": target.id}, as_="reader").status_int == 403
    assert client.post(url, {"project": target.id}, as_="liberator").status_int == 201
    assert client.post(f"{INTERNAL}999999/copy/", {"project": target.id}).status_int == 404
