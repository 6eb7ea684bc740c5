"""Properties, formulas, stamps and singularities (spec A.1.1, A.1.14, D.3).

One table, three routes: ``properties/`` shows every property, ``formulas/`` the ones clients run
(sort client, plus the basic ones the server computes), ``stamps/`` the tag categories (sort
server). The three share the permission ``core.*_property`` (the original checked proxy
permissions that no group grants, spec C.2).
"""

from __future__ import annotations

import re
from typing import ClassVar

import colander
from sqlalchemy import case, select
from sqlalchemy.orm import contains_eager, selectinload

from ..api import Resource, action
from ..api.errors import bad_request, validation_error
from ..api.filters import Filter, related
from ..api.related import ensure_unique, load_row, load_rows
from ..api.schemas import Boolean, Choice, IdList, Integer, OptionalText, Schema
from ..domain.attributes import KINDS, SORTS, PropertySort
from ..models import LANGUAGES, PROPERTY_KINDS, Attribute, Property, Singularity
from ..models.attributes import PREFIX_LEN, singularity_excluded, singularity_included
from ..scoping import ByLinkedAttribute, Unscoped
from .attributes import CLIENT_SORTS, required_text, text
from .nested import attributes, property_info

BASIC = PropertySort.BASIC.value
CLIENT = PropertySort.CLIENT.value
SERVER = PropertySort.SERVER.value
PREFIX_PATTERN = re.compile(rf"[A-Z0-9]{{1,{PREFIX_LEN}}}")
# Search by the language's name ("python"), not by its stored number.
LANGUAGE_NAME = case(LANGUAGES, value=Property.language, else_="")


def language_field():
    return Integer(
        required=False, minimum=min(LANGUAGES), maximum=max(LANGUAGES), missing=colander.drop
    )


def plain_code(code: str | None) -> str | None:
    """Code as clients run it: Windows line ends would break bash and python scripts."""
    return code.replace("\r\n", "\n") if code else code


def _property_related(column, target) -> Filter:
    return Filter(
        type="int", lookups=("exact", "in"), clause=related(column, target, owner_id=Property.id)
    )


PROPERTY_FILTERS = {
    "id": Filter(Property.id, "int", ("exact", "in")),
    "prefix": Filter(Property.prefix, "str", ("exact", "icontains", "in")),
    "name": Filter(Property.name, "str", ("exact", "icontains")),
    "enabled": Filter(Property.enabled, "bool"),
    "sort": Filter(Property.sort, "str"),
    "kind": Filter(Property.kind, "str"),
    "singularity__id": _property_related(Singularity.property_att_id, Singularity.id),
    "attribute__id": _property_related(Attribute.property_att_id, Attribute.id),
}
PROPERTY_ORDERING = {
    name: getattr(Property, name)
    for name in ("id", "prefix", "name", "enabled", "kind", "sort", "auto_add", "language", "code")
}


class PropertySchema(Schema):
    prefix = text(PREFIX_LEN)
    name = text(50)
    enabled = Boolean(missing=colander.drop)
    kind = Choice(KINDS, required=False, missing=colander.drop)
    sort = Choice(SORTS, required=False, missing=colander.drop)
    auto_add = Boolean(missing=colander.drop)
    language = language_field()
    code = OptionalText()


class FormulaSchema(Schema):
    prefix = text(PREFIX_LEN)
    name = text(50)
    kind = Choice(KINDS, required=False, missing=colander.drop)
    enabled = Boolean(missing=colander.drop)
    language = language_field()
    code = text()


class StampSchema(Schema):
    prefix = text(PREFIX_LEN)
    name = text(50)
    kind = Choice(KINDS, required=False, missing=colander.drop)
    enabled = Boolean(missing=colander.drop)


class BasePropertyResource(Resource):
    """What the three property routes share; subclasses decide the sort and the code."""

    model = Property
    permission_model = "core.property"
    scoping = Unscoped("formulas and stamps are definitions shared by every domain")
    schema = PropertySchema
    exportable = False
    filters = PROPERTY_FILTERS
    search_fields = (Property.name, LANGUAGE_NAME, Property.code)
    ordering = PROPERTY_ORDERING
    default_ordering = ("prefix", "name")
    sorts: ClassVar[tuple[str, ...] | None] = None

    def query(self, request):
        query = select(Property)
        return query.where(Property.sort.in_(self.sorts)) if self.sorts else query

    def serialize(self, obj, request):
        return {
            "id": obj.id,
            "prefix": obj.prefix,
            "name": obj.name,
            "enabled": obj.enabled,
            "kind": obj.kind,
            "sort": obj.sort,
            "auto_add": obj.auto_add,
            "language": LANGUAGES.get(obj.language),
            "code": obj.code,
        }

    def new_sort(self, obj, data, creating) -> str:
        """The sort after this write. FIX (F.17): basic properties stay basic; only the server
        defines them (a user-made basic property could never be deleted)."""
        current = None if creating else obj.sort
        wanted = data.get("sort", current or CLIENT)
        if wanted == current:
            return wanted
        if current == BASIC:
            raise validation_error({"sort": "The sort of a basic property cannot be changed."})
        if wanted == BASIC:
            raise validation_error({"sort": "Basic properties are built in: use client or server."})
        return wanted

    def new_prefix(self, request, obj, data) -> str:
        prefix = required_text(data, "prefix")
        if prefix == obj.prefix:
            return prefix
        if obj.sort == BASIC:
            # Clients and the sync code know basic properties by their prefix (CID, SET...).
            raise validation_error({"prefix": "The prefix of a basic property cannot be changed."})
        if not PREFIX_PATTERN.fullmatch(prefix):
            raise validation_error(
                {"prefix": f"Use 1 to {PREFIX_LEN} uppercase letters or digits."}
            )
        ensure_unique(
            request,
            Property,
            "prefix",
            {"prefix": prefix},
            obj.id,
            "property with this prefix already exists.",
        )
        return prefix

    def new_code(self, obj, data, sort: str) -> str | None:
        return plain_code(data["code"]) if "code" in data else obj.code

    def apply(self, request, obj, data, creating):
        sort = self.new_sort(obj, data, creating)
        prefix = self.new_prefix(request, obj, data) if "prefix" in data else obj.prefix
        name = required_text(data, "name") if "name" in data else obj.name
        obj.code = self.new_code(obj, data, sort)
        obj.sort, obj.prefix, obj.name = sort, prefix, name
        for key in ("enabled", "kind", "auto_add", "language"):
            if key in data:
                setattr(obj, key, data[key])

    def delete(self, request, obj):
        # FIX (F.17): the original answered 204 and kept the row.
        if obj.sort == BASIC:
            raise bad_request("Basic properties cannot be deleted")
        request.dbsession.delete(obj)


class PropertyResource(BasePropertyResource):
    path = "properties"

    @action("kind", detail=False, permission="view")
    def kind(self, request, context):
        """The property kinds: ``{code: label}``."""
        return dict(PROPERTY_KINDS)


class FormulaResource(BasePropertyResource):
    path = "formulas"
    schema = FormulaSchema
    exportable = True
    filters = {**PROPERTY_FILTERS, "language": Filter(Property.language, "int", ("exact", "in"))}
    search_fields = (Property.name, Property.prefix)
    default_ordering = ("name",)
    sorts = CLIENT_SORTS

    def serialize(self, obj, request):
        data = super().serialize(obj, request)
        del data["auto_add"]
        return data

    def new_sort(self, obj, data, creating):
        # New formulas are client formulas. FIX (F.17): saving a basic one keeps it basic.
        return CLIENT if creating else obj.sort

    def new_code(self, obj, data, sort):
        if "code" in data and not data["code"].strip():
            raise validation_error({"code": "This field may not be blank."})
        return super().new_code(obj, data, sort)


class StampResource(BasePropertyResource):
    path = "stamps"
    schema = StampSchema
    exportable = True
    search_fields = (Property.name, Property.prefix)
    default_ordering = ("name",)
    sorts = (SERVER,)

    def serialize(self, obj, request):
        return {
            "id": obj.id,
            "prefix": obj.prefix,
            "name": obj.name,
            "kind": obj.kind,
            "enabled": obj.enabled,
        }

    def new_sort(self, obj, data, creating):
        return SERVER

    def new_code(self, obj, data, sort):
        return ""  # tag categories run nothing on clients


class SingularitySchema(Schema):
    name = text(50)
    enabled = Boolean(missing=colander.drop)
    priority = Integer()
    property_att = Integer()
    language = language_field()
    code = OptionalText()
    included_attributes = IdList(missing=colander.drop)
    excluded_attributes = IdList(missing=colander.drop)


def _singularity_attributes(table) -> Filter:
    return Filter(
        type="int",
        lookups=("exact", "in"),
        clause=related(table.c.singularity_id, table.c.attribute_id, owner_id=Singularity.id),
    )


class SingularityResource(Resource):
    """Alternative code of a formula for some computers.

    Scoping is a later issue. FIX (F.1) intended then: the original filters singularity ids with
    attribute ids; a restricted user should see the singularities whose included attributes
    their computers carry.
    """

    path = "singularities"
    model = Singularity
    permission_model = "core.property"
    scoping = ByLinkedAttribute(
        Singularity.id, singularity_included.c.singularity_id, singularity_included.c.attribute_id
    )
    schema = SingularitySchema
    exportable = False
    filters = {
        "id": Filter(Singularity.id, "int", ("exact", "in")),
        "name": Filter(Singularity.name, "str", ("exact", "icontains")),
        "property_att__id": Filter(Singularity.property_att_id, "int", ("exact", "in")),
        "property_att__prefix": Filter(Property.prefix, "str", ("exact", "in")),
        "property_att__name": Filter(Property.name, "str", ("exact", "icontains")),
        "enabled": Filter(Singularity.enabled, "bool"),
        "included_attributes__id": _singularity_attributes(singularity_included),
        "excluded_attributes__id": _singularity_attributes(singularity_excluded),
    }
    search_fields = (Singularity.name, Property.name, Property.prefix)
    ordering = {
        "id": Singularity.id,
        "name": Singularity.name,
        "enabled": Singularity.enabled,
        "priority": Singularity.priority,
        "language": Singularity.language,
        "code": Singularity.code,
        "property_att": Singularity.property_att_id,
        "property_att__name": Property.name,
    }
    default_ordering = ("property_att__name", "-priority")
    list_options = detail_options = (
        selectinload(Singularity.included_attributes),
        selectinload(Singularity.excluded_attributes),
    )

    def query(self, request):
        # Joined explicitly so that search and ordering can use the property's columns.
        return (
            select(Singularity)
            .join(Singularity.property_att)
            .options(contains_eager(Singularity.property_att))
        )

    def serialize(self, obj, request):
        return {
            "id": obj.id,
            "name": obj.name,
            "enabled": obj.enabled,
            "priority": obj.priority,
            "property_att": property_info(obj.property_att),
            "language": LANGUAGES.get(obj.language),
            "code": obj.code,
            "included_attributes": attributes(obj.included_attributes),
            "excluded_attributes": attributes(obj.excluded_attributes),
        }

    def apply(self, request, obj, data, creating):
        # Every check runs before obj changes: queries autoflush pending changes.
        if "name" in data:
            data["name"] = required_text(data, "name")
            # The name is unique on its own, which also covers (name, property, priority).
            ensure_unique(
                request,
                Singularity,
                "name",
                {"name": data["name"]},
                obj.id,
                "singularity with this name already exists.",
            )
        if "property_att" in data:
            prop = load_row(request, Property, data["property_att"], "property_att")
            if prop.sort not in CLIENT_SORTS:
                raise validation_error(
                    {"property_att": "The property must be a formula (sort client or basic)."}
                )
            data["property_att"] = prop
        for field in ("included_attributes", "excluded_attributes"):
            if field in data:
                data[field] = load_rows(request, Attribute, data[field], field)
        if "code" in data:
            data["code"] = plain_code(data["code"])
        for key, value in data.items():
            setattr(obj, key, value)


def includeme(config) -> None:
    for resource in (PropertyResource, FormulaResource, StampResource, SingularityResource):
        config.register_resource(resource)
