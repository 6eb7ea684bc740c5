"""Domains and scopes (spec D.3, A.1.10, A.1.13, B.4, C.4, C.6)."""

from __future__ import annotations

import colander
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..api import Resource
from ..api.errors import validation_error
from ..api.filters import Filter, compare, like_pattern, related
from ..api.related import ensure_unique, load_row, load_rows
from ..api.schemas import IdList, Integer, Schema, Text
from ..domain.matching import DOMAIN_PREFIX, normalize_domain_name
from ..models import Attribute, Domain, Property, Scope, UserProfile
from ..models.domains import domain_excluded, domain_included
from ..scoping import Custom
from ..text import slugify
from .nested import attributes, named, user_info

DOMAIN_PROPERTY_NAME = "DOMAIN"
NAME_MAX = 50


def _caller(request) -> UserProfile | None:
    """The admin user behind the request (None for anonymous callers and agents)."""
    return getattr(request.identity, "user", None)


def checked_name(name: str) -> str:
    """A normalised name must still be usable (ASCII folding can empty or lengthen it)."""
    if not name:
        raise validation_error({"name": "The name must contain letters or digits."})
    if len(name) > NAME_MAX:
        raise validation_error(
            {"name": f"Ensure this field has no more than {NAME_MAX} characters."}
        )
    return name


# -- the DMN attribute that mirrors every domain (B.4) -----------------------------------------


def domain_property(session) -> Property:
    """The server property ``DMN`` (get-or-create, as the original's post-save signal does)."""
    prop = session.scalars(select(Property).where(Property.prefix == DOMAIN_PREFIX)).first()
    if prop is None:
        prop = Property(
            prefix=DOMAIN_PREFIX, name=DOMAIN_PROPERTY_NAME, sort="server", kind="L", auto_add=True
        )
        session.add(prop)
        session.flush()
    return prop


def domain_attributes(session, prop: Property, name: str) -> list[Attribute]:
    """``DMN-<name>`` and its sub-tags ``DMN-<name>.<x>``."""
    return list(
        session.scalars(
            select(Attribute).where(
                Attribute.property_att_id == prop.id,
                (Attribute.value == name)
                | Attribute.value.like(like_pattern(name + ".", prefix=False), escape="\\"),
            )
        )
    )


def rename_domain_attributes(session, prop: Property, old: str, new: str) -> None:
    """Rename ``DMN-<old>`` and its sub-tags so that tagged computers stay in the domain."""
    moving = domain_attributes(session, prop, old)
    wanted = {new + a.value[len(old) :]: a for a in moving}
    if not wanted:
        return
    taken = session.scalars(
        select(Attribute.value).where(
            Attribute.property_att_id == prop.id, Attribute.value.in_(list(wanted))
        )
    ).all()
    if taken:
        # Merging two attributes would silently drop the computers tagged with one of them.
        raise validation_error(
            {"name": f"The attribute {DOMAIN_PREFIX}-{taken[0]} already exists; remove it first."}
        )
    for value, attribute in wanted.items():
        attribute.value = value


def domain_attribute(session, prop: Property, name: str) -> Attribute:
    attribute = session.scalars(
        select(Attribute).where(Attribute.property_att_id == prop.id, Attribute.value == name)
    ).first()
    if attribute is None:
        attribute = Attribute(property_att=prop, value=name, description="")
        session.add(attribute)
        session.flush()
    return attribute


# -- domains -----------------------------------------------------------------------------------


class DomainSchema(Schema):
    name = Text(NAME_MAX)
    comment = Text(required=False, nullable=True)
    included_attributes = IdList()
    excluded_attributes = IdList()
    tags = IdList()
    # Write-only. Absent means "leave the admins alone" (not "remove them all"): a client that
    # PUTs a domain without knowing this field must not strip its administrators.
    domain_admins = IdList(missing=colander.drop)


def _domain_link(table):
    return Filter(
        type="int",
        lookups=("exact", "in"),
        clause=related(table.c.domain_id, table.c.attribute_id, owner_id=Domain.id),
    )


class DomainResource(Resource):
    path = "domains"
    model = Domain
    permission_model = "core.domain"
    scoping = Custom(
        lambda request, query, vis: query.where(Domain.id.in_(vis.domain_ids)),
        "the domains the user administers",
    )
    schema = DomainSchema
    filters = {
        "id": Filter(Domain.id, "int", ("exact", "in")),
        "name": Filter(Domain.name, "str", ("exact", "icontains")),
        "included_attributes__id": _domain_link(domain_included),
        "excluded_attributes__id": _domain_link(domain_excluded),
    }
    search_fields = (Domain.name,)
    ordering = {"id": Domain.id, "name": Domain.name, "comment": Domain.comment}
    default_ordering = ("name",)
    detail_options = (
        selectinload(Domain.included_attributes),
        selectinload(Domain.excluded_attributes),
        selectinload(Domain.tags),
        selectinload(Domain.admins),
    )

    def serialize_list(self, obj, request):
        return {"id": obj.id, "name": obj.name, "comment": obj.comment}

    def serialize(self, obj, request):
        return {
            **self.serialize_list(obj, request),
            "included_attributes": attributes(obj.included_attributes),
            "excluded_attributes": attributes(obj.excluded_attributes),
            "tags": attributes(obj.tags),
            "domain_admins": [
                user_info(user)
                for user in sorted(obj.admins, key=lambda u: u.username)
                # A delegated admin sees only their own account, here as in user-profiles/.
                if request.visibility is None or user.id == request.visibility.user_id
            ],
        }

    def apply(self, request, obj, data, creating):
        session = request.dbsession
        # Validate everything first: a failed request must not leave half-linked rows behind.
        name = obj.name
        if "name" in data:
            name = checked_name(normalize_domain_name(data["name"]))
            ensure_unique(
                request,
                Domain,
                "name",
                {"name": name},
                obj.id,
                "domain with this name already exists.",
            )
        links = self._load_links(request, data)
        prop = domain_property(session)
        if not creating and name != obj.name:
            rename_domain_attributes(session, prop, obj.name, name)
        obj.name = name
        # Before any relationship is assigned: this may flush, and a new domain must not be
        # flushed half-linked.
        own = domain_attribute(session, prop, name)
        with session.no_autoflush:
            for field, rows in links.items():
                setattr(obj, field, rows)
            # A domain always includes its own tag, whatever list the client sent (B.4).
            if own not in obj.included_attributes:
                obj.included_attributes.append(own)
        if "comment" in data:
            obj.comment = data["comment"]

    def _load_links(self, request, data) -> dict[str, list]:
        links = {}
        for field in ("included_attributes", "excluded_attributes", "tags"):
            if field in data:
                links[field] = load_rows(request, Attribute, data[field], field)
        wrong = [t for t in links.get("tags", []) if t.property_att.sort != "server"]
        if wrong:
            raise validation_error({"tags": f"{wrong[0]} is not a tag (server attribute)."})
        if "domain_admins" in data:
            links["admins"] = load_rows(
                request, UserProfile, data["domain_admins"], "domain_admins"
            )
        return links

    def delete(self, request, obj):
        session = request.dbsession
        name = obj.name
        session.delete(obj)
        # The domain's link rows go first; deleting the tags afterwards cannot collide with them.
        session.flush()
        prop = session.scalars(select(Property).where(Property.prefix == DOMAIN_PREFIX)).first()
        if prop is not None:
            for attribute in domain_attributes(session, prop, name):
                session.delete(attribute)


# -- scopes ------------------------------------------------------------------------------------


class ScopeSchema(Schema):
    # Optional: a scope belongs to its creator unless a superuser names another owner.
    user = Integer(required=False, nullable=True)
    name = Text(NAME_MAX)
    domain = Integer(required=False, nullable=True)
    included_attributes = IdList()
    excluded_attributes = IdList()


def _username(lookup: str, value):
    return Scope.user_id.in_(
        select(UserProfile.id).where(compare(UserProfile.username, lookup, value))
    )


def scope_scopes(request, query, vis):
    """Besides ownership (``ScopeResource.scope``): scopes of a domain in view, or of none."""
    if not vis.domain_ids:
        return query
    return query.where(Scope.domain_id.is_(None) | Scope.domain_id.in_(vis.domain_ids))


class ScopeResource(Resource):
    path = "scopes"
    model = Scope
    permission_model = "core.scope"
    scoping = Custom(scope_scopes, "own scopes, of the domain(s) in view or of none")
    schema = ScopeSchema
    filters = {
        "id": Filter(Scope.id, "int", ("exact", "in")),
        "name": Filter(Scope.name, "str", ("exact", "icontains")),
        "user": Filter(Scope.user_id, "int", ("exact", "in")),
        "user__id": Filter(Scope.user_id, "int", ("exact", "in")),
        "user__username": Filter(type="str", lookups=("exact", "icontains"), clause=_username),
        "domain__id": Filter(Scope.domain_id, "int", ("exact", "in", "isnull")),
    }
    search_fields = (Scope.name,)
    ordering = {
        "id": Scope.id,
        "name": Scope.name,
        "user": Scope.user_id,
        "domain": Scope.domain_id,
    }
    default_ordering = ("name",)
    detail_options = (
        selectinload(Scope.included_attributes),
        selectinload(Scope.excluded_attributes),
    )

    def scope(self, request, query):
        # Ownership, not domain visibility: a scope is a private saved filter (C.4, C.6), so a
        # non-superuser only ever sees, edits or deletes their own. Others' are plain 404s.
        user = _caller(request)
        if user is None:
            # No caller: nothing narrows the query and the ACL answers 401, as on every other
            # resource (an empty result would be a misleading 404).
            return query
        if user.is_superuser:
            return query
        return query.where(Scope.user_id == user.id)

    def serialize_list(self, obj, request):
        return {
            "id": obj.id,
            "name": obj.name,
            "user": user_info(obj.user),
            "domain": named(obj.domain),
        }

    def serialize(self, obj, request):
        return {
            **self.serialize_list(obj, request),
            "included_attributes": attributes(obj.included_attributes),
            "excluded_attributes": attributes(obj.excluded_attributes),
        }

    def _owner(self, request, obj, data, creating) -> UserProfile:
        caller = _caller(request)
        wanted = data.get("user")
        if wanted is None:
            return caller if creating else obj.user
        if not caller.is_superuser and wanted != caller.id:
            raise validation_error({"user": "You can only own your scopes."})
        return load_row(request, UserProfile, wanted, "user")

    def apply(self, request, obj, data, creating):
        # Validate before touching the row: a query below must not autoflush a half-changed
        # scope into the unique constraint (that would be a 500, not a 400).
        owner = self._owner(request, obj, data, creating)
        domain = obj.domain
        if "domain" in data:
            domain = load_row(request, Domain, data["domain"], "domain")
        name = checked_name(slugify(data["name"])) if "name" in data else obj.name
        # (name, domain, user) is unique, and (name, user) when there is no domain; filter_by
        # turns a None domain into IS NULL, so one check covers both.
        ensure_unique(
            request,
            Scope,
            "name",
            {"name": name, "domain_id": domain.id if domain else None, "user_id": owner.id},
            obj.id,
            "A scope with this name already exists for this user and domain.",
        )
        links = {
            field: load_rows(request, Attribute, data[field], field)
            for field in ("included_attributes", "excluded_attributes")
            if field in data
        }
        obj.user, obj.domain, obj.name = owner, domain, name
        for field, rows in links.items():
            setattr(obj, field, rows)


def includeme(config) -> None:
    for resource in (DomainResource, ScopeResource):
        config.register_resource(resource)
