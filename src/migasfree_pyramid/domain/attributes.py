"""Property kinds/sorts and the expansion of raw values into attribute values.

A *property* (formula or tag category) names every attribute it produces with
its 3-letter prefix; its *kind* decides how one raw value expands into several
attribute values, its *sort* decides who produces them (client formula,
server tag, or server-computed basic attribute).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, NamedTuple

VALUE_LEN = 250  # core_attribute.value is CharField(250)
PREFIX_LEN = 3

ALL_SYSTEMS_ID = 1  # fixture attribute pk 1 = SET / "All Systems"
ALL_SYSTEMS_VALUE = "All Systems"


class PropertyKind(StrEnum):
    """How one raw value expands (``core_property.kind``)."""

    NORMAL = "N"
    LIST = "-"
    ADDED_LEFT = "L"
    ADDED_RIGHT = "R"
    JSON = "J"


class PropertySort(StrEnum):
    """Who produces the attributes of a property (``core_property.sort``)."""

    BASIC = "basic"
    CLIENT = "client"
    SERVER = "server"


KINDS: tuple[str, ...] = tuple(k.value for k in PropertyKind)
SORTS: tuple[str, ...] = tuple(s.value for s in PropertySort)

# Prefixes of the basic properties (fixture), in the order the server adds them.
SET_PREFIX = "SET"
CID_PREFIX = "CID"
PLT_PREFIX = "PLT"
IP_PREFIX = "IP"
PRJ_PREFIX = "PRJ"
USR_PREFIX = "USR"
BASIC_PREFIXES: tuple[str, ...] = (
    SET_PREFIX,
    CID_PREFIX,
    PLT_PREFIX,
    IP_PREFIX,
    PRJ_PREFIX,
    USR_PREFIX,
)


class AttributeValue(NamedTuple):
    """A normalised attribute value ready for get-or-create.

    ``original`` is the stripped value before truncation; it only differs from
    ``value`` when ``truncated`` is True (the caller then records a
    Notification quoting it).
    """

    value: str
    description: str | None
    truncated: bool
    original: str


class BasicValue(NamedTuple):
    """One basic attribute to get-or-create: ``(prefix, value, description)``."""

    prefix: str
    value: str
    description: str | None


def split_value_description(raw: str, description: str | None = None) -> AttributeValue:
    """Normalise a raw value the way attribute creation does.

    If ``raw`` contains exactly one ``~`` it is split into value and
    description (overriding ``description``); both parts are stripped.  The
    value is then truncated to ``VALUE_LEN`` characters and the truncation is
    reported so the caller can notify about it.
    """
    value = raw
    if raw.count("~") == 1:
        value, description = raw.split("~")
        description = description.strip()
    value = value.strip()
    truncated = len(value) > VALUE_LEN
    return AttributeValue(value[:VALUE_LEN], description, truncated, value)


def _json_text(item: Any) -> str:
    # Clients may send numbers/booleans as JSON values; store their JSON
    # spelling ("true", "5") rather than Python's repr ("True").
    return item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)


def _expand_json(value: str) -> list[tuple[str, str | None]]:
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        return []
    if isinstance(data, dict):
        data = [data]
    elif not isinstance(data, list):
        # Quirk 9 fixed: a JSON scalar (number, string, null, ...) yields no
        # attributes instead of None, so callers can always iterate.
        return []
    result = []
    for item in data:
        if not isinstance(item, dict):
            continue
        item_value = item.get("value")
        if item_value is None or isinstance(item_value, dict | list):
            continue
        item_description = item.get("description")
        result.append(
            (
                _json_text(item_value),
                None if item_description is None else _json_text(item_description),
            )
        )
    return result


def expand_value(kind: str, sort: str, value: str | None) -> list[tuple[str, str | None]]:
    """Expand one raw property value into ``(value, description)`` pairs.

    Implements ``process_kind_property``: ``N`` one value; ``-`` comma list
    (items stripped, empties skipped); ``L``/``R`` split on ``.`` into
    left-anchored prefixes / right-anchored suffixes, preceded by ``''`` for
    server-sort properties; ``J`` a JSON list of ``{value, description}``
    objects or a single object (items without value skipped, invalid JSON or
    a JSON scalar -> ``[]``); unknown kind -> ``[]``.

    Values are returned raw (not yet split on ``~`` nor truncated, exactly as
    attribute creation receives them); duplicates are dropped, first wins.
    Use :func:`expand_attribute_values` to also normalise them.  ``None`` (a
    client sending null) expands to nothing.
    """
    if value is None:
        return []
    pairs: list[tuple[str, str | None]]
    if kind == PropertyKind.NORMAL:
        pairs = [(value, None)]
    elif kind == PropertyKind.LIST:
        pairs = [(item.strip(), None) for item in value.split(",") if item.strip()]
    elif kind in (PropertyKind.ADDED_LEFT, PropertyKind.ADDED_RIGHT):
        parts = value.split(".")
        # Server tags get an empty-valued attribute too: it lets deployments
        # target "anyone carrying some tag of this category".
        pairs = [("", None)] if sort == PropertySort.SERVER else []
        if kind == PropertyKind.ADDED_LEFT:
            pairs += [(".".join(parts[: i + 1]), None) for i in range(len(parts))]
        else:
            pairs += [(".".join(parts[i:]), None) for i in range(len(parts))]
    elif kind == PropertyKind.JSON:
        pairs = _expand_json(value)
    else:
        return []
    seen: set[str] = set()
    unique = []
    for pair in pairs:
        if pair[0] not in seen:
            seen.add(pair[0])
            unique.append(pair)
    return unique


def expand_attribute_values(kind: str, sort: str, value: str | None) -> list[AttributeValue]:
    """:func:`expand_value` followed by :func:`split_value_description` on each item.

    Duplicates after normalisation are dropped (first wins) because they map
    to the same ``(property, value)`` row.
    """
    seen: set[str] = set()
    result = []
    for raw, description in expand_value(kind, sort, value):
        item = split_value_description(raw, description)
        if item.value not in seen:
            seen.add(item.value)
            result.append(item)
    return result


def parse_prefixed_tag(tag: str) -> tuple[str, str] | None:
    """Split ``"PRE-value"`` at the first ``-`` into ``(prefix, value)``.

    Returns None when the string is not parsable (not a string, no ``-`` or an
    empty prefix).  The value may be empty: ``L``/``R`` server tags have an
    empty-valued attribute.

    Quirk 8 (the original resolves any attribute with that prefix/value) is
    fixed by the caller: it must look the pairs up among *server-sort*
    properties only, so a client cannot assign itself features or basic
    attributes as tags.
    """
    if not isinstance(tag, str) or "-" not in tag:
        return None
    prefix, value = tag.split("-", 1)
    if not prefix:
        return None
    return prefix, value


def basic_attribute_values(
    computer_id: int,
    ip_address: str | None,
    project: str | None,
    platform: str | None,
    user: str | None,
    description: str | None,
    enabled_prefixes: Iterable[str],
) -> list[BasicValue]:
    """Basic attributes a computer gets at every sync (``BasicAttribute.process``).

    Only prefixes in ``enabled_prefixes`` (enabled basic properties) are
    produced, in the order SET, CID, PLT, IP, PRJ, USR; empty values are
    skipped.  SET always maps to the existing ``All Systems`` attribute; CID
    carries ``description`` (the computer name) which the caller refreshes on
    the existing row when it changed.  Values are cut to ``VALUE_LEN`` so a
    long user or platform name cannot break the insert (basic attributes use
    get-or-create, so the caller neither applies ``auto_add`` nor notifies).
    """
    enabled = set(enabled_prefixes)
    candidates = (
        (SET_PREFIX, ALL_SYSTEMS_VALUE, None),
        (CID_PREFIX, None if computer_id is None else str(computer_id), description),
        (PLT_PREFIX, platform, None),
        (IP_PREFIX, ip_address, None),
        (PRJ_PREFIX, project, None),
        (USR_PREFIX, user, None),
    )
    result = []
    for prefix, value, desc in candidates:
        if prefix not in enabled or value is None:
            continue
        value = str(value)[:VALUE_LEN]
        if value:
            result.append(BasicValue(prefix, value, desc))
    return result
