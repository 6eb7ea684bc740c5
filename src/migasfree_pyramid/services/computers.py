"""Computer status transitions and the CID attribute (spec A.2.1, B.8)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, select

from ..domain.status import DEFAULT_STATUS, clears_tags, validate_status
from ..models import Attribute, Computer, StatusLog
from ..models.attributes import attribute_set_excluded, attribute_set_included
from ..models.deployments import deployment_excluded, deployment_included
from ..models.schedules import schedule_delay_attributes
from .attributes import get_or_create, property_by_prefix

# Links of a computer's CID attribute that an available/unsubscribed computer loses (A.2.1).
# Addons add theirs (fault definitions, logical devices) by subscribing to StatusChanged.
CID_LINK_TABLES = (
    deployment_included,
    deployment_excluded,
    attribute_set_included,
    attribute_set_excluded,
    schedule_delay_attributes,
)


@dataclass(frozen=True)
class StatusChanged:
    """Event: a computer took a new status (sent through ``registry.notify`` by callers).

    ``request`` lets subscribers use the same session (``request.dbsession``).
    """

    computer_id: int
    old: str | None
    new: str
    request: object = field(default=None, compare=False, repr=False)


def cid_attribute(session, computer: Computer, create: bool = True) -> Attribute | None:
    """The computer's ``CID-<id>`` attribute (description = its name), created if missing."""
    prop = property_by_prefix(session, "CID")
    if prop is None:
        return None
    if not create:
        return session.scalars(
            select(Attribute).where(
                Attribute.property_att_id == prop.id, Attribute.value == str(computer.id)
            )
        ).first()
    attribute = get_or_create(session, prop, str(computer.id), computer.name or "", force=True)
    if computer.name and attribute.description != computer.name:
        attribute.description = computer.name
    return attribute


def clear_links(session, computer: Computer) -> None:
    """Drop the tags and the CID links of a computer that left production."""
    computer.tags = []
    cid = cid_attribute(session, computer, create=False)
    if cid is None:
        return
    for table in CID_LINK_TABLES:
        session.execute(delete(table).where(table.c.attribute_id == cid.id))


def register(session, computer: Computer) -> Computer:
    """Add a new computer with its first StatusLog."""
    computer.status = validate_status(computer.status or DEFAULT_STATUS)
    session.add(computer)
    session.flush()
    session.add(StatusLog(computer_id=computer.id, status=computer.status))
    return computer


def set_status(session, computer: Computer, status: str, request=None) -> StatusChanged | None:
    """Change the status: a StatusLog row, and the clean-up of available/unsubscribed computers.

    Returns the event to notify, or None when nothing changed. Raises ValueError (listing the
    valid values) for an unknown status.
    """
    status = validate_status(status)
    old = computer.status
    if old == status:
        return None
    computer.status = status
    session.add(StatusLog(computer_id=computer.id, status=status))
    if clears_tags(status):
        clear_links(session, computer)
    session.flush()
    return StatusChanged(computer.id, old, status, request)
