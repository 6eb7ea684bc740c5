"""Loading the matching rules of the core (domains, attribute sets, deployments, fault
definitions) from the database into the plain dataclasses of ``migasfree_pyramid.domain``.

Each loader costs a fixed number of statements whatever the number of rows, so a sync call
costs the same with 5 deployments or 500: link tables are read in one pass (one UNION ALL for all
the tables a rule needs) and grouped here.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Boolean, Integer, String, cast, literal, null, select, union_all

from migasfree_addons.clients.models import (
    FaultDefinition,
    fault_definition_excluded,
    fault_definition_included,
)
from migasfree_pyramid.domain.attribute_sets import AttributeSetRule
from migasfree_pyramid.domain.matching import DelayRule, DeploymentRule, DomainRule
from migasfree_pyramid.models import Attribute, AttributeSet, Deployment, Domain, Property
from migasfree_pyramid.models.attributes import attribute_set_excluded, attribute_set_included
from migasfree_pyramid.models.computers import computer_sync_attributes, computer_tags
from migasfree_pyramid.models.deployments import deployment_excluded, deployment_included
from migasfree_pyramid.models.domains import domain_excluded, domain_included
from migasfree_pyramid.models.schedules import ScheduleDelay, schedule_delay_attributes


def _links(session, included, excluded, owner_col: str, owners=None):
    """``{owner id: (included ids, excluded ids)}`` from two link tables in one statement."""
    parts = []
    for table, side in ((included, "I"), (excluded, "E")):
        query = select(
            table.c[owner_col].label("owner"), table.c.attribute_id, literal(side).label("side")
        )
        if owners is not None:
            query = query.where(table.c[owner_col].in_(owners))
        parts.append(query)
    grouped: dict[int, tuple[set, set]] = defaultdict(lambda: (set(), set()))
    for owner, attribute_id, side in session.execute(union_all(*parts)):
        grouped[owner][0 if side == "I" else 1].add(attribute_id)
    return grouped


def computer_attribute_ids(session, computer_id: int) -> set[int]:
    """Tags plus sync attributes: the attribute list every rule uses (spec B.1)."""
    query = union_all(
        select(computer_tags.c.attribute_id).where(computer_tags.c.computer_id == computer_id),
        select(computer_sync_attributes.c.attribute_id).where(
            computer_sync_attributes.c.computer_id == computer_id
        ),
    )
    return set(session.scalars(query))


def domain_rules(session) -> list[DomainRule]:
    rows = session.execute(select(Domain.id, Domain.name).order_by(Domain.id)).all()
    links = _links(session, domain_included, domain_excluded, "domain_id")
    return [DomainRule(id_, name, *links[id_]) for id_, name in rows]


def attribute_set_rules(session) -> list[AttributeSetRule]:
    """Enabled and disabled sets with the id of their ``SET-<name>`` attribute."""
    set_prop = select(Property.id).where(Property.prefix == "SET").scalar_subquery()
    rows = session.execute(
        select(AttributeSet.id, AttributeSet.enabled, Attribute.id).join(
            Attribute,
            (Attribute.value == AttributeSet.name) & (Attribute.property_att_id == set_prop),
        )
    ).all()
    links = _links(session, attribute_set_included, attribute_set_excluded, "attributeset_id")
    return [
        AttributeSetRule(id_, attribute_id, enabled, *links[id_])
        for id_, enabled, attribute_id in rows
    ]


def set_and_domain_rules(session) -> tuple[list[AttributeSetRule], list[DomainRule]]:
    """``attribute_set_rules`` and ``domain_rules`` in one statement (``attributes/`` needs
    both on every sync). Rows: ``(kind, owner, attribute, enabled, name)``."""
    set_prop = select(Property.id).where(Property.prefix == "SET").scalar_subquery()
    no_flag, no_name = cast(null(), Boolean), cast(null(), String)
    parts = [
        select(literal("S"), AttributeSet.id, Attribute.id, AttributeSet.enabled, no_name).join(
            Attribute,
            (Attribute.value == AttributeSet.name) & (Attribute.property_att_id == set_prop),
        ),
        select(literal("D"), Domain.id, cast(null(), Integer), no_flag, Domain.name),
    ]
    for kind, table, owner in (
        ("SI", attribute_set_included, "attributeset_id"),
        ("SE", attribute_set_excluded, "attributeset_id"),
        ("DI", domain_included, "domain_id"),
        ("DE", domain_excluded, "domain_id"),
    ):
        parts.append(select(literal(kind), table.c[owner], table.c.attribute_id, no_flag, no_name))
    sets: dict[int, tuple[int, bool]] = {}
    domains: dict[int, str] = {}
    links: dict[tuple[str, int], tuple[set, set]] = defaultdict(lambda: (set(), set()))
    for kind, owner, attribute_id, enabled, name in session.execute(union_all(*parts)):
        if kind == "S":
            sets[owner] = (attribute_id, enabled)
        elif kind == "D":
            domains[owner] = name
        else:
            links[(kind[0], owner)][0 if kind[1] == "I" else 1].add(attribute_id)
    return (
        [
            AttributeSetRule(id_, attribute_id, enabled, *links[("S", id_)])
            for id_, (attribute_id, enabled) in sets.items()
        ],
        [DomainRule(id_, domains[id_], *links[("D", id_)]) for id_ in sorted(domains)],
    )


# What the sync reads of a deployment: matching, repositories, package lists. Plain rows (no ORM
# instances, no joined project/domain/schedule): the sync never writes them.
DEPLOYMENT_COLUMNS = (
    Deployment.id,
    Deployment.name,
    Deployment.slug,
    Deployment.project_id,
    Deployment.enabled,
    Deployment.domain_id,
    Deployment.schedule_id,
    Deployment.start_date,
    Deployment.source,
    Deployment.base_url,
    Deployment.options,
    Deployment.suite,
    Deployment.components,
    Deployment.packages_to_install,
    Deployment.packages_to_remove,
    Deployment.default_preincluded_packages,
    Deployment.default_included_packages,
    Deployment.default_excluded_packages,
)


def _deployment_links(session, ids, domain_ids, schedule_ids):
    """Everything matching needs besides the deployment rows, in one statement: their included
    and excluded attributes, those of their domains, and their schedules' delays with the
    delays' attributes. Rows are ``(kind, owner, attribute, delay id, delay, duration)``."""
    parts = []
    for kind, table, owner_col, owners in (
        ("DI", deployment_included, "deployment_id", ids),
        ("DE", deployment_excluded, "deployment_id", ids),
        ("MI", domain_included, "domain_id", domain_ids),
        ("ME", domain_excluded, "domain_id", domain_ids),
    ):
        if owners:
            parts.append(
                select(
                    literal(kind).label("kind"),
                    table.c[owner_col].label("owner"),
                    table.c.attribute_id,
                    cast(null(), Integer).label("delay_id"),
                    cast(null(), Integer).label("delay"),
                    cast(null(), Integer).label("duration"),
                ).where(table.c[owner_col].in_(owners))
            )
    if schedule_ids:
        links = schedule_delay_attributes
        parts.append(
            select(
                literal("S").label("kind"),
                ScheduleDelay.schedule_id,
                links.c.attribute_id,
                ScheduleDelay.id,
                ScheduleDelay.delay,
                ScheduleDelay.duration,
            )
            .outerjoin(links, links.c.scheduledelay_id == ScheduleDelay.id)
            .where(ScheduleDelay.schedule_id.in_(schedule_ids))
        )
    return session.execute(union_all(*parts)).all() if parts else []


def deployment_rules(session, project_id: int, rows=None) -> list[tuple[DeploymentRule, Any]]:
    """Enabled deployments of a project with everything matching needs: two statements.

    ``rows`` (deployments already loaded, ORM or plain) replaces the first one."""
    if rows is None:
        rows = session.execute(
            select(*DEPLOYMENT_COLUMNS).where(
                Deployment.project_id == project_id, Deployment.enabled.is_(True)
            )
        ).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    domain_ids = sorted({row.domain_id for row in rows if row.domain_id})
    schedule_ids = sorted({row.schedule_id for row in rows if row.schedule_id})
    links: dict[int, tuple[set, set]] = defaultdict(lambda: (set(), set()))
    domain_links: dict[int, tuple[set, set]] = defaultdict(lambda: (set(), set()))
    delays: dict[int, tuple[int, int, set]] = {}
    for kind, owner, attribute_id, delay_id, delay, duration in _deployment_links(
        session, ids, domain_ids, schedule_ids
    ):
        if kind == "S":
            found = delays.setdefault(delay_id, (owner, delay, duration, set()))
            if attribute_id is not None:
                found[3].add(attribute_id)
        else:
            target = links if kind[0] == "D" else domain_links
            target[owner][0 if kind[1] == "I" else 1].add(attribute_id)
    domains = {d: DomainRule(d, "", *domain_links[d]) for d in domain_ids}
    by_schedule: dict[int, list[DelayRule]] = defaultdict(list)
    for schedule_id, delay, duration, attributes in delays.values():
        by_schedule[schedule_id].append(DelayRule(delay, duration, frozenset(attributes)))
    return [
        (
            DeploymentRule(
                id=row.id,
                name=row.name,
                project_id=row.project_id,
                enabled=row.enabled,
                domain=domains.get(row.domain_id),
                included=links[row.id][0],
                excluded=links[row.id][1],
                start_date=row.start_date,
                delays=tuple(by_schedule.get(row.schedule_id, ())),
            ),
            row,
        )
        for row in rows
    ]


def fault_definitions_for(session, attributes: set[int]) -> list:
    """Enabled definitions whose included attributes hit and excluded ones do not (B.10), in
    one statement (each definition with its links, outer-joined), ordered by name.

    Rows have ``id``, ``name``, ``language`` and ``code``."""
    links = union_all(
        select(
            fault_definition_included.c.faultdefinition_id.label("owner"),
            fault_definition_included.c.attribute_id,
            literal("I").label("side"),
        ),
        select(
            fault_definition_excluded.c.faultdefinition_id.label("owner"),
            fault_definition_excluded.c.attribute_id,
            literal("E").label("side"),
        ),
    ).subquery()
    rows = session.execute(
        select(
            FaultDefinition.id,
            FaultDefinition.name,
            FaultDefinition.language,
            FaultDefinition.code,
            links.c.attribute_id,
            links.c.side,
        )
        .outerjoin(links, links.c.owner == FaultDefinition.id)
        .where(FaultDefinition.enabled.is_(True))
        .order_by(FaultDefinition.name)
    ).all()
    definitions: dict[int, tuple] = {}
    grouped: dict[int, tuple[set, set]] = defaultdict(lambda: (set(), set()))
    for row in rows:
        definitions.setdefault(row.id, row)
        if row.attribute_id is not None:
            grouped[row.id][0 if row.side == "I" else 1].add(row.attribute_id)
    return [
        row
        for id_, row in definitions.items()
        if not attributes.isdisjoint(grouped[id_][0]) and attributes.isdisjoint(grouped[id_][1])
    ]
