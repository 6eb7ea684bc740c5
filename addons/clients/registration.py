"""Registration and identification: ``computers/`` and ``computers/id/`` (protocol-v5 4.2-4.3)."""

from __future__ import annotations

import ipaddress
import uuid as uuidlib

from cornice import Service
from sqlalchemy import select, update

from migasfree_pyramid.domain.status import DEFAULT_STATUS, STATUS_UNSUBSCRIBED
from migasfree_pyramid.models import Computer, Notification, Project
from migasfree_pyramid.models.meta import utcnow
from migasfree_pyramid.security.views import verify_credentials
from migasfree_pyramid.services import computers as computer_service

from .models import Error, Migration, PackageHistory
from .network import client_ip
from .public import may
from .safe import AgentPermission, SafeContext, SafeError, claims_of, reply
from .serialization import computer_data


def swapped_uuid(value: str) -> str | None:
    """The same UUID with its first three groups byte-swapped (old SMBIOS firmware)."""
    try:
        parsed = uuidlib.UUID(value)
    except ValueError:
        return None
    return str(uuidlib.UUID(bytes=parsed.bytes_le)).upper()


def find_computer(session, uuid: str, name: str) -> Computer | None:
    """By uuid, swapped uuid, MAC-derived uuid, then unique name (spec B.9)."""
    candidates = [value for value in {uuid, swapped_uuid(uuid) or ""} if value]
    if candidates:
        found = session.scalars(select(Computer).where(Computer.uuid.in_(candidates))).all()
        exact = [c for c in found if c.uuid == uuid] or found
        if exact:
            return exact[0]
    if uuid.startswith("00000000") and len(uuid) >= 12:
        mac = uuid[-12:]
        by_mac = session.scalars(
            select(Computer).where(Computer.mac_address.contains(mac)).limit(2)
        ).all()
        if len(by_mac) == 1:
            return by_mac[0]
    if name:
        by_name = session.scalars(select(Computer).where(Computer.name == name).limit(2)).all()
        if len(by_name) == 1:
            return by_name[0]
    return None


def text_claim(claims: dict, key: str, max_length: int) -> str:
    value = claims.get(key)
    if not isinstance(value, str) or len(value) > max_length:
        raise SafeError(
            400, {key: [f"Ensure this field is a string of at most {max_length} characters."]}
        )
    return value.strip()


def ip_claim(claims: dict, key: str = "ip_address") -> str | None:
    value = claims.get(key)
    if value in (None, ""):
        return None
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise SafeError(400, {key: ["Enter a valid IPv4 or IPv6 address."]}) from None


def migrate_project(session, computer: Computer, project) -> None:
    """The computer now reports another project (spec B.9): close its open history, record it."""
    if computer.project_id == project.id:
        return
    session.execute(
        update(PackageHistory)
        .where(PackageHistory.computer_id == computer.id, PackageHistory.uninstall_date.is_(None))
        .values(uninstall_date=utcnow())
    )
    session.add(Migration(computer_id=computer.id, project_id=project.id))
    computer.project = project


def apply_identity_changes(
    request, computer: Computer, name: str, ip: str | None, uuid: str
) -> None:
    """Name, IP and UUID changes are taken only when the settings ask to (and then notified)."""
    settings = request.registry.settings
    session = request.dbsession
    changes = (
        ("clients.notify_change_name", "name", name),
        ("clients.notify_change_ip", "ip_address", ip),
        ("clients.notify_change_uuid", "uuid", uuid or None),
    )
    for setting, field, value in changes:
        old = getattr(computer, field)
        if settings.get(setting) and value and old != value:
            setattr(computer, field, value)
            session.add(
                Notification(
                    message=(
                        f"Computer id=[{computer.id}]: {field.upper()} [{old}] changed by [{value}]"
                    )
                )
            )


computers = Service(name="safe.computers", path="/api/v1/safe/computers/", factory=SafeContext)
computer_id = Service(
    name="safe.computers-id", path="/api/v1/safe/computers/id/", factory=SafeContext
)


@computers.post(permission=AgentPermission.REGISTER)
def create_or_update(request):
    claims = claims_of(request)
    if any(key not in claims for key in ("uuid", "name", "ip_address", "username", "password")):
        raise SafeError(400, "Invalid Data")
    uuid = text_claim(claims, "uuid", 36)
    name = text_claim(claims, "name", 50)
    ip = ip_claim(claims)
    session = request.dbsession
    # The identity carries a plain reference; registration links rows to the ORM project.
    project = session.get(Project, request.context.project.id)
    forwarded = client_ip(request)
    computer = find_computer(session, uuid, name)
    if computer is not None:
        from .endpoints import check_mtls

        check_mtls(request, computer)
        migrate_project(session, computer, project)
        apply_identity_changes(request, computer, name, ip, uuid)
        computer.forwarded_ip_address = forwarded
        event = computer_service.set_status(session, computer, DEFAULT_STATUS, request)
        if event is not None:
            request.registry.notify(event)
        session.flush()
        return reply(request, computer_data(session, computer))
    user = None
    if claims.get("username"):
        user = verify_credentials(session, str(claims["username"]), str(claims.get("password", "")))
    if not (project.auto_register_computers or may(session, user, "client.add_computer")):
        raise SafeError(401, "Computer cannot be registered")
    computer = Computer(
        uuid=uuid or None, name=name, project=project, ip_address=ip, forwarded_ip_address=forwarded
    )
    computer_service.register(session, computer)
    session.add(Migration(computer_id=computer.id, project_id=project.id))
    if request.registry.settings.get("clients.notify_new_computer"):
        session.add(
            Notification(
                message=f"New Computer added id=[{computer.id}]: NAME=[{name}] UUID=[{uuid}]"
            )
        )
    return reply(
        request,
        {
            "id": computer.id,
            "uuid": computer.uuid,
            "name": computer.name,
            "project": project.id,
            "ip_address": computer.ip_address,
            "forwarded_ip_address": computer.forwarded_ip_address,
        },
        status=201,
    )


@computer_id.post(permission=AgentPermission.SYNC)
def get_computer_id(request):
    claims = claims_of(request)
    if not isinstance(claims.get("uuid"), str) or not isinstance(claims.get("name"), str):
        raise SafeError(400, "Malformed claims")
    session = request.dbsession
    computer = find_computer(session, claims["uuid"].strip(), claims["name"].strip())
    if computer is None:
        raise SafeError(404, "Computer not found")
    project = request.context.project
    if computer.status == STATUS_UNSUBSCRIBED:
        session.add(
            Error(
                computer_id=computer.id,
                project_id=computer.project_id,
                description=f"{client_ip(request)} - id - Unsubscribed computer",
            )
        )
        response = reply(request, "Unsubscribed computer", status=403)
        # A refused call still records its Error: tell pyramid_tm to commit this 4xx.
        response.headers["x-tm"] = "commit"
        return response
    if computer.project_id != project.id:
        raise SafeError(
            403, f"Unexpected Computer Project ({project.name}). Expected {computer.project.name}"
        )
    return reply(request, computer.id)


def includeme(config) -> None:
    config.add_cornice_service(computers)
    config.add_cornice_service(computer_id)
