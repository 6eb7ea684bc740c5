"""Tag endpoints of the client: ``tags/assigned/``, ``tags/available/``, ``tags/`` (spec B.7,
B.6 tag-change algorithm)."""

from __future__ import annotations

from collections import defaultdict

from cornice import Service
from sqlalchemy import or_, select

from migasfree_pyramid.domain.attributes import parse_prefixed_tag
from migasfree_pyramid.domain.matching import (
    available_deployments,
    domain_of_tag,
    is_domain_tag_value,
)
from migasfree_pyramid.domain.packages import DeploymentPackages, tag_change_packages
from migasfree_pyramid.models import Attribute, Computer, Deployment, Domain, Property
from migasfree_pyramid.models.computers import computer_tags
from migasfree_pyramid.models.deployments import deployment_included
from migasfree_pyramid.models.domains import domain_tags
from migasfree_pyramid.services.clock import today

from . import rules
from .safe import AgentPermission, ComputerContext, SafeError, reply

assigned = Service(
    name="safe.tags-assigned", path="/api/v1/safe/computers/tags/assigned/", factory=ComputerContext
)
available = Service(
    name="safe.tags-available",
    path="/api/v1/safe/computers/tags/available/",
    factory=ComputerContext,
)
set_tags = Service(name="safe.tags", path="/api/v1/safe/computers/tags/", factory=ComputerContext)


def tag_name(attribute: Attribute) -> str:
    return f"{attribute.property_att.prefix}-{attribute.value}"


def current_tags(session, computer_id: int) -> list[Attribute]:
    return session.scalars(
        select(Attribute)
        .join(computer_tags, computer_tags.c.attribute_id == Attribute.id)
        .where(computer_tags.c.computer_id == computer_id)
        .order_by(Attribute.id)
    ).all()


@assigned.post(permission=AgentPermission.SYNC)
def get_assigned(request):
    computer = request.context.computer
    return reply(request, [tag_name(t) for t in current_tags(request.dbsession, computer.id)])


@available.post(permission=AgentPermission.SYNC)
def get_available(request):
    """Tags a client may choose, grouped by property name (spec B.7)."""
    session = request.dbsession
    computer: Computer = request.context.computer
    found: dict[int, Attribute] = {}
    tags = current_tags(session, computer.id)
    # (a) the domains named by the computer's DMN tags: their own tags and sub-tags.
    domain_names = {domain_of_tag(t.value) for t in tags if t.property_att.prefix == "DMN"}
    # (c) the domains the computer belongs to.
    attrs = rules.computer_attribute_ids(session, computer.id)
    member_ids = [
        d.id
        for d in rules.domain_rules(session)
        if not attrs.isdisjoint(d.included) and attrs.isdisjoint(d.excluded)
    ]
    domains = (
        session.scalars(
            select(Domain).where(or_(Domain.name.in_(domain_names), Domain.id.in_(member_ids)))
        ).all()
        if (domain_names or member_ids)
        else []
    )
    if domains:
        wanted = [d.name for d in domains if d.name in domain_names]
        if wanted:
            dmn_tags = session.scalars(
                select(Attribute).join(Property).where(Property.prefix == "DMN")
            ).all()
            for attribute in dmn_tags:
                if any(is_domain_tag_value(name, attribute.value) for name in wanted):
                    found[attribute.id] = attribute
        ids = [d.id for d in domains]
        for attribute in session.scalars(
            select(Attribute)
            .join(domain_tags, domain_tags.c.attribute_id == Attribute.id)
            .where(domain_tags.c.domain_id.in_(ids))
        ):
            found[attribute.id] = attribute
    # (b) server tags included by the enabled deployments of the project.
    for attribute in session.scalars(
        select(Attribute)
        .join(Property, Property.id == Attribute.property_att_id)
        .join(deployment_included, deployment_included.c.attribute_id == Attribute.id)
        .join(Deployment, Deployment.id == deployment_included.c.deployment_id)
        .where(
            Deployment.project_id == computer.project_id,
            Deployment.enabled.is_(True),
            Property.sort == "server",
            Property.enabled.is_(True),
        )
    ):
        found[attribute.id] = attribute
    grouped: dict[str, list[str]] = defaultdict(list)
    for attribute in sorted(found.values(), key=lambda a: (a.property_att.name, a.value)):
        grouped[attribute.property_att.name].append(tag_name(attribute))
    return reply(request, dict(grouped))


def resolve_tags(session, names: list[str]) -> list[Attribute]:
    """Server-sort attributes named ``PREFIX-value`` (the original matched any sort, F.8)."""
    pairs = [parsed for parsed in map(parse_prefixed_tag, names) if parsed is not None]
    if not pairs:
        return []
    return session.scalars(
        select(Attribute)
        .join(Property, Property.id == Attribute.property_att_id)
        .where(
            Property.sort == "server",
            or_(*((Property.prefix == p) & (Attribute.value == v) for p, v in pairs)),
        )
    ).all()


def packages_of(rows) -> list[DeploymentPackages]:
    return [
        DeploymentPackages(
            row.packages_to_install,
            row.packages_to_remove,
            row.default_preincluded_packages,
            row.default_included_packages,
            row.default_excluded_packages,
        )
        for row in rows
    ]


@set_tags.post(permission=AgentPermission.SYNC)
def post_tags(request):
    from .endpoints import check_mtls

    context = request.context
    computer: Computer = context.computer
    check_mtls(request, computer)
    names = context.claims.get("tags")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SafeError(400, "Invalid tags")
    session = request.dbsession
    names = [n for n in names if n.strip()]
    new_tags = resolve_tags(session, names)
    if names and not new_tags:
        raise SafeError(400, "Invalid tags")
    before = {t.id for t in current_tags(session, computer.id)}
    after = {t.id for t in new_tags}
    computer.tags = list(new_tags)
    session.flush()
    pairs = rules.deployment_rules(session, computer.project_id)
    rule_list = [rule for rule, _ in pairs]
    rows = {rule.id: row for rule, row in pairs}
    day = today(request.registry.settings)

    def reached(attributes):
        chosen = available_deployments(rule_list, computer.id, computer.project_id, attributes, day)
        return [rows[rule.id] for rule in chosen]

    result = tag_change_packages(packages_of(reached(before - after)), packages_of(reached(after)))
    return reply(request, result)


def includeme(config) -> None:
    for service in (assigned, available, set_tags):
        config.add_cornice_service(service)
