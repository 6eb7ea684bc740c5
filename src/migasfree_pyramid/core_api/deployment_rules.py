"""Rules behind the deployment resources: write checks, schedule timelines, list filters and
copying a deployment to another project.

Kept apart from ``deployments.py`` (events, schemas, JSON shapes and the resources themselves) so
each module stays readable.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import socket
from collections import defaultdict
from urllib.parse import urlsplit

from sqlalchemy import false, select, true

from ..api.errors import APIError, bad_request, not_found, validation_error
from ..api.filters import Filter, compare, parse_bool, related
from ..api.related import load_row
from ..api.schemas import json_body
from ..domain import status
from ..domain.matching import DelayRule, schedule_timeline
from ..models import (
    Attribute,
    Computer,
    Deployment,
    Package,
    PackageSet,
    Project,
    ScheduleDelay,
    Store,
)
from ..models.deployments import (
    PACKAGE_LIST_FIELDS,
    deployment_excluded,
    deployment_included,
    deployment_package_sets,
    deployment_packages,
)
from ..text import slugify

CID_PREFIX = "CID"
UNSAFE_URL = "Invalid or unsafe URL"


# -- write checks ------------------------------------------------------------------------------


def check_same_project(field: str, rows, project: Project, noun: str) -> None:
    """Every package / package set offered by a deployment must be of the deployment's project."""
    for row in rows:
        if row.project_id != project.id:
            label = getattr(row, "fullname", None) or row.name
            raise validation_error(
                {field: f"{noun} {label} must belong to the project {project.name}"}
            )


def check_active_computers(request, field: str, attributes) -> None:
    """A ``CID-<id>`` attribute may only target a computer in an active status (spec B.8).

    A CID whose computer no longer exists counts as inactive: it could never match anyway.
    """
    cids = [a for a in attributes if a.property_att.prefix == CID_PREFIX]
    if not cids:
        return
    ids = [int(a.value) for a in cids if a.value.isdigit()]
    found = dict(
        request.dbsession.execute(
            select(Computer.id, Computer.status).where(Computer.id.in_(ids))
        ).all()
        if ids
        else []
    )
    for attribute in cids:
        computer_status = found.get(int(attribute.value)) if attribute.value.isdigit() else None
        if computer_status not in status.ACTIVE:
            raise validation_error(
                {
                    field: "It is not possible to assign an inactive computer "
                    f"({attribute.value}) as an attribute"
                }
            )


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        # HTTP clients also accept the legacy IPv4 spellings ("2130706433", "127.1", "0x7f.1")
        # through inet_aton; parse them the same way so they cannot sneak past the check.
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def check_base_url(url: str | None) -> None:
    """Quirk F.25 fixed: the original only checked an external source's URL at download time.

    http/https with a host; an IP literal must be a public address. Host names are NOT resolved
    here (DNS answers change, and a write must not depend on them): the proxy that fetches from
    ``base_url`` re-checks the resolved address on every download.
    """
    if not url:
        raise validation_error({"base_url": "This field is required."})
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise validation_error({"base_url": UNSAFE_URL})
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (an out-of-range or non-numeric port raises here)
    except ValueError:
        raise validation_error({"base_url": UNSAFE_URL}) from None
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        raise validation_error({"base_url": UNSAFE_URL})
    if host == "localhost" or host.endswith(".localhost"):
        raise validation_error({"base_url": UNSAFE_URL})
    address = _ip_literal(host)
    if address is not None and (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    ):
        raise validation_error({"base_url": UNSAFE_URL})


# -- schedule timelines ------------------------------------------------------------------------


def timeline(deployment: Deployment, today: dt.date | None = None) -> dict | None:
    """``schedule_timeline`` of a deployment (None without schedule or delays).

    Lists load ``schedule.delays`` with ``selectinload`` so this costs no statement per row.
    """
    if deployment.schedule is None:
        return None
    delays = [DelayRule(d.delay, d.duration) for d in deployment.schedule.delays]
    return schedule_timeline(deployment.start_date, delays, today or dt.date.today())


def percent_clause(lookup: str, value: float, request):
    """``percent__gte`` / ``percent__lt``: deployments whose rollout percent compares to value.

    Quirk F.24 fixed: deployments without a schedule (or with an empty one) never match instead
    of failing. Percents are computed in Python with the same function as the JSON, over the
    scheduled deployments in one statement, then become an ``id IN (...)`` condition.
    """
    session = request.dbsession
    rows = session.execute(
        select(Deployment.id, Deployment.start_date, ScheduleDelay.delay, ScheduleDelay.duration)
        .join(ScheduleDelay, ScheduleDelay.schedule_id == Deployment.schedule_id)
        .where(Deployment.schedule_id.is_not(None))
    ).all()
    starts: dict[int, dt.date] = {}
    delays: dict[int, list[DelayRule]] = defaultdict(list)
    for pk, start, delay, duration in rows:
        starts[pk] = start
        delays[pk].append(DelayRule(delay, duration))
    today = dt.date.today()
    ids = []
    for pk, start in starts.items():
        percent = schedule_timeline(start, delays[pk], today)["percent"]
        if (percent >= value) if lookup == "gte" else (percent < value):
            ids.append(pk)
    return Deployment.id.in_(ids) if ids else false()


# -- filters and ordering (spec D.3 deployments row) -------------------------------------------
def _link_ids(table, column: str) -> Filter:
    clause = related(table.c.deployment_id, table.c[column], owner_id=Deployment.id)
    return Filter(type="int", lookups=("exact", "in"), clause=clause)


def _link_text(table, column: str, model, target) -> Filter:
    """``included_attributes=<text>``: any linked row whose ``target`` contains the text."""
    inner = related(
        table.c.deployment_id,
        target,
        owner_id=Deployment.id,
        join=lambda query: query.join(model, model.id == table.c[column]),
    )
    return Filter(type="str", clause=lambda lookup, value: inner("icontains", value))


def _schedule_clause(lookup: str, value):
    """``schedule__isnull=`` and ``schedule=<true|false|id>`` (the UI sends ``schedule=false``
    meaning "has a schedule", as the original's isnull filter read it)."""
    if lookup == "isnull":
        return compare(Deployment.schedule_id, "isnull", value)
    if not value.strip():
        return true()  # an empty parameter filters nothing, as django-filter does
    if value.strip().isdigit():
        return Deployment.schedule_id == int(value)
    try:
        return compare(Deployment.schedule_id, "isnull", parse_bool(value))
    except ValueError:
        raise validation_error({"schedule": "Enter true, false or an id."}, "querystring") from None


def _platform_clause(lookup: str, value):
    platform = select(Project.id).where(compare(Project.platform_id, lookup, value))
    return Deployment.project_id.in_(platform)


FILTERS = {
    "id": Filter(Deployment.id, "int", ("exact", "in")),
    "name": Filter(Deployment.name, "str", ("exact", "icontains")),
    "project__id": Filter(Deployment.project_id, "int", ("exact", "in")),
    "project__platform__id": Filter(type="int", lookups=("exact", "in"), clause=_platform_clause),
    "enabled": Filter(Deployment.enabled, "bool"),
    "source": Filter(Deployment.source, "str", ("exact", "in")),
    "auto_restart": Filter(Deployment.auto_restart, "bool"),
    "schedule": Filter(type="str", lookups=("exact", "isnull"), clause=_schedule_clause),
    "schedule__id": Filter(Deployment.schedule_id, "int", ("exact", "in")),
    "domain__id": Filter(Deployment.domain_id, "int", ("exact", "in", "isnull")),
    "available_packages__id": _link_ids(deployment_packages, "package_id"),
    "available_package_sets__id": _link_ids(deployment_package_sets, "packageset_id"),
    "included_attributes__id": _link_ids(deployment_included, "attribute_id"),
    "excluded_attributes__id": _link_ids(deployment_excluded, "attribute_id"),
    "included_attributes": _link_text(
        deployment_included, "attribute_id", Attribute, Attribute.value
    ),
    "excluded_attributes": _link_text(
        deployment_excluded, "attribute_id", Attribute, Attribute.value
    ),
    "available_packages": _link_text(deployment_packages, "package_id", Package, Package.name),
    "percent": Filter(
        type="float", lookups=("gte", "lt"), clause=percent_clause, with_request=True
    ),
}
ORDERING = {
    name: getattr(Deployment, column)
    for name, column in {
        "id": "id",
        "name": "name",
        "slug": "slug",
        "start_date": "start_date",
        "enabled": "enabled",
        "auto_restart": "auto_restart",
        "source": "source",
        "project": "project_id",
        "domain": "domain_id",
        "schedule": "schedule_id",
        "comment": "comment",
        "base_url": "base_url",
        "suite": "suite",
        "components": "components",
        "frozen": "frozen",
        "expire": "expire",
    }.items()
}
# The model's ordering (project name, then name); ``query`` joins Project for it.
ORDERING["project__name"] = Project.name


# -- copying a deployment to another project ---------------------------------------------------


class ProjectCopier:
    """Maps stores, packages and package sets of one project onto another (get-or-create).

    Package files are copied on disk (``<public>/<project>/stores/<store>/<fullname>``) when the
    source file exists and the target does not, so the target repository can be generated.
    """

    def __init__(self, request, source: Project, target: Project):
        self.session = request.dbsession
        self.public_dir = request.registry.settings["migasfree.public_dir"]
        self.source, self.target = source, target
        self._stores: dict[int, Store] = {}
        self._packages: dict[int, Package] = {}

    def store(self, store: Store) -> Store:
        if store.id not in self._stores:
            found = self.session.scalars(
                select(Store).where(
                    Store.project_id == self.target.id,
                    (Store.name == store.name) | (Store.slug == store.slug),
                )
            ).first()
            if found is None:
                found = Store(name=store.name, slug=store.slug, project=self.target)
                self.session.add(found)
            self._stores[store.id] = found
        return self._stores[store.id]

    def package(self, package: Package) -> Package | None:
        """The target project's package with the same fullname (None for store-less ones)."""
        if package.store is None:
            return None
        if package.id not in self._packages:
            store = self.store(package.store)
            found = self.session.scalars(
                select(Package).where(
                    Package.project_id == self.target.id, Package.fullname == package.fullname
                )
            ).first()
            if found is None:
                found = Package(
                    fullname=package.fullname,
                    name=package.name,
                    version=package.version,
                    architecture=package.architecture,
                    project=self.target,
                )
                self.session.add(found)
            if found.store is None:
                found.store = store
            self._copy_file(package, found.store)
            self._packages[package.id] = found
        return self._packages[package.id]

    def package_set(self, package_set: PackageSet) -> PackageSet:
        found = self.session.scalars(
            select(PackageSet).where(
                PackageSet.project_id == self.target.id, PackageSet.name == package_set.name
            )
        ).first()
        if found is None:
            found = PackageSet(
                name=package_set.name,
                description=package_set.description,
                project=self.target,
                store=self.store(package_set.store) if package_set.store else None,
            )
            self.session.add(found)
        for package in package_set.packages:
            mapped = self.package(package)
            if mapped is not None and mapped not in found.packages:
                found.packages.append(mapped)
        return found

    def _path(self, project: Project, store: Store, fullname: str) -> str | None:
        base = os.path.realpath(self.public_dir)
        path = os.path.realpath(os.path.join(base, project.slug, "stores", store.slug, fullname))
        # Names come from the database, but never let one escape the public directory.
        return path if path.startswith(base + os.sep) else None

    def _copy_file(self, package: Package, target_store: Store) -> None:
        origin = self._path(self.source, package.store, package.fullname)
        destination = self._path(self.target, target_store, package.fullname)
        if origin and destination and os.path.isfile(origin) and not os.path.exists(destination):
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            shutil.copy2(origin, destination)


def copy_target(request, source: Deployment) -> Project:
    """The project named by the ``copy/`` body, with the original's 400/404 answers."""
    raw = json_body(request).get("project") if request.body else None
    if raw is None or raw == "":
        raise bad_request("Target project is required", "project")
    if isinstance(raw, bool) or not str(raw).strip().isdigit():
        raise bad_request("A valid integer is required.", "project")
    if int(raw) == source.project_id:
        raise bad_request("Source and target project must be different", "project")
    try:
        return load_row(request, Project, int(raw), "project")
    except APIError:
        raise not_found("Target project not found") from None


def copy_deployment(request, source: Deployment, target: Project) -> tuple[Deployment, int, int]:
    """A new deployment in ``target`` like ``source``; returns it and the copied counts."""
    copier = ProjectCopier(request, source.project, target)
    packages = [p for p in map(copier.package, source.available_packages) if p is not None]
    package_sets = [copier.package_set(s) for s in source.available_package_sets]
    copy = Deployment(
        name=source.name,
        slug=slugify(source.name),
        project=target,
        source=source.source,
        enabled=source.enabled,
        domain=source.domain,
        comment=source.comment,
        schedule=source.schedule,
        start_date=source.start_date,
        auto_restart=source.auto_restart,
        base_url=source.base_url,
        options=source.options,
        suite=source.suite,
        components=source.components,
        frozen=source.frozen,
        expire=source.expire,
        included_attributes=list(source.included_attributes),
        excluded_attributes=list(source.excluded_attributes),
        available_packages=list(dict.fromkeys(packages)),
        available_package_sets=list(dict.fromkeys(package_sets)),
    )
    for field in PACKAGE_LIST_FIELDS:
        setattr(copy, field, getattr(source, field))
    request.dbsession.add(copy)
    return copy, len(copy.available_packages), len(copy.available_package_sets)
