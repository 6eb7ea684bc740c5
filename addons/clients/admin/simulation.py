"""What a computer would receive if it synchronized now (spec B.5, B.6, B.10).

The rules live in ``migasfree_pyramid.domain.matching``; this module only loads them: every
deployment of the computer's project with its attribute lists, domain gate and schedule delays in
a fixed number of statements, whatever the number of deployments.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import and_, exists, not_, select

from migasfree_pyramid.domain.matching import (
    DelayRule,
    DeploymentRule,
    DomainRule,
    available_deployments,
)
from migasfree_pyramid.domain.packages import to_list
from migasfree_pyramid.models import Computer, Deployment, ScheduleDelay
from migasfree_pyramid.models.computers import computer_sync_attributes, computer_tags
from migasfree_pyramid.models.deployments import deployment_excluded, deployment_included
from migasfree_pyramid.models.domains import domain_excluded, domain_included
from migasfree_pyramid.models.schedules import schedule_delay_attributes

from ..models import FaultDefinition, fault_definition_excluded, fault_definition_included


def _links(session, table, owner: str, ids) -> dict[int, set[int]]:
    """``{owner id: {attribute ids}}`` of a link table for the given owners (one statement)."""
    found: dict[int, set[int]] = defaultdict(set)
    if ids:
        rows = session.execute(
            select(table.c[owner], table.c.attribute_id).where(table.c[owner].in_(list(ids)))
        )
        for key, attribute_id in rows:
            found[key].add(attribute_id)
    return found


def computer_attributes(session, computer: Computer) -> set[int]:
    """Tag ids plus sync attribute ids: the attribute list every rule uses (spec B.1)."""
    tags = select(computer_tags.c.attribute_id).where(computer_tags.c.computer_id == computer.id)
    synced = select(computer_sync_attributes.c.attribute_id).where(
        computer_sync_attributes.c.computer_id == computer.id
    )
    return set(session.scalars(tags.union(synced)))


def deployment_rules(session, project_id: int) -> list[tuple[DeploymentRule, Deployment]]:
    """The enabled deployments of a project as matching rules, with their rows.

    Six statements: deployments, included, excluded, domain included/excluded, delays with
    their attributes.
    """
    deployments = list(
        session.scalars(
            select(Deployment).where(Deployment.project_id == project_id, Deployment.enabled)
        )
    )
    ids = [d.id for d in deployments]
    included = _links(session, deployment_included, "deployment_id", ids)
    excluded = _links(session, deployment_excluded, "deployment_id", ids)
    domain_ids = {d.domain_id for d in deployments if d.domain_id is not None}
    domain_in = _links(session, domain_included, "domain_id", domain_ids)
    domain_out = _links(session, domain_excluded, "domain_id", domain_ids)
    delays = _delays(session, {d.schedule_id for d in deployments if d.schedule_id})
    rules = []
    for deployment in deployments:
        domain = None
        if deployment.domain_id is not None:
            domain = DomainRule(
                deployment.domain_id,
                deployment.domain.name,
                domain_in[deployment.domain_id],
                domain_out[deployment.domain_id],
            )
        rule = DeploymentRule(
            id=deployment.id,
            name=deployment.name,
            project_id=deployment.project_id,
            enabled=deployment.enabled,
            domain=domain,
            included=included[deployment.id],
            excluded=excluded[deployment.id],
            start_date=deployment.start_date,
            delays=delays.get(deployment.schedule_id, ()),
        )
        rules.append((rule, deployment))
    return rules


def _delays(session, schedule_ids) -> dict[int, tuple[DelayRule, ...]]:
    if not schedule_ids:
        return {}
    rows = session.execute(
        select(
            ScheduleDelay.id, ScheduleDelay.schedule_id, ScheduleDelay.delay, ScheduleDelay.duration
        )
        .where(ScheduleDelay.schedule_id.in_(list(schedule_ids)))
        .order_by(ScheduleDelay.delay)
    ).all()
    attributes = _links(
        session, schedule_delay_attributes, "scheduledelay_id", [r[0] for r in rows]
    )
    found: dict[int, list[DelayRule]] = defaultdict(list)
    for pk, schedule_id, delay, duration in rows:
        found[schedule_id].append(DelayRule(delay, duration, attributes[pk]))
    return {key: tuple(value) for key, value in found.items()}


def available(session, computer: Computer, attributes: set[int], today: dt.date):
    """Deployment rows available to the computer today, ordered by name."""
    rules = deployment_rules(session, computer.project_id)
    rows = {rule.id: deployment for rule, deployment in rules}
    chosen = available_deployments(
        [rule for rule, _ in rules], computer.id, computer.project_id, attributes, today
    )
    return [rows[rule.id] for rule in chosen]


def enabled_fault_definitions(session, attributes: set[int]) -> list[FaultDefinition]:
    """Enabled definitions with an included attribute and no excluded one (spec B.10)."""
    if not attributes:
        return []
    ids = list(attributes)
    hit = exists(
        select(fault_definition_included.c.attribute_id).where(
            fault_definition_included.c.faultdefinition_id == FaultDefinition.id,
            fault_definition_included.c.attribute_id.in_(ids),
        )
    )
    blocked = exists(
        select(fault_definition_excluded.c.attribute_id).where(
            fault_definition_excluded.c.faultdefinition_id == FaultDefinition.id,
            fault_definition_excluded.c.attribute_id.in_(ids),
        )
    )
    query = select(FaultDefinition).where(and_(FaultDefinition.enabled, hit, not_(blocked)))
    return list(session.scalars(query.order_by(FaultDefinition.name, FaultDefinition.id)))


def package_changes(deployments) -> dict[str, list[dict]]:
    """``{install, remove}`` entries ``{package, name: deployment name, id: deployment id}``.

    The original builds sets of these triples (so their order is arbitrary); we keep the first
    occurrence in deployment order, which is the same set in a stable order.
    """
    result: dict[str, list[dict]] = {"install": [], "remove": []}
    for key, field in (("install", "packages_to_install"), ("remove", "packages_to_remove")):
        seen = set()
        for deployment in deployments:
            for package in to_list(getattr(deployment, field)):
                triple = (package, deployment.name, deployment.id)
                if triple not in seen:
                    seen.add(triple)
                    result[key].append(
                        {"package": package, "name": deployment.name, "id": deployment.id}
                    )
    return result


def hardware_capture_required(computer: Computer, period_days: int, now: dt.datetime) -> bool:
    """No capture yet, or the last one is older than the configured period (spec A.2.1)."""
    last = computer.last_hardware_capture
    return last is None or last < now - dt.timedelta(days=period_days)


def simulate(request, computer: Computer) -> dict:
    """The ``sync/simulation/`` answer (spec B.6).

    App-catalog policies and logical devices belong to addons that do not exist yet: their lists
    stay empty and ``default_logical_device`` is 0, as the original answers without them.
    """
    session = request.dbsession
    attributes = computer_attributes(session, computer)
    now = dt.datetime.now(dt.UTC)
    deployments = available(session, computer, attributes, dt.date.today())
    definitions = enabled_fault_definitions(session, attributes)
    period = request.registry.settings.get("clients.hardware_period_days", 30)
    return {
        "deployments": [{"id": d.id, "name": d.name, "source": d.source} for d in deployments],
        "fault_definitions": [{"id": f.id, "name": f.name} for f in definitions],
        "packages": package_changes(deployments),
        "policies": {"install": [], "remove": []},
        "capture_hardware": hardware_capture_required(computer, int(period), now),
        "logical_devices": [],
        "default_logical_device": 0,
    }
