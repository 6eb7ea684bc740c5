"""Admin API: ``hardware/`` (list, detail, info) and ``computers/{id}/hardware/``."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from migasfree_addons.hardware.capture import store_hardware
from migasfree_addons.hardware.models import HardwareNode

from .lshw import example, generated

API = "/api/v1/token"


@pytest.fixture
def pc(dbsession, make):
    user = make.client_user(name="jdoe", fullname="John Doe")
    computer = make.computer(ip_address="10.0.0.5", sync_user=user)
    store_hardware(dbsession, computer, example())
    return computer


@pytest.fixture
def other(dbsession, make):
    computer = make.computer(status="reserved")
    store_hardware(dbsession, computer, {"id": "vm", "class": "system", "vendor": "QEMU"})
    return computer


def node_id(dbsession, computer, name: str) -> int:
    query = select(HardwareNode.id).where(
        HardwareNode.computer_id == computer.id, HardwareNode.name == name
    )
    return dbsession.scalar(query)


def names(response) -> list[str]:
    assert response.status_int == 200, response.text
    return [node["name"] for node in response.json["results"]]


def test_list_and_detail(client, dbsession, pc, other):
    listed = client.get(f"{API}/hardware/")
    assert listed.json["count"] == 8
    # Default ordering by id: each tree in level order, the first computer's tree first.
    assert names(listed) == [
        "pc01",
        "core",
        "memory",
        "cpu",
        "network",
        "disk",
        "bank:0",
        "vm",
    ]
    cpu_id = node_id(dbsession, pc, "cpu")
    detail = client.get(f"{API}/hardware/{cpu_id}/")
    assert detail.status_int == 200
    assert detail.json == {
        "id": cpu_id,
        "parent": node_id(dbsession, pc, "core"),
        "computer": {
            "id": pc.id,
            "__str__": f"CID-{pc.id}",
            "status": "assigned",
            "summary": f"assigned, {pc.project.name}, 10.0.0.5, jdoe (John Doe)",
        },
        "level": 3,
        "width": 64,
        "name": "cpu",
        "class_name": "processor",
        "enabled": False,
        "claimed": True,
        "description": None,
        "vendor": "Intel Corp.",
        "product": "Intel(R) Core(TM) i7-6700 CPU @ 3.40GHz",
        "version": None,
        "serial": None,
        "bus_info": "cpu@0",
        "physid": None,
        "slot": None,
        "dev": None,
        "size": None,
        "capacity": 4000000000,
        "clock": 100000000,
    }
    vm = client.get(f"{API}/hardware/{node_id(dbsession, other, 'vm')}/").json
    assert vm["computer"]["summary"] == f"reserved, {other.project.name}, , "
    assert vm["parent"] is None
    assert client.get(f"{API}/hardware/999999999/").status_int == 404
    assert client.get(f"{API}/hardware/abc/").status_int == 404
    assert client.get(f"{API}/hardware/99999999999/").status_int == 404


def test_filters(client, dbsession, pc, other):
    base = f"{API}/hardware/"
    assert names(client.get(f"{base}?computer__id={other.id}")) == ["vm"]
    assert names(client.get(f"{base}?class_name=memory&computer__id={pc.id}")) == [
        "memory",
        "bank:0",
    ]
    core = node_id(dbsession, pc, "core")
    assert names(client.get(f"{base}?parent={core}")) == ["memory", "cpu", "network", "disk"]
    assert names(client.get(f"{base}?level=4")) == ["bank:0"]
    assert names(client.get(f"{base}?claimed=false")) == ["bank:0", "vm"]
    assert names(client.get(f"{base}?size=500107862016")) == ["disk"]
    assert names(client.get(f"{base}?vendor=QEMU")) == ["vm"]
    assert names(client.get(f"{base}?serial=00:11:22:33:44:55")) == ["network"]
    assert names(client.get(f"{base}?bus_info=scsi@0:0.0.0&dev=8:0")) == ["disk"]
    assert names(client.get(f"{base}?slot=DIMM1")) == ["bank:0"]
    assert names(client.get(f"{base}?physid=0&description=Motherboard")) == ["core"]
    assert names(client.get(f"{base}?width=64&name=cpu")) == ["cpu"]
    # Exact only, as the original: a lookup suffix is not a filter and is ignored.
    assert client.get(f"{base}?name__icontains=cp").json["count"] == 8
    assert client.get(f"{base}?level=deep").status_int == 400
    assert client.get(f"{base}?claimed=maybe").status_int == 400
    # Numbers a column cannot hold are refused, never a database error.
    for huge in ("size=99999999999999999999999", "id=2147483648", "computer__id=-2147483649"):
        response = client.get(f"{base}?{huge}")
        assert response.status_int == 400, response.text
    assert names(client.get(f"{base}?capacity=4000000000")) == ["cpu"]


def test_ordering_and_pagination(client, pc, other):
    base = f"{API}/hardware/"
    ordered = names(client.get(f"{base}?ordering=-level,name&computer__id={pc.id}"))
    assert ordered == ["bank:0", "cpu", "disk", "memory", "network", "core", "pc01"]
    assert names(client.get(f"{base}?ordering=computer,-id"))[0] == "bank:0"
    assert client.get(f"{base}?ordering=nope").status_int == 400
    page = client.get(f"{base}?page_size=3&page=2").json
    assert page["count"] == 8 and len(page["results"]) == 3
    assert page["next"] and page["previous"]


def test_info(client, dbsession, pc):
    cpu = client.get(f"{API}/hardware/{node_id(dbsession, pc, 'cpu')}/info/").json
    assert cpu["name"] == "cpu" and cpu["computer"]["id"] == pc.id
    assert [(c["name"], c["description"]) for c in cpu["capability"]] == [
        ("x86-64", "64bits extensions (x86-64)"),
        ("fpu", "True"),
    ]
    assert all(isinstance(c["id"], int) for c in cpu["capability"])
    assert cpu["logical_name"] == [] and cpu["configuration"] == []
    network = client.get(f"{API}/hardware/{node_id(dbsession, pc, 'network')}/info/").json
    assert network["logical_name"] == [{"name": "eno1"}]
    assert network["configuration"] == [
        {"name": "driver", "value": "e1000e"},
        {"name": "ip", "value": "10.0.0.5"},
    ]
    assert client.get(f"{API}/hardware/999999999/info/").status_int == 404
    assert client.get(f"{API}/hardware/99999999999/info/").status_int == 404


def test_read_only(client, dbsession, pc):
    pk = node_id(dbsession, pc, "cpu")
    assert client.post(f"{API}/hardware/", {"name": "x"}).status_int in (404, 405)
    assert client.put(f"{API}/hardware/{pk}/", {"name": "x"}).status_int in (404, 405)
    assert client.patch(f"{API}/hardware/{pk}/", {"name": "x"}).status_int in (404, 405)
    assert client.delete(f"{API}/hardware/{pk}/").status_int in (404, 405)
    assert client.get(f"{API}/hardware/export/").status_int in (404, 405)
    assert node_id(dbsession, pc, "cpu") == pk


def test_computer_hardware(client, dbsession, pc, other):
    response = client.get(f"{API}/computers/{pc.id}/hardware/")
    assert response.status_int == 200
    nodes = response.json
    assert [n["name"] for n in nodes] == [
        "pc01",
        "core",
        "memory",
        "cpu",
        "network",
        "disk",
        "bank:0",
    ]
    assert [n["id"] for n in nodes] == sorted(n["id"] for n in nodes)
    assert nodes[0]["computer"] == pc.id and nodes[0]["parent"] is None
    assert nodes[1]["parent"] == nodes[0]["id"] and nodes[1]["level"] == 2
    assert set(nodes[3]) == {
        "id",
        "parent",
        "computer",
        "level",
        "width",
        "name",
        "class_name",
        "enabled",
        "claimed",
        "description",
        "vendor",
        "product",
        "version",
        "serial",
        "bus_info",
        "physid",
        "slot",
        "size",
        "capacity",
        "clock",
        "dev",
    }
    assert client.get(f"{API}/computers/{other.id}/hardware/").json[0]["name"] == "vm"
    assert client.get(f"{API}/computers/999999999/hardware/").status_int == 404
    assert client.get(f"{API}/computers/abc/hardware/").status_int == 404
    assert client.get(f"{API}/computers/99999999999/hardware/").status_int == 404


def test_computer_without_hardware(client, make):
    computer = make.computer()
    response = client.get(f"{API}/computers/{computer.id}/hardware/")
    assert response.status_int == 200 and response.json == []


@pytest.mark.parametrize(
    "path",
    ["hardware/", "hardware/{node}/", "hardware/{node}/info/", "computers/{pc}/hardware/"],
)
def test_permissions(client, dbsession, pc, path):
    url = f"{API}/" + path.format(node=node_id(dbsession, pc, "cpu"), pc=pc.id)
    assert client.get(url, as_="anonymous").status_int == 401
    assert client.get(url, as_="nobody").status_int == 403
    assert client.get(url, as_="packager").status_int == 200  # Reader grants the view
    assert client.get(url, as_="reader").status_int == 200
    viewer = client.user("node-viewer")
    assert client.get(url, as_=viewer).status_int == 403


def test_list_statements_do_not_grow(client, dbsession, make, statements):
    def fill(count):
        for _ in range(count):
            store_hardware(dbsession, make.computer(), generated(5))

    fill(1)
    client.get(f"{API}/hardware/")  # warm the user and permission caches of this test
    with statements:
        assert client.get(f"{API}/hardware/").json["count"] == 5
    few = statements.count
    fill(6)
    with statements:
        assert client.get(f"{API}/hardware/").json["count"] == 35
    assert statements.count == few, statements.sql

    pc = make.computer()
    store_hardware(dbsession, pc, generated(5))
    with statements:
        client.get(f"{API}/computers/{pc.id}/hardware/")
    small = statements.count
    store_hardware(dbsession, pc, generated(60))
    with statements:
        assert len(client.get(f"{API}/computers/{pc.id}/hardware/").json) == 60
    assert statements.count == small
