"""Fault definitions through the admin API."""

from __future__ import annotations

from migasfree_addons.clients.models import FaultDefinition

API = "/api/v1/token"


def ids(response) -> list[int]:
    assert response.status_int == 200, response.text
    return [row["id"] for row in response.json["results"]]


def error_names(response) -> list[str]:
    return [error["name"] for error in response.json["errors"]]


def test_crud(client, make):
    lab = make.attribute("LAB", "room-1", sort="client")
    tag = make.attribute("ROL", "teacher")
    owner = make.user(username="zoe")
    body = {
        "name": "disk",
        "description": "Disk almost full",
        "language": 1,
        "code": "import os\r\nprint(1)\r\n",
        "included_attributes": [lab.id],
        "excluded_attributes": [tag.id],
        "users": [owner.id],
    }
    created = client.post(f"{API}/fault-definitions/", body, as_="configurator")
    assert created.status_int == 201, created.text
    pk = created.json["id"]
    assert created.json["enabled"] is True
    assert created.json["code"] == "import os\nprint(1)\n"
    assert created.json["language"] == 1
    assert [a["value"] for a in created.json["included_attributes"]] == ["room-1"]
    assert created.json["excluded_attributes"][0]["property_att"] == {
        "id": tag.property_att_id,
        "prefix": "ROL",
        "sort": "server",
    }
    assert created.json["users"] == [{"id": owner.id, "username": "zoe"}]
    url = f"{API}/fault-definitions/{pk}/"
    assert client.get(url, as_="reader").json == created.json
    patched = client.patch(url, {"enabled": False, "users": []}, as_="configurator")
    assert patched.json["enabled"] is False and patched.json["users"] == []
    assert patched.json["included_attributes"] == created.json["included_attributes"]
    put = client.put(url, {"name": "disk2"}, as_="configurator")
    assert put.status_int == 200
    # PUT keeps the fields it does not send, as DRF does for non-required fields.
    assert put.json["name"] == "disk2" and put.json["language"] == 1
    assert client.delete(url, as_="configurator").status_int == 204
    assert client.get(url).status_int == 404


def test_validation(client, make, dbsession):
    dbsession.add(FaultDefinition(name="taken", code=""))
    dbsession.flush()
    url = f"{API}/fault-definitions/"
    assert error_names(client.post(url, {})) == ["name"]
    assert error_names(client.post(url, {"name": ""})) == ["name"]
    assert error_names(client.post(url, {"name": "x" * 51})) == ["name"]
    duplicate = client.post(url, {"name": "taken"})
    assert duplicate.status_int == 400 and error_names(duplicate) == ["name"]
    assert "already exists" in duplicate.json["errors"][0]["description"]
    assert error_names(client.post(url, {"name": "a", "language": 7})) == ["language"]
    assert error_names(client.post(url, {"name": "a", "language": "python"})) == ["language"]
    assert error_names(client.post(url, {"name": "a", "enabled": "often"})) == ["enabled"]
    bad_attribute = client.post(url, {"name": "a", "included_attributes": [999999]})
    assert error_names(bad_attribute) == ["included_attributes"]
    assert "Invalid pk" in bad_attribute.json["errors"][0]["description"]
    assert error_names(client.post(url, {"name": "a", "users": [999999]})) == ["users"]
    assert error_names(client.post(url, {"name": "a", "users": "1"})) == ["users"]
    minimal = client.post(url, {"name": "a", "code": None})
    assert minimal.status_int == 201 and minimal.json["code"] == ""
    assert minimal.json["language"] == 0 and minimal.json["description"] is None
    rename = client.patch(f"{url}{minimal.json['id']}/", {"name": "taken"})
    assert rename.status_int == 400


def test_filters_search_ordering(client, make, dbsession):
    lab = make.attribute("LAB", "room-1", sort="client")
    other = make.attribute("LAB", "room-2", sort="client")
    owner = make.user()
    rows = {
        name: FaultDefinition(name=name, code="", **kw)
        for name, kw in {
            "zram": {"included_attributes": [lab], "users": [owner]},
            "apt": {"excluded_attributes": [other], "language": 1},
            "mem": {"enabled": False, "language": 6},
        }.items()
    }
    dbsession.add_all(rows.values())
    dbsession.flush()
    zram, apt, mem = (rows[name].id for name in ("zram", "apt", "mem"))
    url = f"{API}/fault-definitions/?"
    assert ids(client.get(url)) == [apt, mem, zram]
    assert ids(client.get(url + "ordering=-name")) == [zram, mem, apt]
    assert ids(client.get(url + "enabled=false")) == [mem]
    assert ids(client.get(url + "language=1")) == [apt]
    assert ids(client.get(url + "language__in=1,6")) == [apt, mem]
    assert ids(client.get(url + f"included_attributes__id={lab.id}")) == [zram]
    assert ids(client.get(url + f"excluded_attributes__id__in={other.id}")) == [apt]
    assert ids(client.get(url + f"users__id={owner.id}")) == [zram]
    assert ids(client.get(url + "name__icontains=R")) == [zram]
    assert ids(client.get(url + "name=apt")) == [apt]
    assert ids(client.get(url + "search=me")) == [mem]
    assert ids(client.get(url + f"id__in={apt},{zram}")) == [apt, zram]
    assert client.get(url + "language=x").status_int == 400
    page = client.get(url + "page_size=2").json
    assert page["count"] == 3 and page["next"].endswith("page=2")
    exported = client.get(f"{API}/fault-definitions/export/")
    assert exported.text.splitlines()[0].startswith("id,name,description,enabled,language")


def test_permissions(client, dbsession):
    definition = FaultDefinition(name="x", code="")
    dbsession.add(definition)
    dbsession.flush()
    url = f"{API}/fault-definitions/"
    assert client.get(url, as_="anonymous").status_int == 401
    assert client.get(url, as_="nobody").status_int == 403
    assert client.get(url, as_="reader").status_int == 200
    assert client.post(url, {"name": "y"}, as_="checker").status_int == 403
    assert client.patch(f"{url}{definition.id}/", {"code": "z"}, as_="reader").status_int == 403
    assert client.delete(f"{url}{definition.id}/", as_="liberator").status_int == 403


def test_list_statement_count_does_not_grow(client, make, dbsession, statements):
    headers = client.headers(client.role("reader"))

    def add(count):
        for _ in range(count):
            n = make.n()
            dbsession.add(
                FaultDefinition(
                    name=f"def-{n}",
                    code="",
                    included_attributes=[make.attribute("LAB", sort="client")],
                    excluded_attributes=[make.attribute("ROL")],
                    users=[make.user()],
                )
            )
        dbsession.flush()

    add(2)
    with statements:
        assert client.app.get(f"{API}/fault-definitions/", headers=headers).status_int == 200
    few = statements.count
    add(15)
    with statements:
        response = client.app.get(f"{API}/fault-definitions/", headers=headers)
    assert response.json["count"] == 17
    assert statements.count == few


def test_attributes_filter_by_fault_definition(client, dbsession, make):
    """The addon adds the original's faultdefinition_* filters to the core's attribute lists."""
    from migasfree_addons.clients.models import FaultDefinition

    used = make.attribute("ROL", "with-fault", sort="server")
    make.attribute("ROL", "without-fault", sort="server")
    definition = FaultDefinition(name="disk", code="df", included_attributes=[used])
    dbsession.add(definition)
    dbsession.flush()
    for path in ("attributes", "tags"):
        res = client.get(f"/api/v1/token/{path}/?faultdefinition_included__id={definition.id}")
        assert [row["id"] for row in res.json["results"]] == [used.id]


def test_huge_ids_are_404_or_400_not_500(client):
    assert client.get("/api/v1/token/computers/99999999999/").status_int == 404
    assert client.get("/api/v1/token/computers/?id=99999999999").status_int == 400
