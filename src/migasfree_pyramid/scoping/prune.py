"""Removing what a restricted user may not see from nested parts of a response.

Serializers mark the nested objects that scoping applies to with the dict subclasses of
``core_api.nested`` (``AttributeRef``, ``ComputerRef``). After a view has built its answer,
``prune`` asks the database (one statement per kind) which of the referenced ids are visible
and drops the others from lists (a single reference becomes null).
"""

from __future__ import annotations

from sqlalchemy import select

from ..core_api.nested import AttributeRef, ComputerRef
from ..models import Attribute, Computer


def _collect(value, found: dict) -> None:
    if isinstance(value, dict):
        if isinstance(value, AttributeRef | ComputerRef):
            found[type(value)].add(value["id"])
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, found)


def _keep(value, visible: dict):
    if isinstance(value, AttributeRef | ComputerRef):
        return value["id"] in visible[type(value)]
    return True


def _rebuild(value, visible: dict):
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, AttributeRef | ComputerRef) and not _keep(item, visible):
                value[key] = None
            else:
                value[key] = _rebuild(item, visible)
        return value
    if isinstance(value, list):
        return [_rebuild(item, visible) for item in value if _keep(item, visible)]
    return value


def prune(result, request):
    """``result`` without the nested attributes and computers the caller may not see."""
    vis = request.visibility
    if vis is None or not isinstance(result, dict | list):
        return result
    found = {AttributeRef: set(), ComputerRef: set()}
    _collect(result, found)
    if not found[AttributeRef] and not found[ComputerRef]:
        return result
    session = request.dbsession
    visible = {AttributeRef: set(), ComputerRef: set()}
    if found[AttributeRef]:
        visible[AttributeRef] = set(
            session.scalars(
                select(Attribute.id).where(
                    Attribute.id.in_(found[AttributeRef]), vis.attribute_check(Attribute.id)
                )
            )
        )
    if found[ComputerRef]:
        visible[ComputerRef] = set(
            session.scalars(
                select(Computer.id).where(
                    Computer.id.in_(found[ComputerRef]), Computer.id.in_(vis.computers)
                )
            )
        )
    return _rebuild(result, visible)
