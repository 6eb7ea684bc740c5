"""Attributes, tags, features and attribute sets through the admin API."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from migasfree_pyramid.models import Attribute, AttributeSet, Computer, Property

API = "/api/v1/token"
UNPRODUCTIVE = ("in repair", "available", "unsubscribed")


def results(response) -> list[dict]:
    assert response.status_int == 200, response.text
    return response.json["results"]


def values(response) -> list[str]:
    return [row["value"] for row in results(response)]


def error_names(response) -> list[str]:
    return [error["name"] for error in response.json["errors"]]


def set_attribute(dbsession, name) -> Attribute | None:
    return dbsession.scalars(
        select(Attribute)
        .join(Attribute.property_att)
        .where(Property.prefix == "SET", Attribute.value == name)
    ).first()


def assert_constant_statements(client, dbsession, statements, url, add_rows):
    """The number of statements of a list does not depend on its number of rows."""
    headers = client.headers(client.role("reader"))
    add_rows(2)
    dbsession.flush()
    with statements:
        assert client.app.get(url, headers=headers).status_int == 200
    few = statements.count
    add_rows(20)
    dbsession.flush()
    with statements:
        response = client.app.get(url, headers=headers)
    assert response.json["count"] >= 22
    assert statements.count == few


# -- attributes -----------------------------------------------------------------------------------


def test_attribute_list_and_detail(client, dbsession, make):
    teacher = make.attribute("ROL", "teacher", description="Teachers")
    listed = client.get(f"{API}/attributes/")
    assert [row["value"] for row in results(listed)] == ["teacher", "All Systems"]
    detail = client.get(f"{API}/attributes/{teacher.id}/").json
    assert detail == {
        "id": teacher.id,
        "property_att": {"id": teacher.property_att_id, "prefix": "ROL", "sort": "server"},
        "value": "teacher",
        "description": "Teachers",
        "latitude": None,
        "longitude": None,
    }
    assert client.get(f"{API}/attributes/999999/").status_int == 404
    # No create (the original's serializer made it unusable) and no export.
    assert client.post(f"{API}/attributes/", {"value": "x"}).status_int == 405
    assert client.get(f"{API}/attributes/export/").status_int == 404


def test_attribute_update(client, dbsession, make):
    teacher = make.attribute("ROL", "teacher")
    make.attribute("ROL", "student")
    url = f"{API}/attributes/{teacher.id}/"
    patched = client.patch(url, {"description": "T", "latitude": 40.4, "longitude": "-3.7"})
    assert patched.status_int == 200, patched.text
    assert (patched.json["latitude"], patched.json["longitude"]) == (40.4, -3.7)
    put = client.put(url, {"value": "teachers", "latitude": None})
    assert put.json["value"] == "teachers" and put.json["latitude"] is None
    assert put.json["description"] == "T" and put.json["longitude"] == -3.7
    assert client.patch(url, {"description": ""}).json["description"] == ""
    cases = [
        ({"value": "student"}, "value"),
        ({"value": ""}, "value"),
        ({"value": "  "}, "value"),
        ({"value": None}, "value"),
        ({"value": 5}, "value"),
        ({"value": "x" * 251}, "value"),
        ({"latitude": "north"}, "latitude"),
        ({"longitude": True}, "longitude"),
        ({"latitude": [1]}, "latitude"),
        ({"description": {"a": 1}}, "description"),
    ]
    for body, field in cases:
        response = client.patch(url, body)
        assert response.status_int == 400, (body, response.text)
        assert error_names(response) == [field], body
    assert error_names(client.put(url, {"description": "x"})) == ["value"]


def test_attribute_delete_and_basic_protection(client, dbsession, make):
    teacher = make.attribute("ROL", "teacher")
    assert client.delete(f"{API}/attributes/{teacher.id}/").status_int == 204
    assert client.get(f"{API}/attributes/{teacher.id}/").status_int == 404
    everyone = make.all_systems()
    for route in ("attributes", "features"):
        refused = client.delete(f"{API}/{route}/{everyone.id}/")
        assert refused.status_int == 400
        assert refused.json["errors"][0]["description"] == "Basic attributes cannot be deleted"
    assert client.get(f"{API}/attributes/{everyone.id}/").status_int == 200
    renamed = client.patch(f"{API}/attributes/{everyone.id}/", {"value": "Everyone"})
    assert renamed.status_int == 400 and error_names(renamed) == ["value"]
    described = client.patch(f"{API}/attributes/{everyone.id}/", {"description": "All"})
    assert described.status_int == 200 and described.json["value"] == "All Systems"


def test_attribute_permissions(client, make):
    teacher = make.attribute("ROL", "teacher")
    url = f"{API}/attributes/{teacher.id}/"
    assert client.get(url, as_="anonymous").status_int == 401
    assert client.get(url, as_="nobody").status_int == 403
    assert client.get(url, as_="reader").status_int == 200
    # Out of the box only superusers write attributes, tags and features (as in the original).
    for role in ("reader", "configurator", "liberator"):
        assert client.patch(url, {"description": "x"}, as_=role).status_int == 403
        assert client.delete(url, as_=role).status_int == 403
    assert client.patch(url, {"description": "x"}, as_="admin").status_int == 200


def test_attribute_filters(client, dbsession, make):
    teacher = make.attribute("ROL", "teacher", description="Teachers of the school")
    student = make.attribute("ROL", "student")
    hostname = make.attribute("HST", "pc01", sort="client")
    teacher.latitude, teacher.longitude = 1.0, 2.0
    student.latitude = 3.0
    aset = make.attribute_set(included=[teacher], excluded=[student])
    domain = make.domain(included=[hostname], excluded=[student])
    scope = make.scope(client.role("admin"), included=[teacher], excluded=[hostname])
    deployment = make.deployment(included=[student], excluded=[teacher])
    singularity = make.singularity(included_attributes=[hostname], excluded_attributes=[student])
    computer = make.computer(sync_attributes=[teacher, hostname])
    dbsession.flush()
    url = f"{API}/attributes/"
    cases = {
        "property_att__prefix=ROL": ["student", "teacher"],
        "property_att__prefix__in=ROL,HST": ["pc01", "student", "teacher"],
        f"property_att__id={hostname.property_att_id}": ["pc01"],
        "property_att__sort=client": ["pc01"],
        "value=teacher": ["teacher"],
        "value__icontains=EAC": ["teacher"],
        "description__icontains=school": ["teacher"],
        "has_location=true": ["teacher"],
        f"id__in={teacher.id},{student.id}": ["student", "teacher"],
        f"attributeset_included__id={aset.id}": ["teacher"],
        f"attributeset_excluded__id={aset.id}": ["student"],
        f"domain_included__id={domain.id}": [domain.name, "pc01"],
        f"domain_excluded__id={domain.id}": ["student"],
        f"scope_included__id={scope.id}": ["teacher"],
        f"scope_excluded__id={scope.id}": ["pc01"],
        f"deployment_included__id={deployment.id}": ["student"],
        f"deployment_excluded__id={deployment.id}": ["teacher"],
        f"singularity_included__id={singularity.id}": ["pc01"],
        f"singularity_excluded__id={singularity.id}": ["student"],
        f"computer__id={computer.id}": ["pc01", "teacher"],
        "computer__id__in=999999": [],
        "total_computers=1": ["pc01", "teacher"],
        "total_computers__gte=1&property_att__prefix=ROL": ["teacher"],
        "total_computers__lt=1&property_att__prefix=ROL": ["student"],
        "search=rol": ["student", "teacher"],
        "search=school teach": ["teacher"],
        "property_att__prefix=ROL&ordering=-value": ["teacher", "student"],
    }
    for query, expected in cases.items():
        found = values(client.get(f"{url}?{query}"))
        assert (
            sorted(found) == sorted(expected) if "ordering" not in query else found == expected
        ), (
            query,
            found,
        )
    not_located = values(client.get(f"{url}?has_location=false&property_att__prefix=ROL"))
    assert not_located == ["student"]
    # Default ordering: property prefix, then value.
    everything = results(client.get(url))
    keys = [(row["property_att"]["prefix"], row["value"]) for row in everything]
    assert keys == sorted(keys)
    page = client.get(f"{url}?page_size=2&page=2&property_att__prefix__in=ROL,HST").json
    assert page["count"] == 3 and [r["value"] for r in page["results"]] == ["teacher"]
    for bad in ("id=x", "has_location=maybe", "total_computers=many", "ordering=nope"):
        assert client.get(f"{url}?{bad}").status_int == 400, bad
    filtered = client.post(f"{url}filter/", {"id__in": [teacher.id, hostname.id]})
    assert sorted(r["value"] for r in filtered.json["results"]) == ["pc01", "teacher"]


def test_attribute_statement_count(client, dbsession, statements, make):
    def add(n):
        for _ in range(n):
            make.attribute("ROL")

    assert_constant_statements(client, dbsession, statements, f"{API}/attributes/", add)


# -- tags and features ----------------------------------------------------------------------------


@pytest.fixture
def rol(make):
    return make.property("ROL", sort="server", name="Role")


def test_tag_crud(client, dbsession, make, rol):
    make.attribute("HST", "pc01", sort="client")
    body = {
        "property_att": rol.id,
        "value": "teacher",
        "description": "Teachers",
        "latitude": 1.5,
        "longitude": 2,
    }
    created = client.post(f"{API}/tags/", body)
    assert created.status_int == 201, created.text
    pk = created.json["id"]
    assert created.json == {
        "id": pk,
        "property_att": {"id": rol.id, "prefix": "ROL", "name": "Role", "sort": "server"},
        "value": "teacher",
        "description": "Teachers",
        "latitude": 1.5,
        "longitude": 2.0,
        "total_computers": 0,
    }
    assert values(client.get(f"{API}/tags/")) == ["teacher"]
    assert client.get(f"{API}/tags/{pk}/").json == created.json
    put = client.put(f"{API}/tags/{pk}/", {"property_att": rol.id, "value": "teachers"})
    assert put.json["value"] == "teachers" and put.json["description"] == "Teachers"
    patched = client.patch(f"{API}/tags/{pk}/", {"longitude": None})
    assert patched.json["longitude"] is None
    exported = client.get(f"{API}/tags/export/")
    assert exported.content_type == "text/csv" and "teachers" in exported.text
    assert client.delete(f"{API}/tags/{pk}/").status_int == 204
    assert client.get(f"{API}/tags/{pk}/").status_int == 404


def test_tag_validation(client, dbsession, make, rol):
    make.attribute("ROL", "teacher")
    hst = make.property("HST")
    url = f"{API}/tags/"
    cases = [
        ({"value": "x"}, "property_att"),
        ({"property_att": rol.id}, "value"),
        ({"property_att": hst.id, "value": "x"}, "property_att"),
        ({"property_att": 999999, "value": "x"}, "property_att"),
        ({"property_att": "ROL", "value": "x"}, "property_att"),
        ({"property_att": rol.id, "value": "teacher"}, "value"),
        ({"property_att": rol.id, "value": "x" * 251}, "value"),
        ({"property_att": rol.id, "value": "x", "latitude": "y"}, "latitude"),
    ]
    for body, field in cases:
        response = client.post(url, body)
        assert response.status_int == 400, (body, response.text)
        assert error_names(response) == [field], body
    feature = make.attribute("HST", "pc01", sort="client")
    assert client.get(f"{url}{feature.id}/").status_int == 404
    assert client.patch(f"{url}999999/", {"value": "x"}).status_int == 404


def test_tag_permissions(client, rol):
    url = f"{API}/tags/"
    body = {"property_att": rol.id, "value": "teacher"}
    assert client.get(url, as_="anonymous").status_int == 401
    assert client.get(url, as_="nobody").status_int == 403
    assert client.get(url, as_="reader").status_int == 200
    assert client.post(url, body, as_="configurator").status_int == 403
    assert client.post(url, body, as_="domain-admin").status_int == 403
    assert client.post(url, body, as_="admin").status_int == 201


def test_total_computers_counts_productive_computers(client, dbsession, make, rol):
    tag = make.attribute("ROL", "teacher")
    other = make.attribute("ROL", "student")
    for status in ("assigned", "reserved", "unknown", *UNPRODUCTIVE):
        make.computer(status=status, sync_attributes=[tag])
    make.computer(tags=[other])  # tagged but not synced yet: not counted
    listed = {row["value"]: row["total_computers"] for row in results(client.get(f"{API}/tags/"))}
    assert listed == {"teacher": 3, "student": 0}
    assert client.get(f"{API}/tags/{tag.id}/").json["total_computers"] == 3
    assert values(client.get(f"{API}/tags/?total_computers=3")) == ["teacher"]
    assert values(client.get(f"{API}/tags/?total_computers__gt=3")) == []
    assert values(client.get(f"{API}/tags/?total_computers__lte=2")) == ["student"]


def test_tag_computers_action(client, dbsession, make, rol):
    tag = make.attribute("ROL", "teacher")
    project = make.project("debian-12")
    user = make.client_user("jdoe", "John Doe")
    tagged = make.computer(
        project=project, tags=[tag], sync_attributes=[tag], ip_address="10.0.0.1", sync_user=user
    )
    inflicted = make.computer(project=project, sync_attributes=[tag], status="reserved")
    repaired = make.computer(project=project, tags=[tag], status="in repair")
    make.computer(project=project)
    url = f"{API}/tags/{tag.id}/computers/"
    shown = client.get(url, as_="reader")
    assert shown.status_int == 200, shown.text
    assert shown.json == {
        "computers": [
            {
                "id": tagged.id,
                "__str__": f"CID-{tagged.id}",
                "status": "assigned",
                "summary": "assigned, debian-12, 10.0.0.1, jdoe (John Doe)",
            }
        ],
        "inflicted": [
            {
                "id": inflicted.id,
                "__str__": f"CID-{inflicted.id}",
                "status": "reserved",
                "summary": "reserved, debian-12, , ",
            }
        ],
    }
    replaced = client.patch(url, {"computers": [inflicted.id]})
    assert replaced.status_int == 204, replaced.text
    dbsession.expire_all()
    carrying = dbsession.scalars(select(Computer).where(Computer.tags.any(Attribute.id == tag.id)))
    assert [c.id for c in carrying] == [inflicted.id]
    assert dbsession.get(Computer, repaired.id).tags == []
    after = client.get(url).json
    assert [c["id"] for c in after["computers"]] == [inflicted.id]
    assert [c["id"] for c in after["inflicted"]] == [tagged.id]
    assert client.patch(url, {"computers": []}).status_int == 204
    assert client.get(url).json["computers"] == []


def test_tag_computers_errors_and_permissions(client, make, rol):
    tag = make.attribute("ROL", "teacher")
    computer = make.computer()
    url = f"{API}/tags/{tag.id}/computers/"
    missing = client.patch(url, {"computers": [computer.id, 999999]})
    assert missing.status_int == 400 and error_names(missing) == ["computers"]
    assert error_names(client.patch(url, {})) == ["computers"]
    assert error_names(client.patch(url, {"computers": "all"})) == ["computers"]
    assert error_names(client.patch(url, {"computers": ["x"]})) == ["computers"]
    assert client.get(url, as_="anonymous").status_int == 401
    assert client.get(url, as_="nobody").status_int == 403
    assert client.patch(url, {"computers": [computer.id]}, as_="reader").status_int == 403
    assert client.patch(url, {"computers": [computer.id]}, as_="configurator").status_int == 403
    assert client.patch(url, {"computers": [computer.id]}, as_="anonymous").status_int == 401
    assert client.get(f"{API}/tags/999999/computers/").status_int == 404
    feature = make.attribute("HST", "pc01", sort="client")
    assert client.get(f"{API}/tags/{feature.id}/computers/").status_int == 404


def test_tag_only_filters(client, dbsession, make, rol):
    teacher = make.attribute("ROL", "teacher")
    student = make.attribute("ROL", "student")
    domain = make.domain(tags=[teacher])
    computer = make.computer(tags=[student])
    assert values(client.get(f"{API}/tags/?domain_tags__id={domain.id}")) == ["teacher"]
    assert values(client.get(f"{API}/tags/?tags__id={computer.id}")) == ["student"]
    assert values(client.get(f"{API}/tags/?search=ROL")) == ["student", "teacher"]
    # Not a filter of features: ignored, as unknown parameters are.
    assert client.get(f"{API}/features/?tags__id={computer.id}").status_int == 200


def test_tags_statement_count(client, dbsession, statements, make, rol):
    projects = [make.project(), make.project()]

    def add(n):
        for _ in range(n):
            tag = make.attribute("ROL")
            make.computer(project=projects[0], sync_attributes=[tag], tags=[tag])

    assert_constant_statements(client, dbsession, statements, f"{API}/tags/", add)


def test_feature_crud_and_rules(client, dbsession, make, rol):
    hst = make.property("HST")
    make.attribute("ROL", "teacher")
    url = f"{API}/features/"
    created = client.post(url, {"property_att": hst.id, "value": "pc01"})
    assert created.status_int == 201, created.text
    pk = created.json["id"]
    assert created.json["property_att"] == {
        "id": hst.id,
        "prefix": "HST",
        "name": "Hostname",
        "sort": "client",
    }
    assert created.json["total_computers"] == 0
    assert "teacher" not in values(client.get(url))
    assert "All Systems" in values(client.get(url))
    refused = client.post(url, {"property_att": rol.id, "value": "x"})
    assert refused.status_int == 400 and error_names(refused) == ["property_att"]
    moved = client.patch(f"{url}{pk}/", {"property_att": rol.id})
    assert moved.status_int == 400 and error_names(moved) == ["property_att"]
    make.computer(sync_attributes=[dbsession.get(Attribute, pk)])
    assert client.get(f"{url}{pk}/").json["total_computers"] == 1
    assert client.patch(f"{url}{pk}/", {"value": "pc02"}).json["value"] == "pc02"
    # logical-devices belongs to the devices addon.
    assert client.get(f"{url}{pk}/logical-devices/").status_int == 404
    assert client.post(url, {"property_att": hst.id, "value": "x"}, as_="reader").status_int == 403
    assert client.delete(f"{url}{pk}/").status_int == 204


def test_features_statement_count(client, dbsession, statements, make):
    def add(n):
        for _ in range(n):
            feature = make.attribute("HST", sort="client")
            make.computer(sync_attributes=[feature])

    assert_constant_statements(client, dbsession, statements, f"{API}/features/", add)


# -- attribute sets -------------------------------------------------------------------------------


def test_attribute_set_crud_and_mirror(client, dbsession, make):
    teacher = make.attribute("ROL", "teacher")
    student = make.attribute("ROL", "student")
    body = {
        "name": "Classroom",
        "description": "Teachers but not students",
        "latitude": 1,
        "included_attributes": [teacher.id],
        "excluded_attributes": [student.id],
    }
    created = client.post(f"{API}/attribute-sets/", body)
    assert created.status_int == 201, created.text
    pk = created.json["id"]
    assert created.json["enabled"] is True and created.json["longitude"] is None
    assert created.json["latitude"] == 1.0
    assert [a["value"] for a in created.json["included_attributes"]] == ["teacher"]
    assert created.json["excluded_attributes"][0] == {
        "id": student.id,
        "property_att": {"id": student.property_att_id, "prefix": "ROL", "sort": "server"},
        "value": "student",
        "description": None,
        "latitude": None,
        "longitude": None,
    }
    assert client.get(f"{API}/attribute-sets/{pk}/").json == created.json
    # Creating the set created its mirror attribute SET-Classroom.
    mirror = set_attribute(dbsession, "Classroom")
    assert mirror is not None and mirror.description == ""
    assert mirror.property_att.sort == "basic"
    # Renaming the set renames the same attribute.
    renamed = client.patch(f"{API}/attribute-sets/{pk}/", {"name": "Classrooms"})
    assert renamed.status_int == 200 and renamed.json["name"] == "Classrooms"
    dbsession.expire_all()
    assert set_attribute(dbsession, "Classroom") is None
    assert set_attribute(dbsession, "Classrooms").id == mirror.id
    put = client.put(f"{API}/attribute-sets/{pk}/", {"name": "Classrooms", "enabled": False})
    assert put.json["enabled"] is False and len(put.json["included_attributes"]) == 1
    assert put.json["description"] == "Teachers but not students"
    # Deleting the set deletes the mirror.
    assert client.delete(f"{API}/attribute-sets/{pk}/").status_int == 204
    assert client.get(f"{API}/attribute-sets/{pk}/").status_int == 404
    dbsession.expire_all()
    assert set_attribute(dbsession, "Classrooms") is None
    assert dbsession.get(Attribute, teacher.id) is not None


def test_attribute_set_reuses_orphan_mirror(client, dbsession, make):
    orphan = make.attribute("SET", "Lab", sort="basic")
    created = client.post(f"{API}/attribute-sets/", {"name": "Lab"})
    assert created.status_int == 201
    assert set_attribute(dbsession, "Lab").id == orphan.id


def test_attribute_set_rename_to_existing_set_attribute(client, dbsession, make):
    aset = make.attribute_set("Lab")
    make.attribute("SET", "Library", sort="basic")
    response = client.patch(f"{API}/attribute-sets/{aset.id}/", {"name": "Library"})
    assert response.status_int == 400
    assert response.json["errors"][0] == {
        "location": "body",
        "name": "name",
        "description": "Duplicated name",
    }


def test_attribute_set_cycles_are_refused(client, dbsession, make):
    url = f"{API}/attribute-sets/"
    a = client.post(url, {"name": "A"}).json
    b = client.post(url, {"name": "B"}).json
    set_a, set_b = set_attribute(dbsession, "A"), set_attribute(dbsession, "B")
    teacher = make.attribute("ROL", "teacher")
    ok = client.patch(f"{url}{a['id']}/", {"included_attributes": [set_b.id, teacher.id]})
    assert ok.status_int == 200, ok.text
    cycle = client.patch(f"{url}{b['id']}/", {"included_attributes": [set_a.id]})
    assert cycle.status_int == 400
    assert cycle.json["errors"][0]["name"] == "included_attributes"
    assert cycle.json["errors"][0]["description"] == "Review circular dependencies: A, B"
    excluded = client.patch(f"{url}{b['id']}/", {"excluded_attributes": [set_a.id]})
    assert excluded.status_int == 400
    assert excluded.json["errors"][0]["name"] == "excluded_attributes"
    dbsession.expire_all()
    assert dbsession.get(AttributeSet, b["id"]).included_attributes == []
    # A longer cycle, closed by a new set whose mirror already exists (an orphan attribute).
    set_c = make.attribute("SET", "C", sort="basic")
    client.patch(f"{url}{b['id']}/", {"included_attributes": [set_c.id]})
    closing = client.post(url, {"name": "C", "excluded_attributes": [set_a.id]})
    assert closing.status_int == 400
    assert closing.json["errors"][0]["description"] == "Review circular dependencies: A, B, C"
    # A set cannot refer to its own attribute.
    own = client.patch(f"{url}{a['id']}/", {"included_attributes": [set_a.id]})
    assert own.status_int == 400 and error_names(own) == ["included_attributes"]
    # All Systems never counts as a dependency.
    everyone = make.all_systems()
    fine = client.patch(f"{url}{b['id']}/", {"included_attributes": [everyone.id]})
    assert fine.status_int == 200


def test_attribute_set_validation(client, make):
    make.attribute_set("Lab")
    url = f"{API}/attribute-sets/"
    cases = [
        ({}, "name"),
        ({"name": "  "}, "name"),
        ({"name": "x" * 51}, "name"),
        ({"name": "Lab"}, "name"),
        ({"name": "all systems"}, "name"),
        ({"name": "X", "enabled": "sure"}, "enabled"),
        ({"name": "X", "latitude": "far"}, "latitude"),
        ({"name": "X", "included_attributes": [999999]}, "included_attributes"),
        ({"name": "X", "excluded_attributes": ["a"]}, "excluded_attributes"),
    ]
    for body, field in cases:
        response = client.post(url, body)
        assert response.status_int == 400, (body, response.text)
        assert error_names(response) == [field], body
    assert client.get(f"{url}999999/").status_int == 404


def test_attribute_set_filters_search_ordering(client, dbsession, make):
    teacher = make.attribute("ROL", "teacher")
    lab = make.attribute_set("Lab", included=[teacher])
    office = make.attribute_set("Office", excluded=[teacher], enabled=False)
    library = make.attribute_set("Library")
    library.description = "Books and readers"
    dbsession.flush()
    url = f"{API}/attribute-sets/"
    names = lambda r: [row["name"] for row in results(r)]  # noqa: E731
    assert names(client.get(url)) == ["Lab", "Library", "Office"]
    assert names(client.get(f"{url}?ordering=-name")) == ["Office", "Library", "Lab"]
    assert names(client.get(f"{url}?enabled=false")) == ["Office"]
    assert names(client.get(f"{url}?name__icontains=l")) == ["Lab", "Library"]
    assert names(client.get(f"{url}?name=Lab")) == ["Lab"]
    assert names(client.get(f"{url}?id__in={lab.id},{office.id}")) == ["Lab", "Office"]
    assert names(client.get(f"{url}?included_attributes__id={teacher.id}")) == ["Lab"]
    assert names(client.get(f"{url}?excluded_attributes__id={teacher.id}")) == ["Office"]
    assert names(client.get(f"{url}?search=books")) == ["Library"]
    page = client.get(f"{url}?page_size=2&page=2").json
    assert page["count"] == 3 and [r["name"] for r in page["results"]] == ["Office"]
    exported = client.get(f"{url}export/")
    assert exported.content_type == "text/csv" and "Library" in exported.text
    assert client.get(f"{url}?ordering=value").status_int == 400


def test_attribute_set_permissions(client, make):
    url = f"{API}/attribute-sets/"
    assert client.get(url, as_="anonymous").status_int == 401
    assert client.get(url, as_="nobody").status_int == 403
    assert client.get(url, as_="reader").status_int == 200
    assert client.post(url, {"name": "X"}, as_="reader").status_int == 403
    assert client.post(url, {"name": "X"}, as_="packager").status_int == 403
    created = client.post(url, {"name": "X"}, as_="configurator")
    assert created.status_int == 201
    assert client.delete(f"{url}{created.json['id']}/", as_="configurator").status_int == 204


def test_attribute_sets_statement_count(client, dbsession, statements, make):
    teacher = make.attribute("ROL", "teacher")
    student = make.attribute("ROL", "student")

    def add(n):
        for _ in range(n):
            make.attribute_set(included=[teacher, student], excluded=[student])

    assert_constant_statements(client, dbsession, statements, f"{API}/attribute-sets/", add)
