"""``computers/attributes/``: rebuilding a computer's sync attributes (protocol-v5 7.1, B.2).

Order: client properties by kind, the computer's tags by kind, basic attributes, then
attribute sets, domains (``DMN-<name>``) and the sets again (a set may name a domain and a domain
a set). The original evaluated domains right after the client
properties (spec F.5), so a domain defined by a basic attribute (``PRJ-...``) or reached through
a sub-tag (``DMN-NORTH.lab`` expanding to ``DMN-NORTH``) never matched at sync time while the
admin scoping did; evaluating them on the complete list makes both agree.

A fixed number of statements whatever the number of attributes: properties, tags and the rule
tables are read once; attributes are fetched and created in bulk; the link table is diffed.
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select

from migasfree_pyramid.domain.attribute_sets import evaluate_sets
from migasfree_pyramid.domain.attributes import (
    AttributeValue,
    basic_attribute_values,
    expand_attribute_values,
    split_value_description,
)
from migasfree_pyramid.domain.matching import domain_tag_value, matching_domains
from migasfree_pyramid.models import Attribute, ClientUser, Notification, Property
from migasfree_pyramid.models.attributes import ALL_SYSTEMS_VALUE
from migasfree_pyramid.models.computers import computer_sync_attributes, computer_tags
from migasfree_pyramid.models.meta import utcnow
from migasfree_pyramid.services.attributes import bulk_get_or_create

from . import rules
from .network import client_ip

DOMAIN_PROPERTY = {"prefix": "DMN", "name": "DOMAIN", "sort": "server", "kind": "L"}


def sync_user(request, name: str, fullname: str, current: ClientUser | None = None) -> ClientUser:
    """The client user called ``name`` (created when new); ``current``, the computer's user
    (already loaded with it), spares the lookup when it is the same one, as on most syncs."""
    session = request.dbsession
    if current is not None and current.name == name:
        if fullname and current.fullname != fullname:
            current.fullname = fullname
        return current
    user = session.scalars(
        select(ClientUser).where(ClientUser.name == name).order_by(ClientUser.id)
    ).first()
    if user is None:
        user = ClientUser(name=name, fullname=fullname)
        session.add(user)
        session.add(Notification(message=f"User [{name}] registered by IP [{client_ip(request)}]."))
        session.flush()
    elif fullname and user.fullname != fullname:
        user.fullname = fullname
    return user


def tag_values(session, computer_id: int, properties: dict) -> list[tuple]:
    """The computer's tags whose property is enabled, as ``(property, raw value)``."""
    by_id = {prop.id: prop for prop in properties.values()}
    rows = session.execute(
        select(Attribute.property_att_id, Attribute.value)
        .join(computer_tags, computer_tags.c.attribute_id == Attribute.id)
        .where(computer_tags.c.computer_id == computer_id)
    ).all()
    found = [(by_id.get(prop_id), value) for prop_id, value in rows]
    return [(prop, value) for prop, value in found if prop is not None and prop.enabled]


# Plain rows (read-only here): an ORM Property per row costs more than the rest of the loop.
PROPERTY_COLUMNS = (
    Property.id,
    Property.prefix,
    Property.enabled,
    Property.kind,
    Property.sort,
    Property.auto_add,
)


def rebuild(request, computer, claims: dict) -> list[int]:
    """Recompute and store the computer's sync attributes; returns their ids."""
    session = request.dbsession
    properties = {p.prefix: p for p in session.execute(select(*PROPERTY_COLUMNS))}
    items: list[tuple[Property, AttributeValue, bool]] = []

    reported = claims.get("sync_attributes") or {}
    for prefix, value in reported.items() if isinstance(reported, dict) else ():
        prop = properties.get(prefix)
        # Unknown prefixes (a formula deleted meanwhile) are skipped instead of failing the sync.
        if prop is None or prop.sort != "client" or not prop.enabled or not isinstance(value, str):
            continue
        items += [
            (prop, parsed, False) for parsed in expand_attribute_values(prop.kind, prop.sort, value)
        ]

    for prop, value in tag_values(session, computer.id, properties):
        items += [
            (prop, parsed, True) for parsed in expand_attribute_values(prop.kind, prop.sort, value)
        ]

    enabled_basic = {p.prefix for p in properties.values() if p.sort == "basic" and p.enabled}
    user = computer.sync_user
    for basic in basic_attribute_values(
        computer.id,
        computer.ip_address,
        computer.project.name,
        computer.project.platform.name,
        user.name if user else None,
        computer.name or "",
        enabled_basic,
    ):
        parsed = split_value_description(basic.value, basic.description)
        if basic.prefix == "CID":
            parsed = AttributeValue(basic.value, basic.description, False, basic.value)
        items.append((properties[basic.prefix], parsed, True))

    ids_by_key = bulk_get_or_create(session, items)
    attribute_ids = list(
        dict.fromkeys(
            ids_by_key[(p.id, v.value)] for p, v, _ in items if (p.id, v.value) in ids_by_key
        )
    )
    all_systems = (
        ids_by_key.get((properties["SET"].id, ALL_SYSTEMS_VALUE)) if "SET" in properties else None
    ) or 0
    set_rules, domain_rules = rules.set_and_domain_rules(session)
    # Sets, then domains (which may be defined by a SET-<name>), then sets again (which may be
    # defined by a DMN-<name>). Exclusions make this non-monotonic, so two passes, no fixpoint.
    base = set(attribute_ids)
    first_sets = evaluate_sets(set_rules, base, all_systems)
    domains = matching_domains(domain_rules, base | set(first_sets))
    domain_ids: list[int] = []
    if domains:
        dmn = properties.get("DMN") or _domain_property(session)
        domain_items = [
            (dmn, AttributeValue(domain_tag_value(d.name), "", False, d.name), True)
            for d in domains
        ]
        found = bulk_get_or_create(session, domain_items)
        domain_ids = [found[(dmn.id, value.value)] for _, value, _ in domain_items]
    sets = evaluate_sets(set_rules, base | set(domain_ids), all_systems) if domains else first_sets
    attribute_ids += domain_ids + sets
    attribute_ids = list(dict.fromkeys(attribute_ids))
    cid = properties.get("CID")
    cid_id = ids_by_key.get((cid.id, str(computer.id))) if cid is not None else None
    cid_description = _store(session, computer.id, attribute_ids, cid_id)
    if cid_description != computer.name:
        _refresh_cid_description(session, cid, computer)
    return attribute_ids


def _domain_property(session) -> Property:
    prop = Property(**DOMAIN_PROPERTY, enabled=True, auto_add=True)
    session.add(prop)
    session.flush()
    return prop


NOT_LINKED = object()


def _store(session, computer_id: int, attribute_ids: list[int], cid_id: int | None):
    """Diff the link table instead of rewriting it: most syncs change nothing.

    Returns the description of the attribute ``cid_id`` if it was linked (read in the same
    statement), so that the CID description is only written when it is stale."""
    link = computer_sync_attributes
    rows = session.execute(
        select(link.c.attribute_id, Attribute.description)
        .join(Attribute, Attribute.id == link.c.attribute_id)
        .where(link.c.computer_id == computer_id)
    ).all()
    current = {row[0] for row in rows}
    cid_description = next((row[1] for row in rows if row[0] == cid_id), NOT_LINKED)
    wanted = set(attribute_ids)
    if current - wanted:
        session.execute(
            delete(link).where(
                link.c.computer_id == computer_id, link.c.attribute_id.in_(current - wanted)
            )
        )
    if wanted - current:
        session.execute(
            insert(link),
            [{"computer_id": computer_id, "attribute_id": a} for a in wanted - current],
        )
    return cid_description


def _refresh_cid_description(session, cid_property, computer) -> None:
    if cid_property is None or not computer.name:
        return
    from sqlalchemy import update

    session.execute(
        update(Attribute)
        .where(
            Attribute.property_att_id == cid_property.id,
            Attribute.value == str(computer.id),
            Attribute.description.is_distinct_from(computer.name),
        )
        .values(description=computer.name)
    )


def _uuid_taken(session, uuid: str, computer_id: int) -> bool:
    """Another computer owns this uuid: keep ours rather than break the unique constraint."""
    from migasfree_pyramid.models import Computer

    query = select(Computer.id).where(Computer.uuid == uuid, Computer.id != computer_id)
    return session.scalars(query.limit(1)).first() is not None


def process(request, computer, claims: dict) -> None:
    """The whole ``attributes/`` call: identity fields, sync user, attributes."""
    for key, limit in (
        ("uuid", 36),
        ("name", 50),
        ("fqdn", 255),
        ("sync_user", 50),
        ("sync_fullname", 100),
    ):
        value = claims.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            from .safe import SafeError

            raise SafeError(
                400, {key: [f"Ensure this field is a string of at most {limit} characters."]}
            )
    from .registration import ip_claim

    ip = ip_claim(claims)
    uuid = claims.get("uuid")
    if uuid and uuid != computer.uuid and not _uuid_taken(request.dbsession, uuid, computer.id):
        computer.uuid = uuid
    if claims.get("name"):
        computer.name = claims["name"]
    if claims.get("fqdn") is not None:
        computer.fqdn = claims["fqdn"]
    if ip:
        computer.ip_address = ip
    computer.forwarded_ip_address = client_ip(request)
    if claims.get("sync_user"):
        computer.sync_user = sync_user(
            request, claims["sync_user"], claims.get("sync_fullname") or "", computer.sync_user
        )
    computer.sync_start_date = utcnow()
    request.dbsession.flush()
    rebuild(request, computer, claims)
