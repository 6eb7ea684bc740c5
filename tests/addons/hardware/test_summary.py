"""The summary rules (product, machine, cpu, ram, disks, mac) and the on-demand values
(architecture, product system) over stored trees."""

from __future__ import annotations

import pytest

from migasfree_addons.hardware.capture import store_hardware
from migasfree_addons.hardware.summary import computer_architecture, product_system

from .lshw import example


def captured(dbsession, make, tree, **computer):
    pc = make.computer(**computer)
    store_hardware(dbsession, pc, tree)
    dbsession.refresh(pc)
    return pc


def system(children=(), **fields) -> dict:
    return {"id": "host", "class": "system", **fields, "children": list(children)}


def ethernet(serial: str, name: str = "network") -> dict:
    return {
        "id": name,
        "class": "network",
        "description": "Ethernet interface",
        "serial": serial,
    }


@pytest.mark.parametrize(
    ("vendor", "product"),
    [("QEMU", "qemu"), ("innotek GmbH", "virtualbox"), ("VMware, Inc.", "vmware")],
)
def test_virtual_machine_vendor(dbsession, make, vendor, product):
    pc = captured(dbsession, make, system(vendor=vendor, product="Standard PC"))
    assert (pc.product, pc.machine) == (product, "V")
    assert product_system(dbsession, [pc.id]) == {pc.id: "virtual"}


def test_product_without_vendor(dbsession, make):
    pc = captured(dbsession, make, system(description="Computer"))
    assert (pc.product, pc.machine) == ("Computer", "P")
    long = captured(dbsession, make, system(vendor="ACME", product="x" * 200))
    assert long.product == "x" * 80


def test_docker_by_mac_and_by_uuid(dbsession, make):
    by_mac = captured(dbsession, make, system([ethernet("02:42:ac:11:00:02")]))
    assert (by_mac.product, by_mac.machine) == ("docker", "V")
    by_uuid = captured(dbsession, make, system(), uuid="00000000-0000-0000-0000-0242AC110002")
    assert (by_uuid.product, by_uuid.machine) == ("docker", "V")
    # Two candidate interfaces: not decided by MAC, and the uuid rule needs none.
    two = captured(
        dbsession,
        make,
        system([ethernet("02:42:ac:11:00:02"), ethernet("02:42:ac:11:00:03")]),
        uuid="00000000-0000-0000-0000-0242AC110009",
    )
    assert two.machine == "P"
    kinds = product_system(dbsession, [by_mac.id, by_uuid.id, two.id])
    assert kinds == {by_mac.id: "docker", by_uuid.id: "docker", two.id: ""}


def test_laptop_desktop_and_unknown(dbsession, make):
    laptop = captured(dbsession, make, system(configuration={"chassis": "notebook"}))
    convertible = captured(dbsession, make, system(configuration={"chassis": "convertible"}))
    desktop = captured(dbsession, make, example())
    unknown = captured(dbsession, make, system())
    nothing = make.computer()
    assert product_system(
        dbsession, [laptop.id, convertible.id, desktop.id, unknown.id, nothing.id]
    ) == {
        laptop.id: "laptop",
        convertible.id: "laptop",
        desktop.id: "desktop",
        unknown.id: "",
        nothing.id: "",
    }
    assert product_system(dbsession, []) == {}


def test_cpu_rules(dbsession, make):
    def cpu(name, product="AMD Ryzen 7 PRO 4750U"):
        return {"id": name, "class": "processor", "product": product}

    assert captured(dbsession, make, system([cpu("cpu:0"), cpu("cpu:1")])).cpu == (
        "AMD Ryzen 7 PRO 4750U"
    )
    assert captured(dbsession, make, system([cpu("cpu"), cpu("cpu:0")])).cpu == "error"
    assert captured(dbsession, make, system()).cpu == ""


def test_ram_from_banks_when_there_is_no_single_memory_node(dbsession, make):
    banks = [
        {"id": "bank:0", "class": "memory", "size": 4294967296},
        {"id": "bank:1", "class": "memory", "size": 4294967296},
        {"id": "bank:2", "class": "memory"},
        {"id": "cache:0", "class": "memory", "size": 65536},
    ]
    tree = system([{"id": "memory:0", "class": "memory", "children": banks}])
    assert captured(dbsession, make, tree).ram == 8589934592
    assert captured(dbsession, make, system()).ram is None


def test_disks_and_storage(dbsession, make):
    disks = [
        {"id": "disk:0", "class": "disk", "size": 1000},
        {"id": "disk:1", "class": "disk", "size": 24},
        {"id": "cdrom", "class": "disk"},
        {"id": "empty", "class": "disk", "size": 0},
    ]
    pc = captured(dbsession, make, system(disks))
    assert (pc.disks, pc.storage) == (2, 1024)


def test_mac_addresses(dbsession, make):
    nics = [
        ethernet("00:11:22:33:44:55", "network:0"),
        ethernet("aa:bb:cc:dd:ee:ff", "network:1"),
        ethernet("not-a-mac", "network:2"),
        {"id": "wifi", "class": "network", "serial": "12:34:56:78:9a:bc"},
        ethernet("00:00:00:00:00:01", "network:3"),
        ethernet("00:00:00:00:00:02", "network:4"),
        ethernet("00:00:00:00:00:03", "network:5"),
        ethernet("00:00:00:00:00:04", "network:6"),
    ]
    pc = captured(dbsession, make, system(nics))
    expected = "001122334455AABBCCDDEEFF000000000001000000000002000000000003000000000004"
    assert pc.mac_address == expected[:60]


def test_architecture(dbsession, make):
    processor = captured(
        dbsession,
        make,
        system(
            [
                {"id": "cpu:0", "class": "processor", "width": 0},
                {"id": "cpu:1", "class": "processor", "width": 64},
            ],
            width=32,
        ),
    )
    from_system = captured(dbsession, make, system(width=32))
    unknown = captured(dbsession, make, {"id": "box", "class": "bus"})
    nothing = make.computer()
    ids = [processor.id, from_system.id, unknown.id, nothing.id]
    assert computer_architecture(dbsession, ids) == {
        processor.id: 64,
        from_system.id: 32,
        unknown.id: None,
        nothing.id: None,
    }
    assert computer_architecture(dbsession, []) == {}


def test_on_demand_values_cost_fixed_statements(dbsession, make, statements):
    ids = [captured(dbsession, make, example()).id for _ in range(5)]
    with statements:
        product_system(dbsession, ids[:1])
    one = statements.count
    with statements:
        product_system(dbsession, ids)
    assert statements.count == one == 2
    with statements:
        computer_architecture(dbsession, ids)
    assert statements.count == 1
