"""Getting or creating attributes the way every caller must (spec A.1.2 ``Attribute.create``)."""

from __future__ import annotations

from sqlalchemy import select

from ..domain.attributes import split_value_description
from ..models import Attribute, Notification, Property


class AttributeRefused(ValueError):
    """The property does not accept new values (``auto_add`` is off)."""


def truncation_notice(prop: Property, parsed) -> Notification:
    """What admins are told when a value was cut to 250 characters (spec A.1.2)."""
    return Notification(
        message=(
            f"The value of the attribute [{prop.prefix}] has more than 250 characters. "
            f"The original value is truncated: {parsed.original}"
        )
    )


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
        session.add(truncation_notice(prop, parsed))
    session.flush()
    return attribute


def property_by_prefix(session, prefix: str) -> Property | None:
    return session.scalars(select(Property).where(Property.prefix == prefix)).first()


def insert_ignoring_conflicts(session, table, rows: list[dict]) -> None:
    """``INSERT ... ON CONFLICT DO NOTHING`` on PostgreSQL and SQLite (one statement)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(table).values(rows).on_conflict_do_nothing())


def bulk_get_or_create(session, items) -> dict[tuple[int, str], int]:
    """Attribute ids for many ``(property, AttributeValue, force)`` items in three statements.

    Existing rows are read in one query; the missing ones that their property accepts
    (``auto_add`` or ``force``) are inserted in one statement and read back in one more.
    Truncated values get a Notification each, as single-row creation does.
    """
    wanted: dict[tuple[int, str], tuple] = {}
    for prop, parsed, force in items:
        wanted.setdefault((prop.id, parsed.value), (prop, parsed, force))
    if not wanted:
        return {}
    found = _read_ids(session, list(wanted))
    missing = [item for key, item in wanted.items() if key not in found]
    creatable = [(p, v) for p, v, force in missing if force or p.auto_add]
    if creatable:
        insert_ignoring_conflicts(
            session,
            Attribute.__table__,
            [
                {"property_att_id": p.id, "value": v.value, "description": v.description}
                for p, v in creatable
            ],
        )
        found.update(_read_ids(session, [(p.id, v.value) for p, v in creatable]))
        for prop, parsed in creatable:
            if parsed.truncated:
                session.add(truncation_notice(prop, parsed))
    return found


def _read_ids(session, keys: list[tuple[int, str]]) -> dict[tuple[int, str], int]:
    from sqlalchemy import tuple_

    rows = session.execute(
        select(Attribute.property_att_id, Attribute.value, Attribute.id).where(
            tuple_(Attribute.property_att_id, Attribute.value).in_(keys)
        )
    )
    return {(prop_id, value): id_ for prop_id, value, id_ in rows}
