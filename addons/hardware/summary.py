"""What a computer's lshw tree says about it: the summary fields kept on ``client_computer``
(product, machine, cpu, ram, disks, storage, mac_address) and the values computed on demand
(architecture, product system). Spec repositories.md section 5 and domain-model A.4.

Reads are set-based: one statement fetches the few nodes the rules look at, for any number of
computers; the rules themselves are plain functions over those rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import and_, or_, select

from migasfree_pyramid.models import Computer
from migasfree_pyramid.models.computers import MAC_MAX_LEN

from .models import HardwareConfiguration, HardwareNode

VIRTUAL_MACHINES = {
    "innotek GmbH": "virtualbox",
    "Red Hat": "openstack",
    "Supermicro": "kvm host",
    "Xen": "xen",
    "Bochs": "kvm",
    "VMware, Inc.": "vmware",
    "QEMU": "qemu",
}
PORTABLE_CHASSIS = frozenset(
    {"portable", "laptop", "notebook", "sub-notebook", "convertible", "detachable"}
)
DOCKER_MAC_PREFIX = "02:42:AC"
DOCKER_UUID_PREFIX = "00000000-0000-0000-0000-0242AC"
CPU_NOISE = ("(R)", "(TM)", "@", "CPU")
PRODUCT_MAX_LEN = 80  # client_computer.product
CPU_MAX_LEN = 50  # client_computer.cpu
SMALLINT_MAX = 32767  # client_computer.disks
SUMMARY_CLASSES = ("processor", "memory", "disk", "network", "system")

_COLUMNS = (
    HardwareNode.computer_id,
    HardwareNode.id,
    HardwareNode.parent_id,
    HardwareNode.level,
    HardwareNode.name,
    HardwareNode.class_name,
    HardwareNode.description,
    HardwareNode.vendor,
    HardwareNode.product,
    HardwareNode.serial,
    HardwareNode.size,
    HardwareNode.width,
)


def summary_nodes(session, computer_ids: Iterable[int]) -> dict[int, list]:
    """``{computer id: rows}`` of the nodes every rule needs (roots and the classes above),
    in id order, with each system node's ``chassis`` configuration, in one statement."""
    ids = list(dict.fromkeys(computer_ids))
    if not ids:
        return {}
    chassis = HardwareConfiguration
    query = (
        select(*_COLUMNS, chassis.value.label("chassis"))
        .outerjoin(
            chassis,
            and_(
                chassis.node_id == HardwareNode.id,
                chassis.name == "chassis",
                HardwareNode.class_name == "system",
            ),
        )
        .where(
            HardwareNode.computer_id.in_(ids),
            or_(HardwareNode.parent_id.is_(None), HardwareNode.class_name.in_(SUMMARY_CLASSES)),
        )
        .order_by(HardwareNode.id)
    )
    found: dict[int, list] = defaultdict(list)
    for row in session.execute(query):
        found[row.computer_id].append(row)
    return found


# -- the rules, over the rows of one computer ----------------------------------------------------


def roots(rows) -> list:
    return [row for row in rows if row.parent_id is None]


def is_docker(rows, uuid: str | None) -> bool:
    """One "Ethernet interface" named network with a Docker MAC; without such a node, a uuid the
    client made from a Docker MAC. Compared case-insensitively: lshw prints MACs in lower case,
    which the original's upper-case prefix never matched."""
    candidates = [
        row
        for row in rows
        if row.name == "network"
        and row.class_name == "network"
        and row.description == "Ethernet interface"
    ]
    if len(candidates) == 1:
        return (candidates[0].serial or "").upper().startswith(DOCKER_MAC_PREFIX)
    if not candidates:
        return (uuid or "").upper().startswith(DOCKER_UUID_PREFIX)
    return False


def is_virtual(rows, uuid: str | None) -> bool:
    tops = roots(rows)
    if len(tops) == 1 and tops[0].vendor in VIRTUAL_MACHINES:
        return True
    return is_docker(rows, uuid)


def product(rows, uuid: str | None) -> str | None:
    """The root's product, a hypervisor name for a known virtual vendor, or ``docker``."""
    tops = roots(rows)
    if not tops:
        return None
    root = tops[0]
    if root.vendor:
        value = VIRTUAL_MACHINES.get(root.vendor, root.product)
    elif is_docker(rows, uuid):
        value = "docker"
    else:
        value = root.product or root.description
    return value[:PRODUCT_MAX_LEN] if value else value


def cpu(rows) -> str:
    processors = [
        row for row in rows if row.class_name == "processor" and row.name in ("cpu", "cpu:0")
    ]
    if not processors:
        return ""
    if len(processors) > 1:
        return "error"
    text = processors[0].product or ""
    for noise in CPU_NOISE:
        text = text.replace(noise, "")
    return text.strip()[:CPU_MAX_LEN]


def ram(rows) -> int | None:
    """The size of the single "memory" node, else the sum of the memory banks."""
    memory = [row for row in rows if row.name == "memory" and row.class_name == "memory"]
    if len(memory) == 1:
        return memory[0].size
    banks = [
        row.size
        for row in rows
        if row.class_name == "memory" and row.name.startswith("bank:") and row.size is not None
    ]
    return sum(banks) if banks else None


def storage(rows) -> tuple[int, int]:
    """``(disks, bytes)`` over disks with a positive size."""
    sizes = [row.size for row in rows if row.class_name == "disk" and (row.size or 0) > 0]
    return min(len(sizes), SMALLINT_MAX), sum(sizes)


def is_mac(value: str) -> bool:
    return len(value) == 17 and value.count(":") == 5


def mac_address(rows) -> str:
    serials = [
        row.serial
        for row in rows
        if row.class_name == "network" and "network" in row.name and is_mac(row.serial or "")
    ]
    return "".join(serial.upper().replace(":", "") for serial in serials)[:MAC_MAX_LEN]


def architecture(rows) -> int | None:
    """Width of the first processor that reports one, else of the system (root) node."""
    for row in rows:
        if row.class_name == "processor" and (row.width or 0) > 0:
            return row.width
    systems = sorted(
        (row for row in rows if row.class_name == "system"), key=lambda r: (r.level, r.id)
    )
    return systems[0].width if systems else None


def kind(rows, uuid: str | None) -> str:
    """docker, virtual, laptop, desktop, or '' when the tree does not tell."""
    if is_docker(rows, uuid):
        return "docker"
    if is_virtual(rows, uuid):
        return "virtual"
    chassis = [row.chassis for row in rows if row.class_name == "system" and row.chassis]
    if len(chassis) == 1:
        return "laptop" if chassis[0] in PORTABLE_CHASSIS else "desktop"
    return ""


def summary(rows, uuid: str | None) -> dict:
    """The hardware fields of ``client_computer`` derived from ``rows``."""
    disks, size = storage(rows)
    return {
        "product": product(rows, uuid),
        "machine": "V" if is_virtual(rows, uuid) else "P",
        "cpu": cpu(rows),
        "ram": ram(rows),
        "disks": disks,
        "storage": size,
        "mac_address": mac_address(rows),
    }


# -- database entry points -----------------------------------------------------------------------


def update_summary(session, computer: Computer) -> dict:
    """Recompute and set the computer's hardware summary; returns the values."""
    values = summary(summary_nodes(session, [computer.id]).get(computer.id, []), computer.uuid)
    for key, value in values.items():
        setattr(computer, key, value)
    return values


def computer_architecture(session, computer_ids: Iterable[int]) -> dict[int, int | None]:
    """``{computer id: width in bits}`` (None when the tree does not say), one statement."""
    ids = list(dict.fromkeys(computer_ids))
    query = (
        select(
            HardwareNode.computer_id,
            HardwareNode.id,
            HardwareNode.level,
            HardwareNode.class_name,
            HardwareNode.width,
        )
        .where(
            HardwareNode.computer_id.in_(ids),
            HardwareNode.class_name.in_(("processor", "system")),
        )
        .order_by(HardwareNode.id)
    )
    rows: dict[int, list] = defaultdict(list)
    if ids:
        for row in session.execute(query):
            rows[row.computer_id].append(row)
    return {pk: architecture(rows.get(pk, [])) for pk in ids}


def product_system(session, computer_ids: Iterable[int]) -> dict[int, str]:
    """``{computer id: 'docker'|'virtual'|'laptop'|'desktop'|''}``, two statements."""
    ids = list(dict.fromkeys(computer_ids))
    if not ids:
        return {}
    uuids = dict(
        session.execute(select(Computer.id, Computer.uuid).where(Computer.id.in_(ids))).all()
    )
    nodes = summary_nodes(session, ids)
    return {pk: kind(nodes.get(pk, []), uuids.get(pk)) for pk in ids}
