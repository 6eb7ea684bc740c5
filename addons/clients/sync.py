"""Safe sync endpoints of ``/api/v1/safe/computers/...``, ``synchronizations/`` and ``eot/``
(protocol-v5 sections 5-7). Each answers ``reply(...)`` encrypted to the project key."""

from __future__ import annotations

import datetime as dt
import re

from cornice import Service
from sqlalchemy import insert, select, update
from sqlalchemy.orm.attributes import set_committed_value

from migasfree_pyramid.domain.matching import available_deployments
from migasfree_pyramid.domain.packages import DeploymentPackages, mandatory_packages
from migasfree_pyramid.domain.status import STATUS_AVAILABLE
from migasfree_pyramid.models import (
    LANGUAGES,
    Attribute,
    Computer,
    Notification,
    Property,
    Singularity,
)
from migasfree_pyramid.models.attributes import singularity_excluded, singularity_included
from migasfree_pyramid.models.computers import computer_sync_attributes
from migasfree_pyramid.models.meta import utcnow
from migasfree_pyramid.pms import DeploymentInfo, get_pms
from migasfree_pyramid.services.clock import local_to_utc, today

from . import attributes as attribute_sync
from . import rules, software
from .models import Error, Fault, FaultDefinition, Synchronization
from .safe import AgentPermission, ComputerContext, SafeError, reply

CN_PATTERN = re.compile(r"/CN=([^/]+)")


class SynchronizationFinished:
    """Event sent after ``synchronizations/`` stores a sync (the stats addon counts these)."""

    def __init__(self, synchronization_id, computer_id, project_id, pms_status_ok, created_at):
        self.synchronization_id = synchronization_id
        self.computer_id = computer_id
        self.project_id = project_id
        self.pms_status_ok = pms_status_ok
        self.created_at = created_at


def check_mtls(request, computer) -> None:
    """With mTLS in front (``X-SSL-Client-CN``), the certificate's uuid must be this computer's."""
    header = request.headers.get("X-SSL-Client-CN")
    if header is None:
        return
    match = CN_PATTERN.search(header)
    if match is None or "_" not in match.group(1):
        raise SafeError(403, "Invalid mTLS certificate CN format", wrapped=False)
    uuid = match.group(1).rsplit("_", 1)[0]
    if (computer.uuid or "").lower() != uuid.lower():
        raise SafeError(
            403, "mTLS certificate does not match the requesting computer", wrapped=False
        )


def service(name: str, path: str) -> Service:
    return Service(name=f"safe.{name}", path=f"/api/v1/safe/{path}", factory=ComputerContext)


def computer_post(svc: Service, mtls: bool = False):
    """Register ``func(request, computer, claims)`` as the service's POST view."""

    def decorate(func):
        def view(request):
            context = request.context
            if mtls:
                check_mtls(request, context.computer)
            return func(request, context.computer, context.claims)

        svc.add_view("POST", view, permission=AgentPermission.SYNC)
        return func

    return decorate


properties = service("properties", "computers/properties/")
attributes = service("attributes", "computers/attributes/")
fault_definitions = service("fault-definitions", "computers/faults/definitions/")
faults = service("faults", "computers/faults/")
errors = service("errors", "computers/errors/")
repositories = service("repositories", "computers/repositories/")
mandatory = service("mandatory", "computers/packages/mandatory/")
software_svc = service("software", "computers/software/")
devices = service("devices", "computers/devices/")
traits = service("traits", "computers/traits/")
label = service("label", "computers/label/")
synchronizations = service("synchronizations", "synchronizations/")
eot = service("eot", "eot/")


@computer_post(properties)
def get_properties(request, computer, claims):
    """Enabled client formulas; a matching singularity of highest priority replaces the code."""
    session = request.dbsession
    props = session.scalars(
        select(Property)
        .where(Property.sort == "client", Property.enabled.is_(True))
        .order_by(Property.prefix)
    ).all()
    singularities = session.scalars(
        select(Singularity)
        .where(Singularity.enabled.is_(True))
        .order_by(Singularity.priority.desc())
    ).all()
    chosen: dict[int, Singularity] = {}
    if singularities:  # the computer's attributes are only needed (and read) then
        attrs = rules.computer_attribute_ids(session, computer.id)
        links = rules._links(session, singularity_included, singularity_excluded, "singularity_id")
        for item in singularities:
            included, excluded = links[item.id]
            if (
                item.property_att_id not in chosen
                and not attrs.isdisjoint(included)
                and attrs.isdisjoint(excluded)
            ):
                chosen[item.property_att_id] = item
    result = []
    for prop in props:
        source = chosen.get(prop.id, prop)
        result.append(
            {
                "prefix": prop.prefix,
                "language": LANGUAGES.get(source.language, "bash"),
                "code": source.code or "",
            }
        )
    return reply(request, result)


@computer_post(attributes, mtls=True)
def upload_attributes(request, computer, claims):
    attribute_sync.process(request, computer, claims)
    from .serialization import computer_data

    return reply(request, computer_data(request.dbsession, computer), status=201)


@computer_post(fault_definitions)
def get_fault_definitions(request, computer, claims):
    session = request.dbsession
    attrs = rules.computer_attribute_ids(session, computer.id)
    return reply(
        request,
        [
            {"language": LANGUAGES.get(d.language, "bash"), "name": d.name, "code": d.code or ""}
            for d in rules.fault_definitions_for(session, attrs)
        ],
    )


def fault_data(fault: Fault) -> dict:
    return {
        "id": fault.id,
        "__str__": f"CID-{fault.computer_id} ({fault.created_at:%Y-%m-%d %H:%M:%S})",
        "project": fault.project_id,
        "computer": fault.computer_id,
        "fault_definition": fault.fault_definition_id,
        "synchronization": fault.synchronization_id,
        "created_at": fault.created_at.isoformat(),
        "checked": fault.checked,
        "result": fault.result,
    }


@computer_post(faults, mtls=True)
def upload_faults(request, computer, claims):
    reported = claims.get("faults")
    if not isinstance(reported, dict):
        raise SafeError(400, "Malformed claims")
    session = request.dbsession
    names = [name for name, result in reported.items() if isinstance(result, str) and result]
    definitions = (
        {
            d.name: d
            for d in session.scalars(select(FaultDefinition).where(FaultDefinition.name.in_(names)))
        }
        if names
        else {}
    )
    created = []
    for name in names:
        if name in definitions:
            fault = Fault(
                computer_id=computer.id,
                project_id=computer.project_id,
                fault_definition_id=definitions[name].id,
                result=reported[name],
            )
            session.add(fault)
            created.append(fault)
    session.flush()
    return reply(request, [fault_data(f) for f in created])


@computer_post(errors, mtls=True)
def upload_error(request, computer, claims):
    description = claims.get("description")
    if not isinstance(description, str):
        raise SafeError(400, {"description": ["This field is required."]})
    error = Error(
        computer_id=computer.id,
        project_id=computer.project_id,
        description=description.replace("\r\n", "\n"),
    )
    request.dbsession.add(error)
    request.dbsession.flush()
    return reply(
        request,
        {
            "id": error.id,
            "created_at": error.created_at.isoformat(),
            "description": error.description,
            "checked": error.checked,
            "computer": computer.id,
            "project": computer.project_id,
            "synchronization": None,
        },
        status=201,
    )


def available(request, computer, attrs=None):
    """``(rule, deployment row)`` pairs of the deployments the computer receives today."""
    session = request.dbsession
    attrs = rules.computer_attribute_ids(session, computer.id) if attrs is None else attrs
    pairs = rules.deployment_rules(session, computer.project_id)
    rows = {rule.id: row for rule, row in pairs}
    chosen = available_deployments(
        [rule for rule, _ in pairs],
        computer.id,
        computer.project_id,
        attrs,
        today(request.registry.settings),
    )
    return [rows[rule.id] for rule in chosen]


@computer_post(repositories)
def get_repositories(request, computer, claims):
    pms = get_pms(computer.project.pms)
    if pms is None:
        return reply(request, [])
    public_url = request.registry.settings.get("migasfree.public_url", "/pub/")
    return reply(
        request,
        [
            {
                "name": row.slug,
                "source_template": pms.source_template(
                    DeploymentInfo(
                        slug=row.slug,
                        project_slug=computer.project.slug,
                        source=row.source,
                        base_url=row.base_url,
                        options=row.options,
                        suite=row.suite,
                        components=row.components,
                    ),
                    public_url,
                ),
            }
            for row in available(request, computer)
        ],
    )


@computer_post(mandatory)
def get_mandatory_packages(request, computer, claims):
    rows = available(request, computer)
    result = mandatory_packages(
        DeploymentPackages(
            packages_to_install=row.packages_to_install, packages_to_remove=row.packages_to_remove
        )
        for row in rows
    )
    return reply(request, result)


@computer_post(software_svc, mtls=True)
def upload_software(request, computer, claims):
    if "inventory" not in claims and "history" not in claims:
        raise SafeError(400, "Bad request")
    software.process(request, computer, claims.get("inventory"), claims.get("history"))
    return reply(request, "Data received")


@computer_post(devices)
def get_devices(request, computer, claims):
    """Without the devices addon no computer has printers. The original answered
    ``{"logical": [], "default": 0}``, which makes clients that do not manage devices record an
    error on every sync (protocol-v5 10.10); an empty object makes the client do nothing."""
    provider = request.registry.get("migasfree.devices_for_computer")
    return reply(request, provider(request, computer) if provider else {})


@computer_post(traits)
def get_traits(request, computer, claims):
    rows = request.dbsession.execute(
        select(
            Attribute.id,
            Attribute.description,
            Attribute.value,
            Property.name,
            Property.prefix,
            Property.sort,
        )
        .join(Property, Property.id == Attribute.property_att_id)
        .join(computer_sync_attributes, computer_sync_attributes.c.attribute_id == Attribute.id)
        .where(computer_sync_attributes.c.computer_id == computer.id)
        .order_by(Property.prefix, Attribute.value)
    ).all()
    return reply(
        request,
        [
            {
                "id": id_,
                "description": description,
                "value": value,
                "name": name,
                "prefix": prefix,
                "sort": sort,
            }
            for id_, description, value, name, prefix, sort in rows
        ],
    )


@computer_post(label)
def get_label(request, computer, claims):
    return reply(
        request,
        {
            "uuid": computer.uuid or "",
            "name": computer.name or "",
            "search": str(computer),
            "helpdesk": request.registry.settings.get("clients.helpdesk", ""),
        },
    )


def parse_start_date(value, settings) -> dt.datetime:
    if not isinstance(value, str):
        raise SafeError(400, {"start_date": ["This field is required."]})
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SafeError(400, {"start_date": ["Datetime has wrong format."]}) from None
    return local_to_utc(parsed, settings)


def link_and_finish(session, computer, sync_id: int, start, now) -> None:
    """Link the computer's errors and faults since ``start`` to the synchronization and set its
    ``sync_end_date``: one statement on PostgreSQL (data-modifying CTEs), three elsewhere."""
    links = [
        update(model.__table__)
        .where(
            model.computer_id == computer.id,
            model.synchronization_id.is_(None),
            model.created_at >= start,
        )
        .values(synchronization_id=sync_id)
        for model in (Error, Fault)
    ]
    finish = (
        update(Computer.__table__)
        .where(Computer.id == computer.id)
        .values(sync_end_date=now, updated_at=now)
    )
    if session.get_bind().dialect.name == "postgresql":
        for number, link in enumerate(links):
            finish = finish.add_cte(link.returning(link.table.c.id).cte(f"linked_{number}"))
        session.execute(finish)
    else:
        for statement in (*links, finish):
            session.execute(statement)
    # The row is written; keep the loaded object in step without another UPDATE at commit.
    set_committed_value(computer, "sync_end_date", now)
    set_committed_value(computer, "updated_at", now)


@computer_post(synchronizations, mtls=True)
def end_synchronization(request, computer, claims):
    session = request.dbsession
    settings = request.registry.settings
    start = parse_start_date(claims.get("start_date"), settings)
    consumer = claims.get("consumer")
    if consumer is not None and (not isinstance(consumer, str) or len(consumer) > 50):
        raise SafeError(400, {"consumer": ["Ensure this field has no more than 50 characters."]})
    ok = claims.get("pms_status_ok", False)
    if not isinstance(ok, bool):
        raise SafeError(400, {"pms_status_ok": ["Must be a valid boolean."]})
    now = utcnow()
    sync_id = session.execute(
        insert(Synchronization)
        .values(
            computer_id=computer.id,
            project_id=computer.project_id,
            user_id=computer.sync_user_id,
            consumer=consumer,
            start_date=start,
            pms_status_ok=ok,
            created_at=now,
        )
        .returning(Synchronization.id)
    ).scalar_one()
    link_and_finish(session, computer, sync_id, start, now)
    request.registry.notify(
        SynchronizationFinished(sync_id, computer.id, computer.project_id, ok, now)
    )
    return reply(
        request,
        {
            "computer": computer.id,
            "start_date": claims["start_date"],
            "consumer": consumer,
            "pms_status_ok": ok,
        },
        status=201,
    )


@computer_post(eot)
def end_of_transmission(request, computer, claims):
    if computer.status == STATUS_AVAILABLE:
        request.dbsession.add(
            Notification(
                message=f"Computer [{computer}] with available status, has been synchronized"
            )
        )
    return reply(request, "EOT OK")


SERVICES = (
    properties,
    attributes,
    fault_definitions,
    faults,
    errors,
    repositories,
    mandatory,
    software_svc,
    devices,
    traits,
    label,
    synchronizations,
    eot,
)


def includeme(config) -> None:
    config.include(".registration")
    config.include(".tags")
    config.include(".packager")
    for svc in SERVICES:
        config.add_cornice_service(svc)
