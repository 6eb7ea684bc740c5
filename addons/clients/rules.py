"""Loading the matching rules of the core (domains, attribute sets, deployments, fault
definitions) from the database into the plain dataclasses of ``migasfree_pyramid.domain``.

Each loader costs a fixed number of statements whatever the number of rows, so a sync call
costs the same with 5 deployments or 500: link tables are read in one pass each and grouped here.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import literal, select, union_all

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


def deployment_rules(
    session, project_id: int, rows=None
) -> list[tuple[DeploymentRule, Deployment]]:
    """Enabled deployments of a project with everything matching needs: five statements."""
    if rows is None:
        rows = session.scalars(
            select(Deployment).where(
                Deployment.project_id == project_id, Deployment.enabled.is_(True)
            )
        ).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    links = _links(session, deployment_included, deployment_excluded, "deployment_id", ids)
    domain_ids = {row.domain_id for row in rows if row.domain_id}
    domains = {}
    if domain_ids:
        domain_links = _links(session, domain_included, domain_excluded, "domain_id", domain_ids)
        domains = {d: DomainRule(d, "", *domain_links[d]) for d in domain_ids}
    schedule_ids = {row.schedule_id for row in rows if row.schedule_id}
    delays: dict[int, list[DelayRule]] = defaultdict(list)
    if schedule_ids:
        delay_rows = session.execute(
            select(
                ScheduleDelay.id,
                ScheduleDelay.schedule_id,
                ScheduleDelay.delay,
                ScheduleDelay.duration,
            ).where(ScheduleDelay.schedule_id.in_(schedule_ids))
        ).all()
        delay_attrs: dict[int, set[int]] = defaultdict(set)
        if delay_rows:
            for delay_id, attribute_id in session.execute(
                select(
                    schedule_delay_attributes.c.scheduledelay_id,
                    schedule_delay_attributes.c.attribute_id,
                ).where(
                    schedule_delay_attributes.c.scheduledelay_id.in_([r[0] for r in delay_rows])
                )
            ):
                delay_attrs[delay_id].add(attribute_id)
        for delay_id, schedule_id, delay, duration in delay_rows:
            delays[schedule_id].append(DelayRule(delay, duration, frozenset(delay_attrs[delay_id])))
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
                delays=tuple(delays.get(row.schedule_id, ())),
            ),
            row,
        )
        for row in rows
    ]


def fault_definitions_for(session, attributes: set[int]) -> list[FaultDefinition]:
    """Enabled definitions whose included attributes hit and excluded ones do not (B.10)."""
    rows = session.scalars(
        select(FaultDefinition)
        .where(FaultDefinition.enabled.is_(True))
        .order_by(FaultDefinition.name)
    ).all()
    if not rows:
        return []
    links = _links(
        session,
        fault_definition_included,
        fault_definition_excluded,
        "faultdefinition_id",
        [row.id for row in rows],
    )
    return [
        row
        for row in rows
        if not attributes.isdisjoint(links[row.id][0]) and attributes.isdisjoint(links[row.id][1])
    ]
