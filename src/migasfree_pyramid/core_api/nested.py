"""The nested "info" shapes the admin API embeds in other objects (spec D.2)."""

from __future__ import annotations

from ..models import Attribute, Domain, Package, Platform, Project, Schedule, Scope, Store
from ..models.packages import PackageSet


class AttributeRef(dict):
    """A nested attribute: hidden from users whose view does not include it (scoping.prune)."""


class ComputerRef(dict):
    """A nested computer: hidden from users whose view does not include it (scoping.prune)."""


def attribute_info(attribute: Attribute | None) -> dict | None:
    if attribute is None:
        return None
    prop = attribute.property_att
    return AttributeRef(
        {
            "id": attribute.id,
            "property_att": {"id": prop.id, "prefix": prop.prefix, "sort": prop.sort},
            "value": attribute.value,
            "description": attribute.description,
            "latitude": attribute.latitude,
            "longitude": attribute.longitude,
        }
    )


def project_info(project: Project | None) -> dict | None:
    if project is None:
        return None
    return {
        "id": project.id,
        "name": project.name,
        "slug": project.slug,
        "pms": project.pms,
        "architecture": project.architecture,
    }


def store_info(store: Store | None) -> dict | None:
    return None if store is None else {"id": store.id, "name": store.name, "slug": store.slug}


def package_info(package: Package) -> dict:
    return {"id": package.id, "fullname": package.fullname}


def named(obj: Platform | Domain | Scope | Schedule | PackageSet | None) -> dict | None:
    return None if obj is None else {"id": obj.id, "name": obj.name}


def property_info(prop) -> dict:
    """``property_att`` as tags, features and singularities show it."""
    return {"id": prop.id, "prefix": prop.prefix, "name": prop.name, "sort": prop.sort}


def computer_summary(computer) -> str:
    """ "status, project, ip, login user", with empty parts for what is unknown."""
    parts = [
        computer.status,
        computer.project.name,
        computer.ip_address or "",
        str(computer.sync_user) if computer.sync_user else "",
    ]
    return ", ".join(parts)


def computer_info(computer) -> dict:
    """ComputerInfo (spec D.2): ``{id, __str__, status, summary}``."""
    return ComputerRef(
        {
            "id": computer.id,
            "__str__": str(computer),
            "status": computer.status,
            "summary": computer_summary(computer),
        }
    )


def user_info(user) -> dict | None:
    return None if user is None else {"id": user.id, "username": user.username}


def attributes(items) -> list[dict]:
    return [
        attribute_info(a) for a in sorted(items, key=lambda a: (a.property_att.prefix, a.value))
    ]
