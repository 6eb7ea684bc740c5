"""Fault definitions: checks clients run, targeted by attributes (spec A.2.5, B.10, D.4)."""

from __future__ import annotations

import colander
from sqlalchemy.orm import selectinload

from migasfree_pyramid.api import Resource
from migasfree_pyramid.api.filters import Filter, related
from migasfree_pyramid.api.related import ensure_unique, load_rows
from migasfree_pyramid.api.schemas import (
    IdList,
    LenientBoolean,
    OptionalText,
    Schema,
    StrictInt,
    Text,
)
from migasfree_pyramid.core_api.nested import attributes, user_info
from migasfree_pyramid.domain.status import clears_tags
from migasfree_pyramid.models import LANGUAGES, Attribute, UserProfile
from migasfree_pyramid.scoping import ByLinkedAttribute
from migasfree_pyramid.services.computers import StatusChanged

from ..models import (
    FaultDefinition,
    fault_definition_excluded,
    fault_definition_included,
    fault_definition_users,
)
from .lifecycle import clear_fault_definition_links
from .shapes import optional


class FaultDefinitionSchema(Schema):
    name = Text(50)
    description = OptionalText()
    enabled = optional(LenientBoolean())
    language = optional(StrictInt(), colander.OneOf(sorted(LANGUAGES)))
    code = OptionalText()
    included_attributes = IdList(missing=colander.drop)
    excluded_attributes = IdList(missing=colander.drop)
    users = IdList(missing=colander.drop)


def _linked(table, column: str) -> Filter:
    return Filter(
        type="int",
        lookups=("exact", "in"),
        clause=related(table.c.faultdefinition_id, table.c[column], owner_id=FaultDefinition.id),
    )


class FaultDefinitionResource(Resource):
    path = "fault-definitions"
    model = FaultDefinition
    permission_model = "client.faultdefinition"
    scoping = ByLinkedAttribute(
        FaultDefinition.id,
        fault_definition_included.c.faultdefinition_id,
        fault_definition_included.c.attribute_id,
    )
    schema = FaultDefinitionSchema
    filters = {
        "id": Filter(FaultDefinition.id, "int", ("exact", "in")),
        "name": Filter(FaultDefinition.name, "str", ("exact", "icontains")),
        "enabled": Filter(FaultDefinition.enabled, "bool"),
        "language": Filter(FaultDefinition.language, "int", ("exact", "in")),
        "included_attributes__id": _linked(fault_definition_included, "attribute_id"),
        "excluded_attributes__id": _linked(fault_definition_excluded, "attribute_id"),
        "users__id": _linked(fault_definition_users, "userprofile_id"),
    }
    search_fields = (FaultDefinition.name,)
    ordering = {
        name: getattr(FaultDefinition, name)
        for name in ("id", "name", "description", "enabled", "language", "code")
    }
    default_ordering = ("name",)
    list_options = detail_options = (
        selectinload(FaultDefinition.included_attributes),
        selectinload(FaultDefinition.excluded_attributes),
        selectinload(FaultDefinition.users),
    )

    def serialize(self, obj, request):
        return {
            "id": obj.id,
            "name": obj.name,
            "description": obj.description,
            "enabled": obj.enabled,
            "language": obj.language,
            "code": obj.code,
            "included_attributes": attributes(obj.included_attributes),
            "excluded_attributes": attributes(obj.excluded_attributes),
            "users": [user_info(u) for u in sorted(obj.users, key=lambda u: u.username)],
        }

    def apply(self, request, obj, data, creating):
        # Resolve every id before touching obj: a query autoflushes pending changes.
        links = {
            key: load_rows(request, model, data[key], key)
            for key, model in (
                ("included_attributes", Attribute),
                ("excluded_attributes", Attribute),
                ("users", UserProfile),
            )
            if key in data
        }
        if "name" in data:
            ensure_unique(
                request,
                FaultDefinition,
                "name",
                {"name": data["name"]},
                obj.id,
                "fault definition with this name already exists.",
            )
            obj.name = data["name"]
        if "code" in data:
            # Stored with LF line ends, as the original's save does.
            obj.code = (data["code"] or "").replace("\r\n", "\n")
        for key in ("description", "enabled", "language"):
            if key in data:
                setattr(obj, key, data[key])
        for key, rows in links.items():
            setattr(obj, key, rows)


def on_status_changed(event: StatusChanged) -> None:
    """An available/unsubscribed computer's CID leaves the fault definitions too (the core's
    ``set_status`` only knows its own link tables)."""
    if not clears_tags(event.new):
        return
    request = event.request
    if request is not None:
        clear_fault_definition_links(request.dbsession, event.computer_id)


def attribute_filters() -> dict:
    """Attributes used by fault definitions (the original's ``faultdefinition_*__id``)."""
    return {
        f"faultdefinition_{side}__id": Filter(
            type="int",
            lookups=("exact", "in"),
            clause=related(table.c.attribute_id, table.c.faultdefinition_id, owner_id=Attribute.id),
        )
        for side, table in (
            ("included", fault_definition_included),
            ("excluded", fault_definition_excluded),
        )
    }


def includeme(config) -> None:
    config.register_resource(FaultDefinitionResource)
    for path in ("attributes", "features", "tags"):
        config.add_resource_filters(path, attribute_filters())
    config.add_subscriber(on_status_changed, StatusChanged)
