"""Attribute sets (spec A.1.3, B.3): named combinations of attributes, mirrored as ``SET-<name>``.

The mirror attribute is how deployments, domains, faults... target a set, and how sets nest: a set
that includes or excludes ``SET-<other>`` depends on that other set. Edits that would close a
dependency cycle are refused (``domain.attribute_sets.check_no_cycle``).

Scoping is a later issue. FIX (F.1) intended then: the original filters set ids with attribute
ids; a restricted user should see the sets whose ``SET-<name>`` attribute their computers carry.
"""

from __future__ import annotations

import colander
from sqlalchemy import and_, exists, select
from sqlalchemy.orm import selectinload

from ..api import Resource
from ..api.errors import validation_error
from ..api.filters import Filter, related
from ..api.related import ensure_unique, load_rows
from ..api.schemas import Boolean, IdList, OptionalText, Schema
from ..domain.attribute_sets import AttributeSetRule, check_no_cycle
from ..domain.attributes import SET_PREFIX, PropertySort
from ..domain.graph import CircularDependency
from ..models import ALL_SYSTEMS_VALUE, Attribute, AttributeSet, Property
from ..models.attributes import attribute_set_excluded, attribute_set_included
from ..scoping import Custom
from .attributes import coordinate, required_text, text
from .nested import attributes

NEW_SET_ID = -1  # stands for a set being created in the dependency graph
NO_MIRROR = 0  # no attribute has id 0: a set without mirror cannot be referenced


class AttributeSetSchema(Schema):
    name = text(50)
    description = OptionalText()
    enabled = Boolean(missing=colander.drop)
    longitude = coordinate()
    latitude = coordinate()
    included_attributes = IdList(missing=colander.drop)
    excluded_attributes = IdList(missing=colander.drop)


def set_property(session) -> Property:
    """The basic property ``SET`` (seeded; recreated if someone removed it from the database)."""
    prop = session.scalars(select(Property).where(Property.prefix == SET_PREFIX)).first()
    if prop is None:
        prop = Property(prefix=SET_PREFIX, name="Attribute Set", sort=PropertySort.BASIC.value)
        session.add(prop)
    return prop


def mirror(session, prop: Property, name: str) -> Attribute | None:
    if prop.id is None:
        return None
    query = select(Attribute).where(Attribute.property_att_id == prop.id, Attribute.value == name)
    return session.scalars(query).first()


def load_rules(session, prop: Property) -> list[AttributeSetRule]:
    """Every set as the dependency rules see it: three statements."""
    mirrors = session.execute(
        select(AttributeSet.id, AttributeSet.enabled, Attribute.id).outerjoin(
            Attribute,
            and_(Attribute.value == AttributeSet.name, Attribute.property_att_id == prop.id),
        )
    ).all()
    links: dict[str, dict[int, set[int]]] = {"included": {}, "excluded": {}}
    for key, table in (("included", attribute_set_included), ("excluded", attribute_set_excluded)):
        for set_id, attribute_id in session.execute(
            select(table.c.attributeset_id, table.c.attribute_id)
        ):
            links[key].setdefault(set_id, set()).add(attribute_id)
    return [
        AttributeSetRule(
            set_id,
            attribute_id or NO_MIRROR,
            enabled,
            links["included"].get(set_id, ()),
            links["excluded"].get(set_id, ()),
        )
        for set_id, enabled, attribute_id in mirrors
    ]


def all_systems_id(session, prop: Property) -> int:
    found = mirror(session, prop, ALL_SYSTEMS_VALUE)
    return found.id if found else NO_MIRROR


def scope_attribute_sets(request, query, vis):
    """Sets whose ``SET-<name>`` attribute is in view. The original compared set ids with
    attribute ids (spec F.1) and showed arbitrary sets."""
    mirror = (
        select(Attribute.id)
        .join(Property, Property.id == Attribute.property_att_id)
        .where(Property.prefix == "SET", Attribute.value == AttributeSet.name)
        .where(vis.attribute_condition(Attribute.id))
    )
    return query.where(exists(mirror))


class AttributeSetResource(Resource):
    path = "attribute-sets"
    model = AttributeSet
    permission_model = "core.attributeset"
    scoping = Custom(scope_attribute_sets, "sets whose SET-<name> attribute is visible (F.1 fixed)")
    schema = AttributeSetSchema
    filters = {
        "id": Filter(AttributeSet.id, "int", ("exact", "in")),
        "name": Filter(AttributeSet.name, "str", ("exact", "icontains")),
        "enabled": Filter(AttributeSet.enabled, "bool"),
        "included_attributes__id": Filter(
            type="int",
            lookups=("exact", "in"),
            clause=related(
                attribute_set_included.c.attributeset_id,
                attribute_set_included.c.attribute_id,
                owner_id=AttributeSet.id,
            ),
        ),
        "excluded_attributes__id": Filter(
            type="int",
            lookups=("exact", "in"),
            clause=related(
                attribute_set_excluded.c.attributeset_id,
                attribute_set_excluded.c.attribute_id,
                owner_id=AttributeSet.id,
            ),
        ),
    }
    search_fields = (AttributeSet.name, AttributeSet.description)
    ordering = {
        "id": AttributeSet.id,
        "name": AttributeSet.name,
        "description": AttributeSet.description,
        "enabled": AttributeSet.enabled,
        "longitude": AttributeSet.longitude,
        "latitude": AttributeSet.latitude,
    }
    default_ordering = ("name",)
    list_options = detail_options = (
        selectinload(AttributeSet.included_attributes),
        selectinload(AttributeSet.excluded_attributes),
    )

    def serialize(self, obj, request):
        return {
            "id": obj.id,
            "name": obj.name,
            "description": obj.description,
            "enabled": obj.enabled,
            "included_attributes": attributes(obj.included_attributes),
            "excluded_attributes": attributes(obj.excluded_attributes),
            "longitude": obj.longitude,
            "latitude": obj.latitude,
        }

    def apply(self, request, obj, data, creating):
        # Every check runs before obj changes: queries autoflush pending changes.
        session = request.dbsession
        prop = set_property(session)
        name = obj.name
        if "name" in data:
            name = required_text(data, "name")
            if name.casefold() == ALL_SYSTEMS_VALUE.casefold():
                # Its mirror would be the All Systems attribute, which deleting the set deletes.
                raise validation_error({"name": f'"{ALL_SYSTEMS_VALUE}" is a reserved name.'})
            ensure_unique(
                request,
                AttributeSet,
                "name",
                {"name": name},
                obj.id,
                "attribute set with this name already exists.",
            )
        own = mirror(session, prop, obj.name if not creating else name)
        renamed = not creating and name != obj.name
        if renamed and mirror(session, prop, name) is not None:
            raise validation_error({"name": "Duplicated name"})
        lists = {}
        for field in ("included_attributes", "excluded_attributes"):
            if field in data:
                lists[field] = load_rows(request, Attribute, data[field], field)
                if own is not None and own in lists[field]:
                    raise validation_error({field: "A set cannot refer to its own attribute."})
        if own is not None and lists:
            self.check_cycles(session, prop, obj, name, own, lists)

        obj.name = name
        for key in ("description", "enabled", "longitude", "latitude"):
            if key in data:
                setattr(obj, key, data[key])
        for field, rows in lists.items():
            setattr(obj, field, rows)
        if own is None:
            session.add(Attribute(property_att=prop, value=name, description=""))
        elif renamed:
            own.value = name

    def check_cycles(self, session, prop, obj, name, own: Attribute, lists: dict) -> None:
        """400 when the new lists put the set on a dependency cycle (B.3)."""
        rules = load_rules(session, prop)
        set_id = obj.id if obj.id is not None else NEW_SET_ID
        if obj.id is None:
            rules.append(AttributeSetRule(NEW_SET_ID, own.id))
        new = {field: [a.id for a in rows] for field, rows in lists.items()}
        try:
            check_no_cycle(
                rules,
                set_id,
                new.get("included_attributes"),
                new.get("excluded_attributes"),
                all_systems_id(session, prop),
            )
        except CircularDependency as cycle:
            names = dict(session.execute(select(AttributeSet.id, AttributeSet.name)).all())
            names[set_id] = name
            mirrors = {r.attribute_id for r in rules if r.id in cycle.members}
            field = (
                "included_attributes"
                if mirrors & set(new.get("included_attributes", ()))
                else "excluded_attributes"
            )
            members = ", ".join(sorted(names[m] for m in cycle.members))
            raise validation_error({field: f"Review circular dependencies: {members}"}) from None

    def delete(self, request, obj):
        # The mirror goes with the set (the basic-attribute protection is for API deletes).
        session = request.dbsession
        own = mirror(session, set_property(session), obj.name)
        if own is not None:
            session.delete(own)
        session.delete(obj)
