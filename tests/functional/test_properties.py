"""Properties, formulas, stamps and singularities through the admin API."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from migasfree_pyramid.models import PROPERTY_KINDS, Attribute, Property, Singularity

API = "/api/v1/token"
SEEDED = ["CID", "HST", "IP", "NET", "PCI", "PLT", "PRJ", "SET", "USR"]


def prop(dbsession, prefix) -> Property:
    return dbsession.scalars(select(Property).where(Property.prefix == prefix)).one()


def results(response) -> list[dict]:
    assert response.status_int == 200, response.text
    return response.json["results"]


def prefixes(response) -> list[str]:
    return [row["prefix"] for row in results(response)]


def error_names(response) -> list[str]:
    return [error["name"] for error in response.json["errors"]]


def assert_constant_statements(client, dbsession, statements, url, add_rows):
    """The number of statements of a list does not depend on its number of rows."""
    headers = client.headers(client.role("reader"))
    add_rows(2)
    dbsession.flush()
    with statements:
        assert client.app.get(url, headers=headers).status_int == 200
    few = statements.count
    add_rows(25)
    dbsession.flush()
    with statements:
        response = client.app.get(url, headers=headers)
    assert response.json["count"] >= 27
    assert statements.count == few


# -- properties -----------------------------------------------------------------------------------


def test_property_crud(client, dbsession):
    body = {
        "prefix": "ROL",
        "name": "Role",
        "sort": "server",
        "kind": "L",
        "language": 1,
        "enabled": False,
        "auto_add": False,
        "code": "a\r\nb",
    }
    created = client.post(f"{API}/properties/", body)
    assert created.status_int == 201, created.text
    pk = created.json["id"]
    assert created.json == {
        "id": pk,
        "prefix": "ROL",
        "name": "Role",
        "enabled": False,
        "kind": "L",
        "sort": "server",
        "auto_add": False,
        "language": "python",
        "code": "a\nb",
    }
    assert client.get(f"{API}/properties/{pk}/").json == created.json
    patched = client.patch(f"{API}/properties/{pk}/", {"name": "Roles", "language": 6})
    assert patched.json["name"] == "Roles" and patched.json["language"] == "powershell"
    assert patched.json["enabled"] is False and patched.json["code"] == "a\nb"
    put = client.put(f"{API}/properties/{pk}/", {"prefix": "RL2", "name": "Role", "sort": "client"})
    assert put.status_int == 200, put.text
    # Fields left out of a PUT keep their value, as in the original.
    assert put.json["prefix"] == "RL2" and put.json["sort"] == "client"
    assert put.json["enabled"] is False and put.json["kind"] == "L"
    assert client.delete(f"{API}/properties/{pk}/").status_int == 204
    assert client.get(f"{API}/properties/{pk}/").status_int == 404


def test_property_defaults(client):
    created = client.post(f"{API}/properties/", {"prefix": "ABC", "name": "Abc"})
    assert created.status_int == 201, created.text
    assert created.json["sort"] == "client" and created.json["kind"] == "N"
    assert created.json["language"] == "bash" and created.json["code"] is None
    assert created.json["enabled"] is True and created.json["auto_add"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X"}, "prefix"),
        ({"prefix": "ABC"}, "name"),
        ({"prefix": "ABCD", "name": "X"}, "prefix"),
        ({"prefix": "abc", "name": "X"}, "prefix"),
        ({"prefix": "A-B", "name": "X"}, "prefix"),
        ({"prefix": "HST", "name": "X"}, "prefix"),
        ({"prefix": "ABC", "name": "   "}, "name"),
        ({"prefix": "ABC", "name": "x" * 51}, "name"),
        ({"prefix": "ABC", "name": "X", "kind": "Z"}, "kind"),
        ({"prefix": "ABC", "name": "X", "sort": "other"}, "sort"),
        ({"prefix": "ABC", "name": "X", "sort": "basic"}, "sort"),
        ({"prefix": "ABC", "name": "X", "language": 7}, "language"),
        ({"prefix": "ABC", "name": "X", "language": "python"}, "language"),
        ({"prefix": "ABC", "name": "X", "enabled": "maybe"}, "enabled"),
        ({"prefix": 12, "name": "X"}, "prefix"),
    ],
)
def test_property_validation(client, body, field):
    response = client.post(f"{API}/properties/", body)
    assert response.status_int == 400, response.text
    assert response.json["status"] == "error"
    assert field in error_names(response)


def test_property_bad_body_and_missing(client):
    headers = {**client.headers(client.role("admin")), "Content-Type": "application/json"}
    bad = client.app.post(f"{API}/properties/", "[1, 2]", headers=headers, status="*")
    assert bad.status_int == 400
    assert client.get(f"{API}/properties/999999/").status_int == 404
    assert client.patch(f"{API}/properties/999999/", {"name": "x"}).status_int == 404


def test_basic_properties_are_protected(client, dbsession):
    """F.17: the original answered 204 to a delete and did nothing."""
    cid = prop(dbsession, "CID")
    deleted = client.delete(f"{API}/properties/{cid.id}/")
    assert deleted.status_int == 400
    assert deleted.json["errors"][0]["description"] == "Basic properties cannot be deleted"
    assert client.get(f"{API}/properties/{cid.id}/").status_int == 200
    for blank in ({"name": ""}, {"name": None}, {"prefix": " "}):
        response = client.patch(f"{API}/properties/{cid.id}/", blank)
        assert response.status_int == 400 and error_names(response) == list(blank), blank
    prefix = client.patch(f"{API}/properties/{cid.id}/", {"prefix": "CPU"})
    assert prefix.status_int == 400 and error_names(prefix) == ["prefix"]
    sort = client.patch(f"{API}/properties/{cid.id}/", {"sort": "client"})
    assert sort.status_int == 400 and error_names(sort) == ["sort"]
    hst = prop(dbsession, "HST")
    to_basic = client.patch(f"{API}/properties/{hst.id}/", {"sort": "basic"})
    assert to_basic.status_int == 400 and error_names(to_basic) == ["sort"]
    renamed = client.put(
        f"{API}/properties/{cid.id}/", {"prefix": "CID", "name": "Computer", "sort": "basic"}
    )
    assert renamed.status_int == 200 and renamed.json["name"] == "Computer"


def test_kind_action(client):
    response = client.get(f"{API}/properties/kind/", as_="reader")
    assert response.json == {
        "N": "Normal",
        "-": "List",
        "L": "Added to the left",
        "R": "Added to the right",
        "J": "JSON",
    }
    assert response.json == PROPERTY_KINDS
    assert list(response.json) == ["N", "-", "L", "R", "J"]
    assert client.get(f"{API}/properties/kind/", as_="anonymous").status_int == 401
    assert client.get(f"{API}/properties/kind/", as_="nobody").status_int == 403
    assert client.get(f"{API}/formulas/kind/").status_int == 404


def test_property_list_filters_search_ordering(client, dbsession, make):
    rol = make.property("ROL", sort="server", kind="L", enabled=False)
    attribute = make.attribute("ROL", "teacher")
    singularity = make.singularity(prop(dbsession, "HST"))
    url = f"{API}/properties/"
    assert prefixes(client.get(url)) == sorted([*SEEDED, "ROL"])
    assert prefixes(client.get(f"{url}?ordering=-prefix"))[0] == "USR"
    assert prefixes(client.get(f"{url}?sort=server")) == ["ROL"]
    assert prefixes(client.get(f"{url}?sort=basic")) == ["CID", "IP", "PLT", "PRJ", "SET", "USR"]
    assert prefixes(client.get(f"{url}?kind=-")) == ["PCI"]
    assert prefixes(client.get(f"{url}?enabled=false")) == ["ROL"]
    assert prefixes(client.get(f"{url}?prefix=NET")) == ["NET"]
    assert prefixes(client.get(f"{url}?prefix__in=NET,PCI")) == ["NET", "PCI"]
    assert prefixes(client.get(f"{url}?prefix__icontains=p")) == ["IP", "PCI", "PLT", "PRJ"]
    assert prefixes(client.get(f"{url}?name__icontains=user")) == ["USR"]
    assert prefixes(client.get(f"{url}?name=Network")) == ["NET"]
    assert prefixes(client.get(f"{url}?id__in={rol.id}")) == ["ROL"]
    assert prefixes(client.get(f"{url}?attribute__id={attribute.id}")) == ["ROL"]
    assert prefixes(client.get(f"{url}?singularity__id={singularity.id}")) == ["HST"]
    # Search covers the name, the language name and the code.
    assert prefixes(client.get(f"{url}?search=login")) == ["USR"]
    assert prefixes(client.get(f"{url}?search=platform.node")) == ["HST"]
    assert prefixes(client.get(f"{url}?search=bash")) == ["ROL"]
    page = client.get(f"{url}?page_size=4&page=3").json
    assert page["count"] == 10 and len(page["results"]) == 2 and page["next"] is None
    assert client.get(f"{url}?ordering=nope").status_int == 400
    assert client.get(f"{url}?enabled=maybe").status_int == 400
    assert client.get(f"{url}?id=x").status_int == 400
    filtered = client.post(f"{url}filter/", {"prefix__in": ["HST", "NET"]})
    assert [row["prefix"] for row in filtered.json["results"]] == ["HST", "NET"]
    # The original has no export resource for properties.
    assert client.get(f"{url}export/").status_int == 404


def test_property_permissions(client, dbsession):
    url = f"{API}/properties/"
    assert client.get(url, as_="anonymous").status_int == 401
    assert client.get(url, as_="nobody").status_int == 403
    assert client.get(url, as_="reader").status_int == 200
    body = {"prefix": "ABC", "name": "Abc"}
    assert client.post(url, body, as_="reader").status_int == 403
    created = client.post(url, body, as_="configurator")
    assert created.status_int == 201
    pk = created.json["id"]
    assert client.patch(f"{url}{pk}/", {"name": "B"}, as_="packager").status_int == 403
    assert client.patch(f"{url}{pk}/", {"name": "B"}, as_="configurator").status_int == 200
    assert client.delete(f"{url}{pk}/", as_="liberator").status_int == 403
    assert client.delete(f"{url}{pk}/", as_="configurator").status_int == 204


def test_property_statement_count(client, dbsession, statements):
    counter = iter(range(100))

    def add(n):
        for _ in range(n):
            dbsession.add(Property(prefix=f"Z{next(counter):02d}", name="z", sort="server"))

    assert_constant_statements(client, dbsession, statements, f"{API}/properties/", add)


# -- formulas -------------------------------------------------------------------------------------


def test_formula_crud(client, dbsession, make):
    make.property("ROL", sort="server")
    listed = client.get(f"{API}/formulas/")
    assert [row["name"] for row in results(listed)][:3] == [
        "Attribute Set",
        "Computer ID",
        "Hostname",
    ]
    assert "ROL" not in [row["prefix"] for row in results(listed)]
    body = {"prefix": "DSK", "name": "Disks", "code": "echo a\r\necho b", "sort": "server"}
    created = client.post(f"{API}/formulas/", body)
    assert created.status_int == 201, created.text
    pk = created.json["id"]
    assert created.json == {
        "id": pk,
        "prefix": "DSK",
        "name": "Disks",
        "kind": "N",
        "sort": "client",
        "enabled": True,
        "language": "bash",
        "code": "echo a\necho b",
    }
    patched = client.patch(f"{API}/formulas/{pk}/", {"kind": "-", "language": 1})
    assert patched.json["kind"] == "-" and patched.json["language"] == "python"
    put = client.put(f"{API}/formulas/{pk}/", {"prefix": "DSK", "name": "D", "code": "x"})
    assert put.json["name"] == "D" and put.json["code"] == "x" and put.json["kind"] == "-"
    exported = client.get(f"{API}/formulas/export/?prefix=DSK")
    assert exported.content_type == "text/csv" and "DSK" in exported.text
    assert client.delete(f"{API}/formulas/{pk}/").status_int == 204
    assert client.get(f"{API}/formulas/{pk}/").status_int == 404


def test_formula_rules(client, dbsession, make):
    url = f"{API}/formulas/"
    assert error_names(client.post(url, {"prefix": "DSK", "name": "D"})) == ["code"]
    blank = client.post(url, {"prefix": "DSK", "name": "D", "code": "  \n "})
    assert blank.status_int == 400 and error_names(blank) == ["code"]
    hst = prop(dbsession, "HST")
    assert error_names(client.patch(f"{url}{hst.id}/", {"code": ""})) == ["code"]
    duplicate = client.post(url, {"prefix": "NET", "name": "D", "code": "x"})
    assert duplicate.status_int == 400 and error_names(duplicate) == ["prefix"]
    # F.17: saving a basic property through formulas/ keeps it basic.
    usr = prop(dbsession, "USR")
    saved = client.patch(f"{url}{usr.id}/", {"name": "Login", "code": "whoami"})
    assert saved.status_int == 200 and saved.json["sort"] == "basic"
    dbsession.refresh(usr)
    assert usr.sort == "basic"
    assert client.patch(f"{url}{usr.id}/", {"prefix": "USE"}).status_int == 400
    deleted = client.delete(f"{url}{usr.id}/")
    assert deleted.json["errors"][0]["description"] == "Basic properties cannot be deleted"
    # Stamps are not formulas.
    stamp = make.property("ROL", sort="server")
    assert client.get(f"{url}{stamp.id}/").status_int == 404


def test_formula_filters_and_search(client, dbsession, make):
    url = f"{API}/formulas/"
    make.property("DSK", sort="client", language=0, name="Disks")
    assert prefixes(client.get(f"{url}?language=0")) == ["DSK"]
    assert prefixes(client.get(f"{url}?language__in=0,5")) == ["DSK"]
    assert prefixes(client.get(f"{url}?search=dsk")) == ["DSK"]
    assert prefixes(client.get(f"{url}?sort=client&ordering=prefix")) == [
        "DSK",
        "HST",
        "NET",
        "PCI",
    ]
    assert client.get(f"{url}?language=python").status_int == 400


def test_formula_permissions(client):
    url = f"{API}/formulas/"
    body = {"prefix": "DSK", "name": "D", "code": "x"}
    assert client.get(url, as_="anonymous").status_int == 401
    assert client.get(url, as_="nobody").status_int == 403
    assert client.get(url, as_="reader").status_int == 200
    assert client.post(url, body, as_="reader").status_int == 403
    # Configurator holds core.*_property, which the formulas route uses (spec C.2 fix).
    assert client.post(url, body, as_="configurator").status_int == 201


def test_formula_statement_count(client, dbsession, statements):
    counter = iter(range(100))

    def add(n):
        for _ in range(n):
            dbsession.add(Property(prefix=f"F{next(counter):02d}", name="f", sort="client"))

    assert_constant_statements(client, dbsession, statements, f"{API}/formulas/", add)


# -- stamps ---------------------------------------------------------------------------------------


def test_stamp_crud(client, dbsession):
    url = f"{API}/stamps/"
    assert results(client.get(url)) == []
    body = {"prefix": "ROL", "name": "Role", "kind": "L", "code": "ignored", "sort": "client"}
    created = client.post(url, body)
    assert created.status_int == 201, created.text
    pk = created.json["id"]
    assert created.json == {"id": pk, "prefix": "ROL", "name": "Role", "kind": "L", "enabled": True}
    row = dbsession.get(Property, pk)
    assert row.sort == "server" and row.code == ""
    put = client.put(f"{url}{pk}/", {"prefix": "RLE", "name": "Roles", "enabled": False})
    assert put.json == {"id": pk, "prefix": "RLE", "name": "Roles", "kind": "L", "enabled": False}
    assert client.patch(f"{url}{pk}/", {"kind": "R"}).json["kind"] == "R"
    assert [r["prefix"] for r in results(client.get(f"{url}?search=rol"))] == ["RLE"]
    assert client.get(f"{url}export/").content_type == "text/csv"
    # Deleting a stamp deletes its tags (and so untags the computers).
    tag = Attribute(property_att_id=pk, value="teacher")
    dbsession.add(tag)
    dbsession.flush()
    tag_id = tag.id
    assert client.delete(f"{url}{pk}/").status_int == 204
    assert client.get(f"{url}{pk}/").status_int == 404
    dbsession.expire_all()
    assert dbsession.scalars(select(Attribute).where(Attribute.id == tag_id)).first() is None


def test_stamp_rules_and_permissions(client, dbsession, make):
    url = f"{API}/stamps/"
    assert error_names(client.post(url, {"prefix": "HST", "name": "x"})) == ["prefix"]
    assert error_names(client.post(url, {"prefix": "ROL"})) == ["name"]
    assert error_names(client.post(url, {"prefix": "ROL", "name": "R", "kind": "x"})) == ["kind"]
    hst = prop(dbsession, "HST")
    assert client.get(f"{url}{hst.id}/").status_int == 404
    make.property("ROL", sort="server", name="Role")
    make.property("DEP", sort="server", name="Department")
    assert [r["name"] for r in results(client.get(url))] == ["Department", "Role"]
    assert [r["prefix"] for r in results(client.get(f"{url}?prefix=ROL"))] == ["ROL"]
    assert client.get(url, as_="anonymous").status_int == 401
    assert client.get(url, as_="nobody").status_int == 403
    assert client.get(url, as_="reader").status_int == 200
    assert client.post(url, {"prefix": "XY", "name": "x"}, as_="reader").status_int == 403
    assert client.post(url, {"prefix": "XY", "name": "x"}, as_="configurator").status_int == 201


def test_stamp_statement_count(client, dbsession, statements):
    counter = iter(range(100))

    def add(n):
        for _ in range(n):
            dbsession.add(Property(prefix=f"S{next(counter):02d}", name="s", sort="server"))

    assert_constant_statements(client, dbsession, statements, f"{API}/stamps/", add)


# -- singularities --------------------------------------------------------------------------------


@pytest.fixture
def hst(dbsession):
    return prop(dbsession, "HST")


def test_singularity_crud(client, dbsession, make, hst):
    teacher = make.attribute("ROL", "teacher")
    student = make.attribute("ROL", "student")
    body = {
        "name": "classroom hostname",
        "priority": 5,
        "property_att": hst.id,
        "language": 0,
        "code": "hostname\r\n",
        "included_attributes": [teacher.id],
        "excluded_attributes": [student.id],
    }
    created = client.post(f"{API}/singularities/", body)
    assert created.status_int == 201, created.text
    pk = created.json["id"]
    assert created.json == {
        "id": pk,
        "name": "classroom hostname",
        "enabled": True,
        "priority": 5,
        "property_att": {"id": hst.id, "prefix": "HST", "name": "Hostname", "sort": "client"},
        "language": "bash",
        "code": "hostname\n",
        "included_attributes": [
            {
                "id": teacher.id,
                "property_att": {"id": teacher.property_att.id, "prefix": "ROL", "sort": "server"},
                "value": "teacher",
                "description": None,
                "latitude": None,
                "longitude": None,
            }
        ],
        "excluded_attributes": [
            {
                "id": student.id,
                "property_att": {"id": student.property_att.id, "prefix": "ROL", "sort": "server"},
                "value": "student",
                "description": None,
                "latitude": None,
                "longitude": None,
            }
        ],
    }
    assert client.get(f"{API}/singularities/{pk}/").json == created.json
    patched = client.patch(f"{API}/singularities/{pk}/", {"excluded_attributes": []})
    assert (
        patched.json["excluded_attributes"] == [] and len(patched.json["included_attributes"]) == 1
    )
    put = client.put(
        f"{API}/singularities/{pk}/",
        {"name": "other", "priority": 1, "property_att": hst.id, "enabled": False},
    )
    assert put.status_int == 200, put.text
    assert put.json["name"] == "other" and put.json["enabled"] is False
    assert put.json["code"] == "hostname\n" and len(put.json["included_attributes"]) == 1
    assert client.delete(f"{API}/singularities/{pk}/").status_int == 204
    assert client.get(f"{API}/singularities/{pk}/").status_int == 404
    assert dbsession.scalars(select(Singularity).where(Singularity.id == pk)).first() is None


def test_singularity_validation(client, dbsession, make, hst):
    url = f"{API}/singularities/"
    stamp = make.property("ROL", sort="server")
    make.singularity(hst, name="taken")
    base = {"name": "new", "priority": 1, "property_att": hst.id}
    for field in ("name", "priority", "property_att"):
        body = {k: v for k, v in base.items() if k != field}
        assert error_names(client.post(url, body)) == [field]
    cases = [
        ({"property_att": stamp.id}, "property_att"),
        ({"property_att": 999999}, "property_att"),
        ({"name": "taken"}, "name"),
        ({"name": " "}, "name"),
        ({"priority": "high"}, "priority"),
        ({"priority": 1.5}, "priority"),
        ({"language": 9}, "language"),
        ({"included_attributes": [999999]}, "included_attributes"),
        ({"excluded_attributes": "x"}, "excluded_attributes"),
    ]
    for change, field in cases:
        response = client.post(url, {**base, **change})
        assert response.status_int == 400, (change, response.text)
        assert error_names(response) == [field], change
    # A basic property is a valid target too.
    assert client.post(url, {**base, "property_att": prop(dbsession, "CID").id}).status_int == 201


def test_singularity_filters_search_ordering(client, dbsession, make, hst):
    net = prop(dbsession, "NET")
    teacher = make.attribute("ROL", "teacher")
    low = make.singularity(hst, name="low", priority=1)
    high = make.singularity(hst, name="high", priority=9, included_attributes=[teacher])
    other = make.singularity(
        net, name="net", priority=3, enabled=False, excluded_attributes=[teacher]
    )
    url = f"{API}/singularities/"
    names = lambda r: [row["name"] for row in results(r)]  # noqa: E731
    assert names(client.get(url)) == ["high", "low", "net"]
    assert names(client.get(f"{url}?ordering=priority")) == ["low", "net", "high"]
    assert names(client.get(f"{url}?property_att__prefix=NET")) == ["net"]
    assert names(client.get(f"{url}?property_att__id={hst.id}")) == ["high", "low"]
    assert names(client.get(f"{url}?property_att__name__icontains=work")) == ["net"]
    assert names(client.get(f"{url}?enabled=false")) == ["net"]
    assert names(client.get(f"{url}?included_attributes__id={teacher.id}")) == ["high"]
    assert names(client.get(f"{url}?excluded_attributes__id={teacher.id}")) == ["net"]
    assert names(client.get(f"{url}?id__in={low.id},{other.id}")) == ["low", "net"]
    assert names(client.get(f"{url}?name__icontains=ig")) == ["high"]
    assert names(client.get(f"{url}?search=hostname")) == ["high", "low"]
    assert names(client.get(f"{url}?search=NET")) == ["net"]
    page = client.get(f"{url}?page_size=2").json
    assert page["count"] == 3 and page["next"].endswith("page=2")
    assert high.id in {row["id"] for row in page["results"]}
    assert client.get(f"{url}export/").status_int == 404


def test_singularity_permissions(client, make, hst):
    url = f"{API}/singularities/"
    body = {"name": "s", "priority": 1, "property_att": hst.id}
    assert client.get(url, as_="anonymous").status_int == 401
    assert client.get(url, as_="nobody").status_int == 403
    assert client.get(url, as_="reader").status_int == 200
    assert client.post(url, body, as_="reader").status_int == 403
    created = client.post(url, body, as_="configurator")
    assert created.status_int == 201
    assert client.delete(f"{url}{created.json['id']}/", as_="packager").status_int == 403
    assert client.delete(f"{url}{created.json['id']}/", as_="configurator").status_int == 204


def test_singularity_statement_count(client, dbsession, statements, make, hst):
    teacher = make.attribute("ROL", "teacher")
    student = make.attribute("ROL", "student")

    def add(n):
        for _ in range(n):
            make.singularity(hst, included_attributes=[teacher, student], excluded_attributes=[])

    assert_constant_statements(client, dbsession, statements, f"{API}/singularities/", add)
