"""Status changes, retirement clean-up and replacement of computers (spec A.2.1, B.8, B.9)."""

from __future__ import annotations

from sqlalchemy import delete, insert, select

from migasfree_pyramid.domain.status import clears_tags
from migasfree_pyramid.models import Attribute, Computer, Property
from migasfree_pyramid.models.attributes import attribute_set_excluded, attribute_set_included
from migasfree_pyramid.models.deployments import deployment_excluded, deployment_included
from migasfree_pyramid.models.domains import (
    domain_excluded,
    domain_included,
    scope_excluded,
    scope_included,
)
from migasfree_pyramid.models.schedules import schedule_delay_attributes
from migasfree_pyramid.services.computers import cid_attribute, clear_links, set_status

from ..models import fault_definition_excluded, fault_definition_included

# The CID memberships a replacement exchanges (spec B.9). Logical devices, app-catalog policies
# and policy groups belong to addons that do not exist yet; they add their tables here.
SWAPPED_LINKS = [
    deployment_included,
    deployment_excluded,
    attribute_set_included,
    attribute_set_excluded,
    schedule_delay_attributes,
    domain_included,
    domain_excluded,
    scope_included,
    scope_excluded,
    fault_definition_included,
    fault_definition_excluded,
]
FAULT_DEFINITION_LINKS = (fault_definition_included, fault_definition_excluded)


def cid_attribute_id(session, computer_id: int) -> int | None:
    """Id of ``CID-<computer id>`` without creating it."""
    return session.scalar(
        select(Attribute.id)
        .join(Property, Property.id == Attribute.property_att_id)
        .where(Property.prefix == "CID", Attribute.value == str(computer_id))
    )


def clear_fault_definition_links(session, computer_id: int) -> None:
    """Drop the computer's CID from fault definitions (the core clears its own tables)."""
    cid = cid_attribute_id(session, computer_id)
    if cid is not None:
        for table in FAULT_DEFINITION_LINKS:
            session.execute(delete(table).where(table.c.attribute_id == cid))


def retire(session, computer: Computer) -> None:
    """What every save of an available/unsubscribed computer does: no tags, no CID links."""
    clear_links(session, computer)
    clear_fault_definition_links(session, computer.id)


def change_status(request, computer: Computer, status: str) -> None:
    """Through ``set_status`` (status log, clean-up); listeners hear ``StatusChanged``."""
    event = set_status(request.dbsession, computer, status, request)
    if event is not None:
        request.registry.notify(event)


def _owner_column(table):
    return next(column for column in table.c if column.name != "attribute_id")


def swap_links(session, table, first: int, second: int) -> None:
    """Exchange the rows of two attributes in a link table."""
    owner = _owner_column(table)
    rows = session.execute(
        select(owner, table.c.attribute_id).where(table.c.attribute_id.in_([first, second]))
    ).all()
    if not rows:
        return
    other = {first: second, second: first}
    swapped = {(key, other[attribute]) for key, attribute in rows}
    session.execute(delete(table).where(table.c.attribute_id.in_([first, second])))
    session.execute(
        insert(table),
        [{owner.name: key, "attribute_id": attribute} for key, attribute in sorted(swapped)],
    )


def replace(request, source: Computer, target: Computer) -> None:
    """``source`` takes ``target``'s place and the other way round (spec B.9).

    Exchanges the tags, the memberships of the two ``CID-<id>`` attributes and the statuses;
    then, as the original's save does, a computer left available or unsubscribed loses its tags
    and CID links.
    """
    session = request.dbsession
    source_cid = cid_attribute(session, source)
    target_cid = cid_attribute(session, target)
    source.tags, target.tags = list(target.tags), list(source.tags)
    session.flush()
    if source_cid is not None and target_cid is not None:
        for table in SWAPPED_LINKS:
            swap_links(session, table, source_cid.id, target_cid.id)
    source_status, target_status = source.status, target.status
    change_status(request, source, target_status)
    change_status(request, target, source_status)
    for computer in (source, target):
        if clears_tags(computer.status):
            retire(session, computer)
    session.flush()
    # Collections loaded earlier in this session (deployments' attributes...) no longer match.
    session.expire_all()
