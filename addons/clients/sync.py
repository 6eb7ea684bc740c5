"""Safe sync endpoints of ``/api/v1/safe/computers/...`` (protocol-v5 sections 5-7; the end of
a sync is in ``finish``). Each answers ``reply(...)`` encrypted to the project key."""

from __future__ import annotations

import re

from sqlalchemy import select

from migasfree_pyramid.domain.matching import available_deployments
from migasfree_pyramid.domain.packages import DeploymentPackages, mandatory_packages
from migasfree_pyramid.models import (
    LANGUAGES,
    Attribute,
    Property,
    Singularity,
)
from migasfree_pyramid.models.attributes import singularity_excluded, singularity_included
from migasfree_pyramid.models.computers import computer_sync_attributes
from migasfree_pyramid.pms import DeploymentInfo, get_pms
from migasfree_pyramid.services.clock import today

from . import attributes as attribute_sync
from . import rules, software
from .endpoints import computer_post, service
from .models import Error, Fault, FaultDefinition
from .safe import SafeError, reply

CN_PATTERN = re.compile(r"/CN=([^/]+)")


properties = service("properties", "computers/properties/")
attributes = service("attributes", "computers/attributes/")
fault_definitions = service("fault-definitions", "computers/faults/definitions/")
faults = service("faults", "computers/faults/")
errors = service("errors", "computers/errors/")
repositories = service("repositories", "computers/repositories/")
mandatory = service("mandatory", "computers/packages/mandatory/")
software_svc = service("software", "computers/software/")
hardware_required = service("hardware-required", "computers/hardware/required/")
devices = service("devices", "computers/devices/")
traits = service("traits", "computers/traits/")
label = service("label", "computers/label/")


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


@computer_post(hardware_required)
def get_hardware_required(request, computer, claims):
    """``{"capture": bool}``. The hardware addon decides; without it no capture is asked for:
    a real client exits (61) on any error of this call, so the clients addon alone must
    answer it."""
    provider = request.registry.get("migasfree.hardware_capture_required")
    return reply(request, {"capture": bool(provider and provider(request, computer))})


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


SERVICES = (
    properties,
    attributes,
    fault_definitions,
    faults,
    errors,
    repositories,
    mandatory,
    software_svc,
    hardware_required,
    devices,
    traits,
    label,
)


def includeme(config) -> None:
    config.include(".registration")
    config.include(".tags")
    config.include(".packager")
    config.include(".finish")
    for svc in SERVICES:
        config.add_cornice_service(svc)
