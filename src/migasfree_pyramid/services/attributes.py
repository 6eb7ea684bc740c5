"""Getting or creating attributes the way every caller must (spec A.1.2 ``Attribute.create``)."""

from __future__ import annotations

from sqlalchemy import select

from ..domain.attributes import split_value_description
from ..models import Attribute, Notification, Property


class AttributeRefused(ValueError):
    """The property does not accept new values (``auto_add`` is off)."""


def get_or_create(
    session, prop: Property, raw_value: str, description: str | None = None, *, force=False
) -> Attribute:
    """The attribute ``prop``-``value``, created if missing.

    ``raw_value`` may carry ``value~description``; values longer than 250 characters are cut and
    a Notification records the original. ``force`` bypasses ``auto_add`` (basic attributes).
    """
    parsed = split_value_description(raw_value, description)
    attribute = session.scalars(
        select(Attribute).where(
            Attribute.property_att_id == prop.id, Attribute.value == parsed.value
        )
    ).first()
    if attribute is not None:
        return attribute
    if not prop.auto_add and not force:
        raise AttributeRefused(f"{prop.prefix}-{parsed.value}")
    attribute = Attribute(property_att=prop, value=parsed.value, description=parsed.description)
    session.add(attribute)
    if parsed.truncated:
        session.add(
            Notification(
                message=(
                    f"The value of the attribute [{prop.prefix}] has more than 250 characters. "
                    f"The original value is truncated: {parsed.original}"
                )
            )
        )
    session.flush()
    return attribute


def property_by_prefix(session, prefix: str) -> Property | None:
    return session.scalars(select(Property).where(Property.prefix == prefix)).first()
