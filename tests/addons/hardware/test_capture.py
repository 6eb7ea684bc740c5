"""Storing lshw captures: the rows, the summary, the statement budget, malformed input."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from migasfree_addons.hardware.capture import (
    MALFORMED,
    HardwareError,
    Limits,
    as_int64,
    capture_required,
    flatten,
    store_hardware,
)
from migasfree_addons.hardware.models import (
    HardwareCapability,
    HardwareConfiguration,
    HardwareLogicalName,
    HardwareNode,
)
from migasfree_pyramid.db import make_engine
from migasfree_pyramid.models import Base, Computer, Platform, Project

from ...support import StatementCounter
from .lshw import chain, example, generated


def nodes_of(session, computer) -> dict[str, HardwareNode]:
    rows = session.scalars(select(HardwareNode).where(HardwareNode.computer_id == computer.id))
    return {node.name: node for node in rows}


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_example_tree_becomes_rows(dbsession, make):
    computer = make.computer()
    assert store_hardware(dbsession, computer, example()) is True
    nodes = nodes_of(dbsession, computer)
    assert set(nodes) == {"pc01", "core", "memory", "bank:0", "cpu", "network", "disk"}

    root = nodes["pc01"]
    assert (root.level, root.parent_id, root.class_name) == (1, None, "system")
    assert (root.claimed, root.enabled, root.width) == (True, False, 64)
    assert (root.vendor, root.product, root.serial) == ("Dell Inc.", "OptiPlex 7040", "ABC123")
    assert nodes["core"].parent_id == root.id and nodes["core"].level == 2
    assert nodes["core"].physid == "0"
    assert nodes["bank:0"].parent_id == nodes["memory"].id and nodes["bank:0"].level == 4
    assert (nodes["bank:0"].size, nodes["bank:0"].slot) == (8589934592, "DIMM1")
    cpu = nodes["cpu"]
    assert (cpu.bus_info, cpu.capacity, cpu.clock, cpu.width) == (
        "cpu@0",
        4000000000,
        100000000,
        64,
    )
    assert (nodes["disk"].dev, nodes["disk"].size) == ("8:0", 500107862016)
    # Parents get smaller ids than their children (level order, as the original inserted).
    assert all(node.parent_id is None or node.parent_id < node.id for node in nodes.values())

    capabilities = dict(
        dbsession.execute(
            select(HardwareCapability.name, HardwareCapability.description).where(
                HardwareCapability.node_id == cpu.id
            )
        ).all()
    )
    # JSON true is stored as the text the original stored.
    assert capabilities == {"x86-64": "64bits extensions (x86-64)", "fpu": "True"}
    configuration = dict(
        dbsession.execute(
            select(HardwareConfiguration.name, HardwareConfiguration.value).where(
                HardwareConfiguration.node_id == nodes["network"].id
            )
        ).all()
    )
    assert configuration == {"driver": "e1000e", "ip": "10.0.0.5"}
    names = dbsession.execute(
        select(HardwareLogicalName.node_id, HardwareLogicalName.name).order_by(
            HardwareLogicalName.id
        )
    ).all()
    assert [tuple(row) for row in names] == [
        (nodes["network"].id, "eno1"),
        (nodes["disk"].id, "/dev/sda"),
    ]


def test_example_summary(dbsession, make):
    computer = make.computer()
    before = dt.datetime.now(dt.UTC)
    store_hardware(dbsession, computer, example())
    dbsession.refresh(computer)
    assert computer.product == "OptiPlex 7040"
    assert computer.machine == "P"
    assert computer.cpu == "Intel Core i7-6700   3.40GHz"
    assert computer.ram == 17179869184
    assert (computer.disks, computer.storage) == (1, 500107862016)
    assert computer.mac_address == "001122334455"
    assert computer.last_hardware_capture >= before


def test_a_list_means_its_first_element(dbsession, make):
    computer = make.computer()
    store_hardware(dbsession, computer, [example(), {"id": "ignored", "class": "system"}])
    assert "ignored" not in nodes_of(dbsession, computer)
    assert len(nodes_of(dbsession, computer)) == 7


def test_a_new_capture_replaces_the_old_one(dbsession, make):
    computer, other = make.computer(), make.computer()
    store_hardware(dbsession, computer, example())
    store_hardware(dbsession, other, example())
    store_hardware(dbsession, computer, {"id": "vm", "class": "system", "vendor": "QEMU"})
    assert list(nodes_of(dbsession, computer)) == ["vm"]
    assert len(nodes_of(dbsession, other)) == 7
    # The child rows of the replaced tree went with it (ON DELETE CASCADE).
    owners = select(HardwareNode.id)
    orphan = select(func.count()).where(HardwareCapability.node_id.not_in(owners))
    assert dbsession.scalar(orphan) == 0
    assert count(dbsession, HardwareCapability) == 4  # the other computer's only
    dbsession.refresh(computer)
    assert (computer.product, computer.machine, computer.cpu) == ("qemu", "V", "")
    assert (computer.disks, computer.storage, computer.mac_address) == (0, 0, "")


def test_deleting_a_computer_deletes_its_tree(dbsession, make):
    computer = make.computer()
    store_hardware(dbsession, computer, example())
    dbsession.delete(computer)
    dbsession.flush()
    assert count(dbsession, HardwareNode) == 0
    assert count(dbsession, HardwareConfiguration) == 0


def test_an_older_capture_does_not_overwrite_a_newer_one(dbsession, make):
    computer = make.computer()
    store_hardware(dbsession, computer, example())
    late = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    assert store_hardware(dbsession, computer, {"id": "old"}, captured_at=late) is False
    assert "old" not in nodes_of(dbsession, computer)


def test_values_are_normalized(dbsession, make):
    computer = make.computer()
    tree = {
        "id": 7,
        "class": "system",
        "enabled": "yes",
        "claimed": 1,
        "size": "not a number",
        "capacity": 2**70,
        "clock": "250",
        "width": 64.0,
        "vendor": "Bad\x00Vendor",
        "version": "caf\u00e9 \ud800",
        "product": {"nested": "object"},
        "handle": "DMI:0001",
        "units": "bytes",
        "capabilities": ["not", "an", "object"],
        "configuration": {"chassis": None, "n\x00ul": 1.5},
        "logicalname": ["/dev/a", 3, {"x": 1}],
        "children": [{"id": "huge", "size": 2**64}, {"id": "nosize"}],
    }
    store_hardware(dbsession, computer, tree)
    nodes = nodes_of(dbsession, computer)
    root = nodes["7"]
    assert (root.enabled, root.claimed) == (False, False)
    assert (root.size, root.capacity, root.clock, root.width) == (0, None, 250, 64)
    assert (root.vendor, root.product) == ("BadVendor", None)
    assert root.version == "caf\u00e9 ?"
    assert (nodes["huge"].size, nodes["nosize"].size) == (0, None)
    assert count(dbsession, HardwareCapability) == 0
    query = select(HardwareConfiguration.name, HardwareConfiguration.value)
    values = dict(dbsession.execute(query).all())
    assert values == {"chassis": None, "nul": "1.5"}
    assert list(dbsession.scalars(select(HardwareLogicalName.name))) == ["/dev/a", "3"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, 5), ("12", 12), (2**63 - 1, 2**63 - 1), (2**63, None), (True, None), (float("inf"), None)],
)
def test_as_int64(value, expected):
    assert as_int64(value) == expected


# -- statement budget -----------------------------------------------------------------------------


def test_statement_count_does_not_grow_with_the_tree(dbsession, make, statements):
    small, large = make.computer(), make.computer()
    store_hardware(dbsession, small, generated(10))  # warm up lazy loads of the session
    with statements:
        store_hardware(dbsession, small, generated(50))
    few = statements.count
    with statements:
        store_hardware(dbsession, large, generated(500))
    assert statements.count == few, statements.sql
    assert count(dbsession, HardwareNode) == 550
    assert count(dbsession, HardwareLogicalName) == 550
    # lock, delete, ids, 4 inserts, summary read, computer update.
    assert few <= 9, statements.sql


def test_statement_count_grows_only_by_batch(dbsession, make, statements):
    computer = make.computer()
    with statements:
        store_hardware(dbsession, computer, generated(2500), Limits(max_nodes=5000))
    # Each table's rows go in pages of 1000: 3 pages for each of the 4 tables.
    assert statements.count <= 9 + 4 * 2, statements.sql
    assert count(dbsession, HardwareNode) == 2500


# -- malformed input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hardware",
    ["lshw output", 42, None, True, [], ["text"], {"children": "x"}, {"children": [1, 2]}],
)
def test_malformed_trees_are_refused(hardware):
    with pytest.raises(HardwareError) as raised:
        flatten(hardware, Limits())
    assert raised.value.message == MALFORMED


def test_depth_is_bounded():
    assert len(flatten(chain(64), Limits(max_depth=64))) == 64
    with pytest.raises(HardwareError, match="too deep"):
        flatten(chain(65), Limits(max_depth=64))
    # Far deeper than Python's recursion limit: refused, never a RecursionError.
    with pytest.raises(HardwareError, match="too deep"):
        flatten(chain(50000), Limits())


def test_node_count_is_bounded():
    assert len(flatten(generated(100), Limits(max_nodes=100))) == 100
    with pytest.raises(HardwareError, match="too large"):
        flatten(generated(101), Limits(max_nodes=100))
    wide = {"id": "root", "children": [{"id": str(n)} for n in range(200000)]}
    with pytest.raises(HardwareError, match="too large"):
        flatten(wide, Limits())


def test_details_per_node_are_bounded():
    node = {"id": "cpu", "capabilities": {f"flag{n}": True for n in range(1001)}}
    with pytest.raises(HardwareError, match="more than 1000"):
        flatten(node, Limits())


# -- capture period -------------------------------------------------------------------------------


def test_capture_required_by_date(make):
    now = dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC)
    computer = make.computer()
    assert capture_required(computer, 30, now) is True
    computer.last_hardware_capture = now - dt.timedelta(days=29, hours=23)
    assert capture_required(computer, 30, now) is False
    computer.last_hardware_capture = now - dt.timedelta(days=30, seconds=1)
    assert capture_required(computer, 30, now) is True


# -- the portable path (SQLite) -------------------------------------------------------------------


@pytest.fixture
def sqlite_session():
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)
    counter = StatementCounter()
    event.listen(engine, "before_cursor_execute", counter)
    with Session(engine) as session:
        platform = Platform(name="Linux")
        project = Project(name="p", slug="p", pms="apt", architecture="amd64", platform=platform)
        session.add(project)
        session.flush()
        yield session, counter
    engine.dispose()


def test_sqlite_capture(sqlite_session):
    session, counter = sqlite_session
    project = session.scalars(select(Project)).one()
    first, second = Computer(project=project), Computer(project=project)
    session.add_all([first, second])
    session.flush()
    store_hardware(session, first, example())
    with counter:
        store_hardware(session, second, generated(50))
    few = counter.count
    with counter:
        store_hardware(session, second, generated(500))
    assert counter.count == few
    store_hardware(session, first, example())  # replaced, ids not reused by another tree
    session.refresh(first)
    assert (first.cpu, first.ram, first.mac_address) == (
        "Intel Core i7-6700   3.40GHz",
        17179869184,
        "001122334455",
    )
    assert len(nodes_of(session, first)) == 7 and len(nodes_of(session, second)) == 500
    assert count(session, HardwareLogicalName) == 2 + 500
