"""The computer representation the client receives from ``computers/`` and ``attributes/``."""

from __future__ import annotations

from sqlalchemy import select

from migasfree_pyramid.core_api.nested import computer_summary
from migasfree_pyramid.models import Attribute, Computer
from migasfree_pyramid.models.computers import computer_tags


def iso(value):
    return None if value is None else value.isoformat()


def computer_data(session, computer: Computer) -> dict:
    """``ComputerSerializer`` fields (protocol-v5 4.3); the client reads ``id`` only."""
    project = computer.project
    tags = session.scalars(
        select(Attribute)
        .join(computer_tags, computer_tags.c.attribute_id == Attribute.id)
        .where(computer_tags.c.computer_id == computer.id)
    ).all()
    user = computer.sync_user
    return {
        "id": computer.id,
        "uuid": computer.uuid,
        "name": computer.name,
        "project": {
            "id": project.id,
            "name": project.name,
            "slug": project.slug,
            "platform": {"id": project.platform.id, "name": project.platform.name},
        },
        "status": computer.status,
        "product": computer.product,
        "created_at": iso(computer.created_at),
        "last_hardware_capture": iso(computer.last_hardware_capture),
        "sync_user": None
        if user is None
        else {"id": user.id, "name": user.name, "__str__": str(user)},
        "sync_end_date": iso(computer.sync_end_date),
        "__str__": str(computer),
        "summary": computer_summary(computer),
        "fqdn": computer.fqdn,
        "ip_address": computer.ip_address,
        "forwarded_ip_address": computer.forwarded_ip_address,
        "tags": [{"id": t.id, "value": t.value, "prefix": t.property_att.prefix} for t in tags],
        "machine": computer.machine,
        "cpu": computer.cpu,
        "ram": computer.ram,
        "storage": computer.storage,
        "disks": computer.disks,
        "mac_address": computer.mac_address,
        "comment": computer.comment,
    }
