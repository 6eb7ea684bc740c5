"""Storing an lshw capture (spec repositories.md 5): validate the JSON, replace the computer's
tree with bulk inserts, derive the summary fields.

The cost is a fixed number of statements whatever the size of the tree: lock the computer,
delete its old tree (the database cascades to the child tables), allocate every node id in one
round trip, then one INSERT per table (``bulk_insert``), one read for the summary and the
computer's UPDATE. Ids are allocated before inserting so that children can name their parent
without a round trip per level.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY

from migasfree_pyramid.models import Computer
from migasfree_pyramid.models.meta import utcnow

from .models import (
    TEXT_FIELDS,
    HardwareCapability,
    HardwareConfiguration,
    HardwareLogicalName,
    HardwareNode,
)
from .summary import update_summary

MALFORMED = "Malformed claims"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# lshw keys that name a differently called column; the other text fields keep their names.
RENAMED = {"bus_info": "businfo"}
# A node's capabilities, configuration entries and logical names together. Real nodes have a few
# dozen (a CPU's flags reach ~150); more is not lshw output.
MAX_DETAILS_PER_NODE = 1000


class HardwareError(ValueError):
    """The claims are not an lshw tree we accept (the caller answers 400 with ``message``)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Limits:
    max_depth: int = 64
    max_nodes: int = 50000

    @classmethod
    def from_settings(cls, settings) -> Limits:
        return cls(settings["hardware.max_depth"], settings["hardware.max_nodes"])


@dataclass(frozen=True)
class FlatNode:
    data: dict
    parent: int | None  # index of the parent in the flat list
    level: int


def hardware_root(hardware) -> dict:
    """The root node of what a client sent: an object, or the first element of a list."""
    if isinstance(hardware, list):
        hardware = hardware[0] if hardware else None
    if not isinstance(hardware, dict):
        raise HardwareError(MALFORMED)
    return hardware


def flatten(hardware, limits: Limits) -> list[FlatNode]:
    """The tree in level order (parents before children), checked against ``limits``.

    Iterative on purpose: the depth of what a client sends must never reach Python's stack.
    """
    nodes = [FlatNode(hardware_root(hardware), None, 1)]
    index = 0
    while index < len(nodes):
        node = nodes[index]
        children = node.data.get("children")
        details = sum(
            len(value) if isinstance(value, dict | list) else 0
            for value in (
                node.data.get("capabilities"),
                node.data.get("configuration"),
                node.data.get("logicalname"),
            )
        )
        if details > MAX_DETAILS_PER_NODE:
            raise HardwareError(
                f"Hardware node with more than {MAX_DETAILS_PER_NODE} capabilities, "
                "configuration entries and logical names"
            )
        if children is not None:
            if not isinstance(children, list):
                raise HardwareError(MALFORMED)
            if children and node.level >= limits.max_depth:
                raise HardwareError(f"Hardware tree too deep (more than {limits.max_depth} levels)")
            if len(nodes) + len(children) > limits.max_nodes:
                raise HardwareError(f"Hardware tree too large (more than {limits.max_nodes} nodes)")
            for child in children:
                if not isinstance(child, dict):
                    raise HardwareError(MALFORMED)
                nodes.append(FlatNode(child, index, node.level + 1))
        index += 1
    return nodes


# -- lshw values → column values ----------------------------------------------------------------


def as_text(value) -> str | None:
    """Scalars as text (JSON ``true`` becomes ``'True'``, as the original stored it). What
    PostgreSQL text refuses is dropped: NUL bytes, and lone surrogates (JSON lets ``"\\ud800"``
    through) become ``?``. Objects and arrays are not text: NULL."""
    if isinstance(value, str):
        if not value.isascii():
            value = value.encode("utf-8", "replace").decode("utf-8")
        return value.replace("\x00", "")
    if isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
        return str(value)
    return None


def as_int64(value) -> int | None:
    """An integer that fits a BIGINT, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        value = int(value)
    elif isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            return None
    if isinstance(value, int) and INT64_MIN <= value <= INT64_MAX:
        return value
    return None


def node_row(data: dict, node_id: int, parent_id: int | None, computer_id: int, level: int):
    row = {
        "id": node_id,
        "parent_id": parent_id,
        "computer_id": computer_id,
        "level": level,
        "name": as_text(data.get("id")) or "",
        "class_name": as_text(data.get("class")) or "",
        "enabled": data.get("enabled") is True,
        "claimed": data.get("claimed") is True,
        "width": as_int64(data.get("width")),
        "capacity": as_int64(data.get("capacity")),
        "clock": as_int64(data.get("clock")),
        # The original stores 0 for a size it cannot read; an absent size stays NULL.
        "size": None if data.get("size") is None else (as_int64(data.get("size")) or 0),
    }
    for field in TEXT_FIELDS:
        row[field] = as_text(data.get(RENAMED.get(field, field)))
    return row


def named_values(value) -> dict[str, str | None]:
    """``{name: text}`` of a capabilities/configuration object (anything else: empty)."""
    if not isinstance(value, dict):
        return {}
    pairs = ((as_text(name), as_text(item)) for name, item in value.items())
    # Keys are unique in JSON, but may collide once NUL bytes are dropped: the last one wins.
    return {name: item for name, item in pairs if name is not None}


def logical_names(value) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [name for name in map(as_text, items) if name is not None]


# -- storing --------------------------------------------------------------------------------------


def allocate_ids(session, count: int) -> list[int]:
    """``count`` new ids for ``hardware_node``, in one round trip."""
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        sequence = func.pg_get_serial_sequence("hardware_node", "id")
        query = select(func.nextval(sequence)).select_from(func.generate_series(1, count))
        # Sorted so that ids follow the level order, as the original's level-by-level inserts.
        return sorted(session.scalars(query))
    # Portable fallback (SQLite): the delete that precedes this has taken the database's single
    # write lock for the rest of the transaction, so nobody else can insert these ids meanwhile.
    start = session.scalar(select(func.coalesce(func.max(HardwareNode.id), 0)))
    return list(range(start + 1, start + 1 + count))


def insert_tree(session, computer_id: int, nodes: list[FlatNode]) -> int:
    """Insert ``nodes`` (from ``flatten``) for the computer; returns the number of nodes."""
    ids = allocate_ids(session, len(nodes))
    rows, capabilities, configurations, names = [], [], [], []
    for index, node in enumerate(nodes):
        node_id = ids[index]
        parent_id = None if node.parent is None else ids[node.parent]
        rows.append(node_row(node.data, node_id, parent_id, computer_id, node.level))
        for name, text in named_values(node.data.get("capabilities")).items():
            capabilities.append({"node_id": node_id, "name": name, "description": text})
        for name, text in named_values(node.data.get("configuration")).items():
            configurations.append({"node_id": node_id, "name": name, "value": text})
        if "logicalname" in node.data:
            for name in logical_names(node.data["logicalname"]):
                names.append({"node_id": node_id, "name": name})
    for model, batch in (
        (HardwareNode, rows),
        (HardwareCapability, capabilities),
        (HardwareConfiguration, configurations),
        (HardwareLogicalName, names),
    ):
        bulk_insert(session, model.__table__, batch)
    return len(rows)


def bulk_insert(session, table, rows: list[dict]) -> None:
    """Insert ``rows`` (dicts with the same keys) in one statement.

    PostgreSQL gets one array per column, ``INSERT ... SELECT FROM unnest(...)``: a single
    statement of fixed size, several times faster than an executemany of the same rows. Other
    backends (SQLite) get a plain executemany.
    """
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    names = list(rows[0])
    arrays = [
        bindparam(f"{name}_values", [row[name] for row in rows], type_=ARRAY(table.c[name].type))
        for name in names
    ]
    source = select(func.unnest(*arrays).table_valued(*names).render_derived(name="source"))
    session.execute(insert(table).from_select(names, source))


def delete_tree(session, computer_id: int) -> None:
    session.execute(
        delete(HardwareNode)
        .where(HardwareNode.computer_id == computer_id)
        .execution_options(synchronize_session=False)
    )


def store_hardware(
    session,
    computer: Computer,
    lshw,
    limits: Limits | None = None,
    nodes: list[FlatNode] | None = None,
    captured_at: dt.datetime | None = None,
) -> bool:
    """Replace the computer's tree with ``lshw`` and refresh its summary.

    ``nodes`` is ``flatten(lshw)`` when the caller already has it. ``captured_at`` (when the
    capture was received, default now) keeps a late background task from overwriting a newer
    capture: then nothing is stored and False is returned. Raises ``HardwareError``.
    """
    if nodes is None:
        nodes = flatten(lshw, limits or Limits())
    captured_at = captured_at or utcnow()
    # Serialises two captures of one computer (SQLite has a single writer anyway).
    last = session.scalar(
        select(Computer.last_hardware_capture).where(Computer.id == computer.id).with_for_update()
    )
    if last is not None and last > captured_at:
        return False
    delete_tree(session, computer.id)
    insert_tree(session, computer.id, nodes)
    update_summary(session, computer)
    computer.last_hardware_capture = captured_at
    session.flush()
    return True


def capture_required(computer: Computer, period_days: int, now: dt.datetime | None = None) -> bool:
    """True when the computer never sent its hardware or its last capture is too old."""
    last = computer.last_hardware_capture
    if last is None:
        return True
    return last < (now or utcnow()) - dt.timedelta(days=period_days)
