"""Platforms, projects and stores through the admin API."""

from __future__ import annotations

import pytest

from migasfree_pyramid.models import Platform, Project

API = "/api/v1/token"


@pytest.fixture
def linux(dbsession):
    platform = Platform(name="Linux")
    dbsession.add(platform)
    dbsession.flush()
    return platform


@pytest.fixture
def debian(dbsession, linux):
    project = Project(
        name="debian-12", slug="debian-12", pms="apt", architecture="amd64", platform=linux
    )
    dbsession.add(project)
    dbsession.flush()
    return project


def test_platform_crud(client):
    created = client.post(f"{API}/platforms/", {"name": "Linux"})
    assert created.status_int == 201, created.text
    pk = created.json["id"]
    assert created.json == {"id": pk, "name": "Linux"}
    assert client.get(f"{API}/platforms/{pk}/").json == {"id": pk, "name": "Linux"}
    listed = client.get(f"{API}/platforms/").json
    assert listed["count"] == 1 and listed["results"][0]["name"] == "Linux"
    assert listed["next"] is None and listed["previous"] is None
    assert client.patch(f"{API}/platforms/{pk}/", {"name": "GNU/Linux"}).json["name"] == "GNU/Linux"
    assert client.put(f"{API}/platforms/{pk}/", {"name": "Linux"}).json["name"] == "Linux"
    assert client.delete(f"{API}/platforms/{pk}/").status_int == 204
    assert client.get(f"{API}/platforms/{pk}/").status_int == 404


def test_platform_validation(client, linux):
    missing = client.post(f"{API}/platforms/", {})
    assert missing.status_int == 400
    assert missing.json["status"] == "error"
    assert missing.json["errors"][0]["name"] == "name"
    duplicate = client.post(f"{API}/platforms/", {"name": "Linux"})
    assert duplicate.status_int == 400 and duplicate.json["errors"][0]["name"] == "name"
    too_long = client.post(f"{API}/platforms/", {"name": "x" * 51})
    assert too_long.status_int == 400
    bad_json = client.app.post(
        f"{API}/platforms/",
        "{nope",
        headers={**client.headers(client.role("admin")), "Content-Type": "application/json"},
        status="*",
    )
    assert (
        bad_json.status_int == 400 and "Invalid JSON" in bad_json.json["errors"][0]["description"]
    )


def test_platform_permissions(client, linux):
    assert client.get(f"{API}/platforms/", as_="anonymous").status_int == 401
    assert client.get(f"{API}/platforms/", as_="nobody").status_int == 403
    assert client.get(f"{API}/platforms/", as_="reader").status_int == 200
    assert client.post(f"{API}/platforms/", {"name": "X"}, as_="reader").status_int == 403
    assert client.post(f"{API}/platforms/", {"name": "X"}, as_="configurator").status_int == 201
    assert client.delete(f"{API}/platforms/{linux.id}/", as_="packager").status_int == 403


def test_list_filters_search_ordering_pagination(client, dbsession):
    for name in ("Linux", "Windows", "MacOS", "BSD"):
        dbsession.add(Platform(name=name))
    dbsession.flush()
    names = lambda r: [p["name"] for p in r.json["results"]]  # noqa: E731
    assert names(client.get(f"{API}/platforms/")) == ["BSD", "Linux", "MacOS", "Windows"]
    assert names(client.get(f"{API}/platforms/?ordering=-name")) == [
        "Windows",
        "MacOS",
        "Linux",
        "BSD",
    ]
    assert names(client.get(f"{API}/platforms/?name__icontains=in")) == ["Linux", "Windows"]
    assert names(client.get(f"{API}/platforms/?search=mac")) == ["MacOS"]
    page = client.get(f"{API}/platforms/?page_size=3&page=2").json
    assert page["count"] == 4 and len(page["results"]) == 1
    assert page["previous"].endswith("page_size=3") and page["next"] is None
    assert client.get(f"{API}/platforms/?page=9").status_int == 404
    assert client.get(f"{API}/platforms/?page=x").status_int == 400
    assert client.get(f"{API}/platforms/?id=abc").status_int == 400
    assert client.get(f"{API}/platforms/?ordering=nope").status_int == 400
    ids = [p.id for p in dbsession.query(Platform).filter(Platform.name.in_(["BSD", "Linux"]))]
    assert names(client.get(f"{API}/platforms/?id__in={ids[0]},{ids[1]}")) == ["BSD", "Linux"]
    filtered = client.post(f"{API}/platforms/filter/", {"id__in": ids})
    assert filtered.json["count"] == 2
    exported = client.get(f"{API}/platforms/export/?ordering=name")
    assert exported.content_type == "text/csv"
    bsd = next(p for p in dbsession.query(Platform) if p.name == "BSD")
    assert exported.text.splitlines()[:2] == ["id,name", f"{bsd.id},BSD"]
    assert 'filename="platforms.csv"' in exported.headers["Content-Disposition"]


def test_project_create_and_rules(client, linux):
    body = {"name": "debian-12", "pms": "apt", "architecture": "amd64", "platform": linux.id}
    created = client.post(f"{API}/projects/", body)
    assert created.status_int == 201, created.text
    assert created.json["slug"] == "debian-12"
    assert created.json["platform"] == {"id": linux.id, "name": "Linux"}
    assert created.json["auto_register_computers"] is False
    again = client.post(f"{API}/projects/", {**body, "name": "Debian-12"})
    assert again.status_int == 400
    assert again.json["errors"][0]["description"] == "Project slug already exists"
    assert client.post(f"{API}/projects/", {**body, "name": "a b"}).status_int == 400
    assert client.post(f"{API}/projects/", {**body, "name": "x", "pms": "msi"}).status_int == 400
    bad_platform = client.post(f"{API}/projects/", {**body, "name": "x", "platform": 999999})
    assert bad_platform.status_int == 400
    assert bad_platform.json["errors"][0]["name"] == "platform"


def test_store_unique_per_project(client, debian):
    body = {"name": "Acme Store", "project": debian.id}
    created = client.post(f"{API}/stores/", body)
    assert created.status_int == 201
    assert created.json["slug"] == "acme-store"
    assert created.json["project"]["slug"] == "debian-12"
    assert client.post(f"{API}/stores/", body).status_int == 400


def test_statement_count_does_not_grow(client, dbsession, statements, linux):
    headers = client.headers(client.role("reader"))
    for i in range(3):
        dbsession.add(
            Project(name=f"p{i}", slug=f"p{i}", pms="apt", architecture="amd64", platform=linux)
        )
    dbsession.flush()
    with statements:
        client.app.get(f"{API}/projects/", headers=headers)
    few = statements.count
    for i in range(3, 30):
        dbsession.add(
            Project(name=f"p{i}", slug=f"p{i}", pms="apt", architecture="amd64", platform=linux)
        )
    dbsession.flush()
    with statements:
        client.app.get(f"{API}/projects/", headers=headers)
    assert statements.count == few


def test_badge_and_relations(client, make):
    project = make.project("rel-project")
    make.store(project=project)
    make.store(project=project)
    make.deployment(project=project)
    computer = make.computer(project=project)
    badge = client.get(f"{API}/projects/{project.id}/badge/").json
    assert badge == {"pk": project.id, "text": "rel-project"}
    computer_badge = client.get(f"{API}/computers/{computer.id}/badge/").json
    assert computer_badge["text"] == f"CID-{computer.id}"
    assert computer_badge["status"] == "assigned" and "rel-project" in computer_badge["summary"]
    relations = {
        r["api"]["model"]: r for r in client.get(f"{API}/projects/{project.id}/relations/").json
    }
    assert relations["stores"]["count"] == 2
    assert relations["stores"]["api"]["query"] == {"project__id": project.id}
    assert relations["deployments"]["count"] == 1
    assert relations["computers"]["count"] == 1
    # A reader may not view stores' writes but reads them; a caller without view gets 403.
    assert client.get(f"{API}/projects/{project.id}/relations/", as_="nobody").status_int == 403
    assert client.get(f"{API}/projects/999999/badge/").status_int == 404
