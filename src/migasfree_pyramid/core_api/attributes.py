"""Attributes, tags and features (spec A.1.2, B.1, B.7, D.3). Attribute sets: ``attribute_sets``.

All three routes list rows of ``core_attribute``; tags are the attributes of server-sort properties
(stamps), features those of client and basic properties (formulas).

Scoping is a later issue. The intended rule (C.4): a restricted user sees the attributes carried by
the computers of their domain/scope plus the tags of their preferred domain.
"""

from __future__ import annotations

import math
from typing import ClassVar

import colander
from pyramid.httpexceptions import HTTPForbidden
from pyramid.response import Response
from sqlalchemy import and_, delete, exists, func, insert, or_, select
from sqlalchemy.orm import contains_eager

from ..api import Resource, action
from ..api.errors import bad_request, validation_error
from ..api.filters import Filter, compare, related
from ..api.related import ensure_unique, load_row, load_rows
from ..api.schemas import (
    IdList,
    Integer,
    OptionalText,
    Schema,
    json_body,
    validate,
)
from ..domain.attributes import PropertySort
from ..domain.status import PRODUCTIVE_ORDERED
from ..models import Attribute, Computer, Property
from ..models.attributes import (
    VALUE_LEN,
    attribute_set_excluded,
    attribute_set_included,
    singularity_excluded,
    singularity_included,
)
from ..models.computers import computer_sync_attributes, computer_tags
from ..models.deployments import deployment_excluded, deployment_included
from ..models.domains import (
    domain_excluded,
    domain_included,
    domain_tags,
    scope_excluded,
    scope_included,
)
from ..scoping import ByAttribute
from ..scoping.visibility import unproductive_computers
from .nested import attribute_info, computer_info, property_info

BASIC = PropertySort.BASIC.value
CLIENT_SORTS = (PropertySort.CLIENT.value, BASIC)
SERVER_SORTS = (PropertySort.SERVER.value,)


# -- shared write fields and shapes (also used by properties and attribute sets) -----------------


class NullableFloat(colander.Number):
    """A coordinate: a JSON number, or null/"" to clear it. Booleans and NaN are refused."""

    num = float

    def deserialize(self, node, cstruct):
        if cstruct is colander.null:
            return colander.null
        if cstruct is None or cstruct == "":
            return None
        if isinstance(cstruct, bool) or not isinstance(cstruct, int | float | str):
            raise colander.Invalid(node, "A valid number is required.")
        try:
            value = float(cstruct)
        except ValueError:
            raise colander.Invalid(node, "A valid number is required.") from None
        if not math.isfinite(value):
            raise colander.Invalid(node, "A valid number is required.")
        return value


class PresentText(colander.String):
    """Text that keeps "" (and refuses null) so the blank check runs on PATCH too.

    With ``schemas.Text`` an empty string becomes colander's null, which a partial schema drops:
    ``PATCH {"value": ""}`` would answer 200 and change nothing.
    """

    def __init__(self):
        super().__init__(allow_empty=True)

    def deserialize(self, node, cstruct):
        if cstruct is None:
            raise colander.Invalid(node, "This field may not be null.")
        if cstruct is not colander.null and not isinstance(cstruct, str):
            raise colander.Invalid(node, "Not a valid string.")
        return super().deserialize(node, cstruct)


def text(max_length: int | None = None):
    """A required text field; ``required_text`` rejects blank values in ``apply``."""
    return colander.SchemaNode(
        PresentText(), validator=colander.Length(max=max_length) if max_length else None
    )


# Optional fields are dropped when absent, so that a PUT without them keeps the stored value (as
# DRF does for fields that are not required) instead of resetting it to a default.
def coordinate():
    return colander.SchemaNode(NullableFloat(), missing=colander.drop)


def required_text(data: dict, field: str) -> str:
    """The stripped value of a required text field; 400 when it is blank (DRF trims input)."""
    value = data[field].strip()
    if not value:
        raise validation_error({field: "This field may not be blank."})
    return value


# -- computers counted per attribute --------------------------------------------------------------

sync = computer_sync_attributes


def counted_computers(request):
    """The condition on ``sync.c.computer_id`` of the computers counted for the caller: the
    productive ones, or those in view (productive already) for a restricted user.

    Without a join to ``client_computer``: the links of a page of attributes are counted from
    the link table's index, minus the few unproductive computers (a small partial index),
    instead of hashing the status of the whole fleet for every page."""
    vis = getattr(request, "visibility", None) if request is not None else None
    if vis is not None:
        return sync.c.computer_id.in_(vis.computers)
    return sync.c.computer_id.not_in(unproductive_computers())


def count_computers(session, attribute_ids, request=None) -> dict[int, int]:
    """``{attribute id: productive computers having it in sync_attributes}`` in one query,
    counting only the computers the caller may see."""
    ids = list(attribute_ids)
    if not ids:
        return {}
    query = (
        select(sync.c.attribute_id, func.count(sync.c.computer_id))
        .where(sync.c.attribute_id.in_(ids), counted_computers(request))
        .group_by(sync.c.attribute_id)
    )
    return dict(session.execute(query).all())


def total_computers_column(request=None):
    """The same count as a correlated subquery of the listed attribute (filters)."""
    return (
        select(func.count())
        .select_from(sync)
        .where(sync.c.attribute_id == Attribute.id, counted_computers(request))
        .correlate(Attribute)
        .scalar_subquery()
    )


# -- filters --------------------------------------------------------------------------------------


def _linked(table, owner_column: str) -> Filter:
    """A reverse relation through a link table (``deployment_included__id`` and friends)."""
    return Filter(
        type="int",
        lookups=("exact", "in"),
        clause=related(table.c.attribute_id, table.c[owner_column], owner_id=Attribute.id),
    )


def _has_location(lookup: str, value: bool):
    located = and_(Attribute.latitude.is_not(None), Attribute.longitude.is_not(None))
    return located if value else or_(Attribute.latitude.is_(None), Attribute.longitude.is_(None))


# The addons add their own reverse relations later (faultdefinition_*, device, logical,
# application, policy_*).
ATTRIBUTE_FILTERS = {
    "id": Filter(Attribute.id, "int", ("exact", "in")),
    "property_att__id": Filter(Attribute.property_att_id, "int", ("exact", "in")),
    "property_att__prefix": Filter(Property.prefix, "str", ("exact", "in")),
    "property_att__sort": Filter(Property.sort, "str", ("exact", "in")),
    "value": Filter(Attribute.value, "str", ("exact", "icontains")),
    "description": Filter(Attribute.description, "str", ("icontains",)),
    "has_location": Filter(type="bool", clause=_has_location),
    "total_computers": Filter(
        type="int",
        lookups=("exact", "gt", "gte", "lt", "lte"),
        clause=lambda lookup, value, request: compare(
            total_computers_column(request), lookup, value
        ),
        with_request=True,
    ),
    "attributeset_included__id": _linked(attribute_set_included, "attributeset_id"),
    "attributeset_excluded__id": _linked(attribute_set_excluded, "attributeset_id"),
    "domain_included__id": _linked(domain_included, "domain_id"),
    "domain_excluded__id": _linked(domain_excluded, "domain_id"),
    "scope_included__id": _linked(scope_included, "scope_id"),
    "scope_excluded__id": _linked(scope_excluded, "scope_id"),
    "deployment_included__id": _linked(deployment_included, "deployment_id"),
    "deployment_excluded__id": _linked(deployment_excluded, "deployment_id"),
    "singularity_included__id": _linked(singularity_included, "singularity_id"),
    "singularity_excluded__id": _linked(singularity_excluded, "singularity_id"),
    "computer__id": _linked(sync, "computer_id"),
}
TAG_FILTERS = {
    **ATTRIBUTE_FILTERS,
    "domain_tags__id": _linked(domain_tags, "domain_id"),
    "tags__id": _linked(computer_tags, "computer_id"),
}
ATTRIBUTE_ORDERING = {
    "id": Attribute.id,
    "property_att": Attribute.property_att_id,
    "property_att__prefix": Property.prefix,
    "value": Attribute.value,
    "description": Attribute.description,
    "latitude": Attribute.latitude,
    "longitude": Attribute.longitude,
}


# -- resources ------------------------------------------------------------------------------------


class AttributeSchema(Schema):
    value = text(VALUE_LEN)
    description = OptionalText()
    latitude = coordinate()
    longitude = coordinate()


class ClassifiedAttributeSchema(AttributeSchema):
    property_att = Integer()


class AttributeResource(Resource):
    """Every attribute. No create: the original routes POST, but its serializer makes
    ``property_att`` read-only so a create can never succeed; tags/ and features/ create."""

    path = "attributes"
    model = Attribute
    permission_model = "core.attribute"
    scoping = ByAttribute(Attribute.id)
    schema = AttributeSchema
    operations = frozenset({"list", "retrieve", "update", "partial_update", "destroy"})
    exportable = False
    filters = ATTRIBUTE_FILTERS
    search_fields = (Attribute.value, Attribute.description, Property.prefix)
    ordering = ATTRIBUTE_ORDERING
    default_ordering = ("property_att__prefix", "value")
    sorts: ClassVar[tuple[str, ...] | None] = None
    sort_message: ClassVar[str] = ""

    def query(self, request):
        # An explicit join (instead of the relationship's eager join) so that search, filters
        # and ordering can use the property's columns.
        query = (
            select(Attribute)
            .join(Attribute.property_att)
            .options(contains_eager(Attribute.property_att))
        )
        return query.where(Property.sort.in_(self.sorts)) if self.sorts else query

    def serialize(self, obj, request):
        return attribute_info(obj)

    def apply(self, request, obj, data, creating):
        # Read and check everything before changing obj: a query autoflushes pending changes.
        prop = obj.property_att if not creating else None
        if "property_att" in data:
            prop = load_row(request, Property, data["property_att"], "property_att")
            if prop.sort not in self.sorts:
                raise validation_error({"property_att": self.sort_message})
        value = required_text(data, "value") if "value" in data else obj.value
        changed = creating or value != obj.value or prop.id != obj.property_att_id
        if changed and not creating and obj.property_att.sort == BASIC:
            # Basic attributes are computed by the server at every sync (CID-<id>, the SET-<name>
            # mirrors of attribute sets, All Systems...): renaming one breaks what refers to it.
            raise validation_error({"value": "The value of a basic attribute cannot be changed."})
        if changed:
            ensure_unique(
                request,
                Attribute,
                "value",
                {"property_att_id": prop.id, "value": value},
                obj.id,
                "An attribute with this value already exists for the property.",
            )
        obj.property_att = prop
        obj.value = value
        for key in ("description", "latitude", "longitude"):
            if key in data:
                setattr(obj, key, data[key])

    def delete(self, request, obj):
        # FIX (F.17): the original answers 204 and keeps the row; say why nothing happens.
        if obj.property_att.sort == BASIC:
            raise bad_request("Basic attributes cannot be deleted")
        request.dbsession.delete(obj)


class ClassifiedResource(AttributeResource):
    """Tags and features: the property is shown with its name and rows count their computers."""

    schema = ClassifiedAttributeSchema
    operations = Resource.operations
    exportable = True
    filters = ATTRIBUTE_FILTERS

    def shape(self, obj, total: int) -> dict:
        return {
            "id": obj.id,
            "property_att": property_info(obj.property_att),
            "value": obj.value,
            "description": obj.description,
            "latitude": obj.latitude,
            "longitude": obj.longitude,
            "total_computers": total,
        }

    def serialize(self, obj, request):
        counts = count_computers(request.dbsession, [obj.id], request)
        return self.shape(obj, counts.get(obj.id, 0))

    def load_list(self, rows, request):
        counts = count_computers(request.dbsession, [row.id for row in rows], request)
        return [self.shape(row, counts.get(row.id, 0)) for row in rows]


class TagComputersSchema(Schema):
    computers = IdList(missing=colander.required)


class TagResource(ClassifiedResource):
    path = "tags"
    filters = TAG_FILTERS
    sorts = SERVER_SORTS
    sort_message = "The property must be a stamp (a property of sort server)."

    @action("computers", detail=True, methods=("GET", "PATCH"), permission="view")
    def computers(self, request, context):
        """GET: computers tagged and computers inflicted; PATCH: replace the tagged computers."""
        tag = context.obj
        if request.method == "PATCH":
            if not request.has_permission(self.permission("change"), context):
                raise HTTPForbidden()
            return self.replace_computers(request, tag)
        # Scoping (later): both lists keep only the caller's computers.
        session = request.dbsession
        tagged = exists(
            select(computer_tags.c.computer_id).where(
                computer_tags.c.computer_id == Computer.id, computer_tags.c.attribute_id == tag.id
            )
        )
        synced = exists(
            select(sync.c.computer_id).where(
                sync.c.computer_id == Computer.id, sync.c.attribute_id == tag.id
            )
        )
        productive = (
            select(Computer).where(Computer.status.in_(PRODUCTIVE_ORDERED)).order_by(Computer.id)
        )
        return {
            "computers": [computer_info(c) for c in session.scalars(productive.where(tagged))],
            "inflicted": [
                computer_info(c) for c in session.scalars(productive.where(synced, ~tagged))
            ],
        }

    def replace_computers(self, request, tag) -> Response:
        # "computers" is required: a typo in the body must not untag every computer. Like the
        # original, the new list replaces the whole set, whatever the computers' status.
        data = validate(TagComputersSchema(), json_body(request))
        computers = load_rows(request, Computer, data["computers"], "computers")
        session = request.dbsession
        session.execute(delete(computer_tags).where(computer_tags.c.attribute_id == tag.id))
        if computers:
            session.execute(
                insert(computer_tags),
                [{"computer_id": c.id, "attribute_id": tag.id} for c in computers],
            )
        # Tag lists already loaded in this session no longer match the table.
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Computer):
                session.expire(obj, ["tags"])
        return Response(status=204)


class FeatureResource(ClassifiedResource):
    # GET|PUT|PATCH {id}/logical-devices/ belongs to the devices addon, which adds it.
    path = "features"
    sorts = CLIENT_SORTS
    sort_message = "The property must be a formula (a property of sort client or basic)."


def includeme(config) -> None:
    from .attribute_sets import AttributeSetResource

    for resource in (AttributeResource, TagResource, FeatureResource, AttributeSetResource):
        config.register_resource(resource)
