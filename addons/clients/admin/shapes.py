"""JSON shapes and filter builders shared by the clients admin resources (spec D.2, D.4).

Event rows (errors, faults, migrations, status logs, syncs, package history) all point at a
computer; their ``computer__*`` filters and search fields are correlated subqueries on
``client_computer`` so that the listed row's own eager joins stay untouched.
"""

from __future__ import annotations

import colander
from sqlalchemy import String, cast, select

from migasfree_pyramid.api.filters import Filter, compare
from migasfree_pyramid.core_api.nested import computer_info
from migasfree_pyramid.models import ClientUser, Computer, Project

__all__ = [
    "NullableDateTime",
    "OptionalText",
    "TagIds",
    "client_user_info",
    "computer_column",
    "computer_filters",
    "computer_info",
    "created_at_filter",
    "event_str",
    "id_text",
    "max_length",
    "optional",
    "platform_filter",
    "sync_info",
    "through",
    "user_column",
]

TIMESTAMP = "%Y-%m-%d %H:%M:%S"


def event_str(obj) -> str:
    """``"CID-<id> (YYYY-MM-DD HH:MM:SS)"``: the original's string form of an event (UTC)."""
    return f"CID-{obj.computer_id} ({obj.created_at.strftime(TIMESTAMP)})"


def client_user_info(user: ClientUser | None) -> dict | None:
    """A desktop user as lists show it: ``{id, name, __str__}``."""
    return None if user is None else {"id": user.id, "name": user.name, "__str__": str(user)}


def sync_info(sync) -> dict | None:
    """SynchronizationInfo: ``{id, start_date, created_at}``."""
    if sync is None:
        return None
    return {"id": sync.id, "start_date": sync.start_date, "created_at": sync.created_at}


# -- filters ------------------------------------------------------------------------------------


def computer_column(model, column=Computer.name):
    """A column of the row's computer as a correlated scalar subquery (search, ordering)."""
    return select(column).where(Computer.id == model.computer_id).correlate(model).scalar_subquery()


def user_column(model, column=ClientUser.name):
    """A column of a row's desktop user (``user_id`` or ``sync_user_id``) as a subquery."""
    key = model.user_id if hasattr(model, "user_id") else model.sync_user_id
    return select(column).where(ClientUser.id == key).correlate(model).scalar_subquery()


def through(key, column):
    """``key IN (ids of rows whose column matches)``: a filter on a related row."""
    table = column.class_

    def clause(lookup: str, value):
        return key.in_(select(table.id).where(compare(column, lookup, value)))

    return clause


def computer_filters(model, *, status: bool = False) -> dict[str, Filter]:
    """``computer__id``, ``computer__name`` (exact, icontains) and optionally
    ``computer__status`` (exact, in) for a model with a ``computer_id`` column."""
    filters = {
        "computer__id": Filter(model.computer_id, "int", ("exact", "in")),
        "computer__name": Filter(
            type="str",
            lookups=("exact", "icontains"),
            clause=through(model.computer_id, Computer.name),
        ),
    }
    if status:
        filters["computer__status"] = Filter(
            type="str", lookups=("exact", "in"), clause=through(model.computer_id, Computer.status)
        )
    return filters


def platform_filter(project_key) -> Filter:
    """``project__platform__id`` through the project of the row."""
    return Filter(
        type="int", lookups=("exact", "in"), clause=through(project_key, Project.platform_id)
    )


def created_at_filter(model) -> Filter:
    return Filter(model.created_at, "datetime", ("gte", "lt"))


def id_text(column):
    """An integer column as text, so that search can match ids as DRF does."""
    return cast(column, String)


# -- write types --------------------------------------------------------------------------------


class NullableDateTime(colander.DateTime):
    """An ISO date/time where JSON null clears the value (colander would drop it)."""

    def deserialize(self, node, cstruct):
        if cstruct is None or cstruct == "":
            return None
        if not isinstance(cstruct, str):
            raise colander.Invalid(node, "Datetime has wrong format.")
        return super().deserialize(node, cstruct)


def max_length(size: int):
    """A length check that lets null through (colander validators also see None)."""

    def check(node, value):
        if value is not None and len(value) > size:
            raise colander.Invalid(node, f"Ensure this field has no more than {size} characters.")

    return check


class OptionalText(colander.String):
    """Nullable text; JSON null stores NULL."""

    def deserialize(self, node, cstruct):
        if cstruct is None:
            return None
        if cstruct is colander.null:
            return colander.null
        if not isinstance(cstruct, str):
            raise colander.Invalid(node, "Not a valid string.")
        return cstruct


class TagIds(colander.SchemaType):
    """Attribute ids; blank items are ignored so that ``[""]`` (the UI's "no tags") clears."""

    def deserialize(self, node, cstruct):
        if cstruct is colander.null:
            return colander.null
        if cstruct is None:
            return []
        if not isinstance(cstruct, list):
            raise colander.Invalid(node, "Expected a list of items.")
        ids = []
        for item in cstruct:
            if item is None or (isinstance(item, str) and not item.strip()):
                continue
            if isinstance(item, int) and not isinstance(item, bool):
                ids.append(item)
            elif isinstance(item, str) and item.strip().isdigit():
                ids.append(int(item))
            else:
                raise colander.Invalid(
                    node, f"Incorrect type. Expected pk value, received {item!r}."
                )
        return ids


def optional(typ, validator=None):
    """A field that may be absent; absent fields keep their value on PUT too (DRF semantics)."""
    return colander.SchemaNode(typ, missing=colander.drop, validator=validator)
