"""Computers through the admin API: list, detail, filters, update, delete (clients addon)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from migasfree_addons.clients.models import FaultDefinition, PackageHistory
from migasfree_pyramid.models import Attribute, Computer, Property, StatusLog
from migasfree_pyramid.services.computers import cid_attribute

API = "/api/v1/token"


def results(response) -> list[dict]:
    assert response.status_int == 200, response.text
    return response.json["results"]


def ids(response) -> list[int]:
    return [row["id"] for row in results(response)]


def error_names(response) -> list[str]:
    return [error["name"] for error in response.json["errors"]]


def test_list_shape(client, make):
    user = make.client_user("jdoe", "John Doe")
    computer = make.computer(
        name="PC1", sync_user=user, ip_address="10.0.0.1", machine="V", product="KVM"
    )
    computer.sync_end_date = dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)
    project = computer.project
    row = results(client.get(f"{API}/computers/"))[0]
    assert row == {
        "id": computer.id,
        "uuid": computer.uuid,
        "name": "PC1",
        "project": {
            "id": project.id,
            "name": project.name,
            "slug": project.slug,
            "platform": {"id": project.platform.id, "name": project.platform.name},
        },
        "status": "assigned",
        "product": "KVM",
        "product_system": "virtual",
        "created_at": computer.created_at.isoformat(),
        "last_hardware_capture": None,
        "sync_user": {"id": user.id, "name": "jdoe", "__str__": "jdoe (John Doe)"},
        "sync_end_date": "2024-05-01T10:00:00+00:00",
        "__str__": f"CID-{computer.id}",
        "summary": f"assigned, {project.name}, 10.0.0.1, jdoe (John Doe)",
    }


def test_detail_shape(client, make, dbsession):
    tag = make.attribute("ROL", "teacher")
    computer = make.computer(
        name="PC2", tags=[tag], fqdn="pc2.example", cpu="Xeon", ram=1024, comment="hi"
    )
    package = make.package(project=computer.project)
    dbsession.add(PackageHistory(computer_id=computer.id, package_id=package.id))
    dbsession.flush()
    detail = client.get(f"{API}/computers/{computer.id}/").json
    base = f"http://testserver{API}/computers/{computer.id}/software/"
    assert detail["software_inventory"] == base + "inventory/"
    assert detail["software_history"] == base + "history/"
    assert detail["has_software_inventory"] is True
    assert detail["product_system"] == ""
    assert detail["architecture"] is None
    assert [t["value"] for t in detail["tags"]] == ["teacher"]
    assert detail["tags"][0]["property_att"]["prefix"] == "ROL"
    for key, value in {
        "fqdn": "pc2.example",
        "cpu": "Xeon",
        "ram": 1024,
        "comment": "hi",
        "machine": "P",
        "ip_address": None,
        "forwarded_ip_address": None,
        "storage": None,
        "disks": None,
        "mac_address": None,
    }.items():
        assert detail[key] == value, key
    assert client.get(f"{API}/computers/999999/").status_int == 404
    other = make.computer()
    assert client.get(f"{API}/computers/{other.id}/").json["has_software_inventory"] is False


def test_no_create(client, make):
    project = make.project()
    response = client.post(f"{API}/computers/", {"name": "x", "project": project.id})
    assert response.status_int == 405


def test_filters(client, make, dbsession):
    linux = make.platform("Linux")
    debian = make.project(platform=linux)
    other = make.project()
    lab = make.attribute("LAB", "room-12", sort="client")
    tag = make.attribute("ROL", "teacher")
    user = make.client_user("alice", "Alice Liddell")
    a = make.computer(name="alpha", project=debian, sync_attributes=[lab], mac_address="AABBCC")
    b = make.computer(name="beta", project=other, status="reserved", tags=[tag], sync_user=user)
    c = make.computer(name="gamma", project=other, status="available", machine="V", product="VB")
    package = make.package(project=other)
    dbsession.add(PackageHistory(computer_id=b.id, package_id=package.id))
    dbsession.add(
        PackageHistory(
            computer_id=c.id, package_id=package.id, uninstall_date=dt.datetime.now(dt.UTC)
        )
    )
    b.sync_end_date = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    c.sync_end_date = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    dbsession.flush()
    url = f"{API}/computers/?"
    assert ids(client.get(url + f"platform={linux.id}")) == [a.id]
    assert ids(client.get(url + f"project__id={other.id}")) == [b.id, c.id]
    assert ids(client.get(url + "status_in=reserved,available")) == [b.id, c.id]
    assert ids(client.get(url + "status__in=assigned,reserved")) == [a.id, b.id]
    assert ids(client.get(url + "status=available")) == [c.id]
    assert ids(client.get(url + "sync_attributes=room")) == [a.id]
    assert ids(client.get(url + f"sync_attributes__id={lab.id}")) == [a.id]
    assert ids(client.get(url + f"tags__id__in={tag.id}")) == [b.id]
    assert ids(client.get(url + "mac_address=bbc")) == [a.id]
    assert ids(client.get(url + "has_software_inventory=true")) == [b.id, c.id]
    assert ids(client.get(url + "has_software_inventory=false")) == [a.id]
    assert ids(client.get(url + f"installed_package={package.id}")) == [b.id]
    assert ids(client.get(url + "machine=V")) == [c.id]
    assert ids(client.get(url + "product__icontains=v")) == [c.id]
    assert ids(client.get(url + "name__icontains=ta")) == [b.id]
    assert ids(client.get(url + "name=gamma")) == [c.id]
    assert ids(client.get(url + f"uuid={a.uuid}")) == [a.id]
    assert ids(client.get(url + f"id__in={a.id},{c.id}")) == [a.id, c.id]
    assert ids(client.get(url + f"sync_user__id={user.id}")) == [b.id]
    assert ids(client.get(url + "sync_user__name__icontains=ali")) == [b.id]
    assert ids(client.get(url + "sync_end_date__isnull=true")) == [a.id]
    assert ids(client.get(url + "sync_end_date__gte=2024-03-01")) == [c.id]
    assert ids(client.get(url + "sync_end_date__lt=2024-03-01")) == [b.id]
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    assert ids(client.get(url + f"created_at__lt={tomorrow}")) == [a.id, b.id, c.id]
    assert ids(client.get(url + f"created_at__gte={tomorrow}")) == []
    assert client.get(url + "installed_package=99999999999").status_int == 400
    assert client.get(url + "platform=x").status_int == 400
    assert client.get(url + "has_software_inventory=maybe").status_int == 400
    assert client.get(url + "created_at__gte=yesterday").status_int == 400


def test_search_ordering_pagination_export(client, make):
    user = make.client_user("bob", "Robert Smith")
    a = make.computer(name="zeta")
    b = make.computer(name="alpha", sync_user=user)
    c = make.computer(name="mid")
    assert ids(client.get(f"{API}/computers/")) == [a.id, b.id, c.id]
    assert ids(client.get(f"{API}/computers/?search=alp")) == [b.id]
    assert ids(client.get(f"{API}/computers/?search=smith")) == [b.id]
    assert ids(client.get(f"{API}/computers/?search={c.id}")) == [c.id]
    assert ids(client.get(f"{API}/computers/?ordering=name")) == [b.id, c.id, a.id]
    assert ids(client.get(f"{API}/computers/?ordering=-id")) == [c.id, b.id, a.id]
    assert client.get(f"{API}/computers/?ordering=project__name").status_int == 200
    assert client.get(f"{API}/computers/?ordering=nope").status_int == 400
    page = client.get(f"{API}/computers/?page_size=2&page=2").json
    assert page["count"] == 3 and [r["id"] for r in page["results"]] == [c.id]
    assert page["next"] is None and page["previous"] is not None
    assert client.post(f"{API}/computers/filter/", {"id__in": [a.id, c.id]}).json["count"] == 2
    exported = client.get(f"{API}/computers/export/?ordering=name")
    assert exported.content_type == "text/csv"
    lines = exported.text.splitlines()
    assert lines[0].startswith("id,uuid,name,project,status")
    assert lines[1].startswith(f"{b.id},{b.uuid},alpha,")


def test_patch_and_put(client, make, dbsession):
    computer = make.computer(name="old")
    project = make.project()
    response = client.patch(
        f"{API}/computers/{computer.id}/",
        {"name": "new", "comment": "in lab", "last_hardware_capture": "2024-02-03T04:05:06Z"},
    )
    assert response.status_int == 200, response.text
    assert response.json["name"] == "new" and response.json["comment"] == "in lab"
    assert response.json["last_hardware_capture"] == "2024-02-03T04:05:06+00:00"
    cleared = client.patch(
        f"{API}/computers/{computer.id}/", {"comment": None, "last_hardware_capture": None}
    )
    assert cleared.json["comment"] is None and cleared.json["last_hardware_capture"] is None
    missing = client.put(f"{API}/computers/{computer.id}/", {"name": "x"})
    assert missing.status_int == 400 and error_names(missing) == ["project"]
    moved = client.put(f"{API}/computers/{computer.id}/", {"project": project.id})
    assert moved.status_int == 200
    assert moved.json["project"]["id"] == project.id and moved.json["name"] == "new"
    bad = client.patch(f"{API}/computers/{computer.id}/", {"project": 999999})
    assert bad.status_int == 400 and error_names(bad) == ["project"]
    long_name = client.patch(f"{API}/computers/{computer.id}/", {"name": "x" * 51})
    assert long_name.status_int == 400 and error_names(long_name) == ["name"]
    bad_date = client.patch(f"{API}/computers/{computer.id}/", {"last_hardware_capture": "x"})
    assert bad_date.status_int == 400
    assert client.patch(f"{API}/computers/999999/", {"name": "x"}).status_int == 404


def test_tags(client, make):
    teacher = make.attribute("ROL", "teacher")
    student = make.attribute("ROL", "student")
    feature = make.attribute("LAB", "room", sort="client")
    computer = make.computer()
    url = f"{API}/computers/{computer.id}/"
    tagged = client.patch(url, {"tags": [teacher.id, str(student.id)]})
    assert tagged.status_int == 200, tagged.text
    assert sorted(t["value"] for t in tagged.json["tags"]) == ["student", "teacher"]
    assert client.patch(url, {"tags": [""]}).json["tags"] == []
    client.patch(url, {"tags": [teacher.id]})
    assert client.patch(url, {"tags": []}).json["tags"] == []
    not_tag = client.patch(url, {"tags": [feature.id]})
    assert not_tag.status_int == 400 and error_names(not_tag) == ["tags"]
    unknown = client.patch(url, {"tags": [999999]})
    assert unknown.status_int == 400 and "Invalid pk" in unknown.json["errors"][0]["description"]
    assert client.patch(url, {"tags": ["abc"]}).status_int == 400
    assert client.patch(url, {"tags": "abc"}).status_int == 400


def test_status_change_logs_clears_and_notifies(client, make, dbsession):
    tag = make.attribute("ROL", "teacher")
    computer = make.computer(tags=[tag])
    cid = cid_attribute(dbsession, computer)
    definition = FaultDefinition(name="disk", code="df", included_attributes=[cid])
    deployment = make.deployment(project=computer.project, included=[cid])
    dbsession.add(definition)
    dbsession.flush()
    url = f"{API}/computers/{computer.id}/"
    response = client.patch(url, {"status": "reserved"})
    assert response.status_int == 200 and response.json["status"] == "reserved"
    logs = dbsession.scalars(select(StatusLog.status).where(StatusLog.computer_id == computer.id))
    assert list(logs) == ["reserved"]
    assert client.patch(url, {"status": "broken"}).status_int == 400
    retired = client.patch(url, {"status": "available", "tags": [tag.id]})
    assert retired.json["status"] == "available" and retired.json["tags"] == []
    dbsession.expire_all()
    # The CID leaves the core's tables (set_status) and the fault definitions (our listener).
    assert deployment.included_attributes == []
    assert definition.included_attributes == []
    # Tags sent to an available computer do not stay either.
    assert client.patch(url, {"tags": [tag.id]}).json["tags"] == []


def test_delete(client, make, dbsession):
    computer = make.computer()
    cid = cid_attribute(dbsession, computer)
    dbsession.add(StatusLog(computer_id=computer.id, status="assigned"))
    dbsession.flush()
    assert client.delete(f"{API}/computers/{computer.id}/", as_="reader").status_int == 403
    assert client.delete(f"{API}/computers/{computer.id}/").status_int == 204
    dbsession.expire_all()
    assert dbsession.get(Computer, computer.id) is None
    assert dbsession.get(Attribute, cid.id) is None
    count = select(func.count()).select_from(StatusLog).where(StatusLog.computer_id == computer.id)
    assert dbsession.scalar(count) == 0
    assert client.delete(f"{API}/computers/{computer.id}/").status_int == 404


def test_permissions(client, make):
    computer = make.computer()
    url = f"{API}/computers/{computer.id}/"
    assert client.get(f"{API}/computers/", as_="anonymous").status_int == 401
    assert client.get(f"{API}/computers/", as_="nobody").status_int == 403
    assert client.get(f"{API}/computers/", as_="reader").status_int == 200
    # A domain admin administering no domain sees no computer at all (issue 5): 404, not 403.
    assert client.get(url, as_="domain-admin").status_int == 404
    assert client.patch(url, {"name": "x"}, as_="reader").status_int == 403
    assert client.patch(url, {"name": "x"}, as_="domain-admin").status_int == 404
    assert client.patch(url, {"name": "x"}, as_="admin").status_int == 200


def test_list_statement_count_does_not_grow(client, make, dbsession, statements):
    headers = client.headers(client.role("reader"))

    def add(count):
        for _ in range(count):
            make.computer(sync_user=make.client_user(), tags=[make.attribute("ROL")])

    add(2)
    with statements:
        assert client.app.get(f"{API}/computers/", headers=headers).status_int == 200
    few = statements.count
    add(20)
    with statements:
        response = client.app.get(f"{API}/computers/", headers=headers)
    assert response.json["count"] == 22
    assert statements.count == few


def test_tags_must_be_server_properties_even_if_prefix_reused(client, make, dbsession):
    """A property's sort decides, not its prefix: a server property turned client is refused."""
    tag = make.attribute("ZZT", "x")
    prop = dbsession.get(Property, tag.property_att_id)
    prop.sort = "client"
    dbsession.flush()
    computer = make.computer()
    response = client.patch(f"{API}/computers/{computer.id}/", {"tags": [tag.id]})
    assert response.status_int == 400
