"""Deployments: ``deployments/`` (every source), ``deployments/internal-sources/`` and
``deployments/external-sources/`` (spec A.1.9, B.5, B.6, B.12, B.13, D.3).

The repositories themselves are another module's job: this one announces what happened through
two events, ``RepositoryRebuildRequested`` and ``DeploymentRemoved``. They are notified inside the
request's transaction, after the flush; a subscriber that starts background work should wait for
the commit (e.g. ``request.tm.get().addAfterCommitHook``), since the request may still fail.

Quirk F.28 is not reproduced: saving a deployment does not recompute the stats' Redis "assigned
computers" set synchronously; that belongs to the stats module, off the request path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import colander
from pyramid.authorization import Deny
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..api import Resource, action
from ..api.errors import bad_request, validation_error
from ..api.related import ensure_unique, load_row, load_rows
from ..api.resource import flush_or_conflict
from ..api.schemas import (
    Boolean,
    Choice,
    Date,
    IdList,
    Integer,
    OptionalText,
    Schema,
    StringList,
    Text,
)
from ..models import Attribute, Deployment, Domain, Package, PackageSet, Project, Schedule
from ..models.deployments import (
    PACKAGE_LIST_FIELDS,
    SOURCE_EXTERNAL,
    SOURCE_INTERNAL,
    SOURCES,
)
from ..pms import AVAILABLE_PMS
from ..scoping import Custom, delegated_domains
from ..text import from_lines, slugify, to_lines
from . import deployment_rules as rules
from .nested import attributes, named, package_info, project_info


# -- events ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RepositoryRebuildRequested:
    """An internal deployment's repository metadata must be (re)generated.

    ``old_slug`` is set on a rename: the repository under the old slug must go.
    """

    deployment_id: int
    old_slug: str | None = None
    request: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class DeploymentRemoved:
    """A deployment was deleted (or stopped being internal): its directory can be removed."""

    deployment_id: int
    project_slug: str
    slug: str
    source: str
    request: Any = field(default=None, repr=False, compare=False)


# -- write schemas -----------------------------------------------------------------------------
# Optional fields are dropped when absent, on PUT too: DRF leaves omitted non-required fields
# untouched, and a PUT without ``start_date`` must not move a rollout to today.
DROP = colander.drop


def OptionalId():
    return Integer(required=False, nullable=True, missing=DROP)


class CommonSchema(Schema):
    enabled = Boolean(missing=DROP)
    project = Integer()
    domain = OptionalId()
    name = Text(50)
    comment = OptionalText()
    included_attributes = IdList(missing=DROP)
    excluded_attributes = IdList(missing=DROP)
    packages_to_install = StringList(missing=DROP)
    packages_to_remove = StringList(missing=DROP)
    default_preincluded_packages = StringList(missing=DROP)
    default_included_packages = StringList(missing=DROP)
    default_excluded_packages = StringList(missing=DROP)
    schedule = OptionalId()
    start_date = Date(missing=DROP)
    auto_restart = Boolean(missing=DROP)


class InternalSourceSchema(CommonSchema):
    available_packages = IdList(missing=DROP)
    available_package_sets = IdList(missing=DROP)


class ExternalSourceSchema(CommonSchema):
    base_url = Text(100)
    options = OptionalText(250)
    suite = OptionalText(50)
    components = OptionalText(100)
    frozen = Boolean(missing=DROP)
    expire = Integer(minimum=0, missing=DROP)


class DeploymentSchema(InternalSourceSchema):
    source = Choice(SOURCES, missing=DROP)
    base_url = OptionalText(100)
    options = OptionalText(250)
    suite = OptionalText(50)
    components = OptionalText(100)
    frozen = Boolean(missing=DROP)
    expire = Integer(minimum=0, missing=DROP)


DELAYS = joinedload(Deployment.schedule).selectinload(Schedule.delays)
ATTRIBUTES = (
    selectinload(Deployment.included_attributes),
    selectinload(Deployment.excluded_attributes),
)
PACKAGES = (
    selectinload(Deployment.available_packages),
    selectinload(Deployment.available_package_sets),
)
ALL_RELATIONS = (DELAYS, *ATTRIBUTES, *PACKAGES)


# -- JSON shapes -------------------------------------------------------------------------------
def offered_packages(obj: Deployment) -> list[dict]:
    return [package_info(p) for p in sorted(obj.available_packages, key=lambda p: p.fullname)]


def offered_sets(obj: Deployment) -> list[dict]:
    return [named(s) for s in sorted(obj.available_package_sets, key=lambda s: s.name)]


def package_lists(obj: Deployment) -> dict:
    return {name: from_lines(getattr(obj, name)) for name in PACKAGE_LIST_FIELDS}


def deployment_list(obj: Deployment) -> dict:
    """``DeploymentListSerializer``."""
    return {
        "id": obj.id,
        "project": project_info(obj.project),
        "domain": named(obj.domain),
        "schedule": named(obj.schedule),
        "source": obj.source,
        "frozen": obj.frozen,
        "name": obj.name,
        "slug": obj.slug,
        "comment": obj.comment,
        "start_date": obj.start_date,
        "enabled": obj.enabled,
        "auto_restart": obj.auto_restart,
        "schedule_timeline": rules.timeline(obj),
    }


def deployment_detail(obj: Deployment) -> dict:
    """``DeploymentSerializer``: every field, nested."""
    return {
        **deployment_list(obj),
        **package_lists(obj),
        "included_attributes": attributes(obj.included_attributes),
        "excluded_attributes": attributes(obj.excluded_attributes),
        "available_packages": offered_packages(obj),
        "available_package_sets": offered_sets(obj),
        "base_url": obj.base_url,
        "options": obj.options,
        "suite": obj.suite,
        "components": obj.components,
        "expire": obj.expire,
    }


def source_common(obj: Deployment) -> dict:
    """Read fields shared by internal and external sources."""
    return {
        "id": obj.id,
        "enabled": obj.enabled,
        "project": project_info(obj.project),
        "domain": named(obj.domain),
        "name": obj.name,
        "slug": obj.slug,
        "comment": obj.comment,
        "included_attributes": attributes(obj.included_attributes),
        "excluded_attributes": attributes(obj.excluded_attributes),
        **package_lists(obj),
        "schedule": named(obj.schedule),
        "start_date": obj.start_date,
        "auto_restart": obj.auto_restart,
    }


# -- resources ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Snapshot:
    """What a write may change that the repositories care about."""

    source: str
    name: str
    slug: str
    packages: frozenset[int]
    package_sets: frozenset[int]

    @classmethod
    def of(cls, obj: Deployment) -> Snapshot:
        return cls(
            obj.source,
            obj.name,
            obj.slug,
            frozenset(p.id for p in obj.available_packages),
            frozenset(s.id for s in obj.available_package_sets),
        )


def scope_deployments(request, query, vis):
    """Deployments of the visible projects that are global or belong to a domain in view
    (spec C.4). Scope-only users (no domain) see every deployment of their projects."""
    query = query.where(Deployment.project_id.in_(vis.projects))
    if vis.domain_ids:
        query = query.where(
            Deployment.domain_id.is_(None) | Deployment.domain_id.in_(vis.domain_ids)
        )
    return query


class BaseDeploymentResource(Resource):
    model = Deployment
    permission_model = "core.deployment"
    scoping = Custom(scope_deployments, "deployments of visible projects, global or of the domain")
    source: ClassVar[str | None] = None
    filters = rules.FILTERS
    ordering = rules.ORDERING
    default_ordering = ("project__name", "name")
    detail_options = ALL_RELATIONS

    def query(self, request):
        query = select(Deployment).join(Project, Deployment.project_id == Project.id)
        # FIX F.2: the proxy routes list only their own source.
        return query if self.source is None else query.where(Deployment.source == self.source)

    # -- writing -------------------------------------------------------------------------------
    def create(self, request, data):
        obj = Deployment(source=self.source or SOURCE_INTERNAL)
        self.apply(request, obj, data, creating=True)
        request.dbsession.add(obj)
        flush_or_conflict(request)
        if obj.source == SOURCE_INTERNAL:
            request.registry.notify(RepositoryRebuildRequested(obj.id, request=request))
        return obj

    def update(self, request, obj, data):
        before = Snapshot.of(obj)
        self.apply(request, obj, data, creating=False)
        flush_or_conflict(request)
        after = Snapshot.of(obj)
        if after.source == SOURCE_INTERNAL and after != before:
            renamed = before.source == SOURCE_INTERNAL and before.slug != after.slug
            request.registry.notify(
                RepositoryRebuildRequested(
                    obj.id, old_slug=before.slug if renamed else None, request=request
                )
            )
        elif before.source == SOURCE_INTERNAL and after.source != SOURCE_INTERNAL:
            request.registry.notify(
                DeploymentRemoved(
                    obj.id, obj.project.slug, before.slug, SOURCE_INTERNAL, request=request
                )
            )

    def delete(self, request, obj):
        event = DeploymentRemoved(obj.id, obj.project.slug, obj.slug, obj.source, request=request)
        request.dbsession.delete(obj)
        flush_or_conflict(request)
        request.registry.notify(event)

    def item_acl(self, obj, request):
        """A delegated administrator changes and deletes only the deployments of their
        domains; global deployments (no domain) and other domains' are read-only for them
        (stricter than the original, whose REST API let them edit global ones: spec F.4)."""
        domains = delegated_domains(request)
        if domains is None or (obj.domain_id is not None and obj.domain_id in domains):
            return []
        actions = [self.permission(a) for a in ("change", "delete")]
        return [(Deny, request.identity.userid, actions)]

    def check_domain_rules(self, request, obj, data: dict, creating: bool) -> None:
        """A delegated administrator's write rules (spec C.5, quirk F.4), enforced in the API:
        the deployment belongs to one of their domains (their preference when they have one,
        forced when only one is possible) and its name carries the domain's prefix."""
        domains = delegated_domains(request)
        if domains is None:
            return
        if "domain" in data or creating:
            wanted = data.get("domain")
            if wanted is None:
                if len(domains) != 1:
                    raise validation_error({"domain": "Domain can not be empty"})
                wanted = domains[0]
            elif wanted not in domains:
                raise validation_error({"domain": "Domain must be one of your domains"})
            data["domain"] = wanted
        if "name" in data or "domain" in data:
            domain_id = data.get("domain", obj.domain_id)
            domain = request.dbsession.get(Domain, domain_id)
            prefix = f"{domain.name.lower()}_"
            name = data.get("name", obj.name)
            if not name.lower().startswith(prefix):
                data["name"] = (prefix + name)[:50]

    def apply(self, request, obj, data, creating):
        self.check_domain_rules(request, obj, data, creating)
        if creating:
            obj.project = load_row(request, Project, data["project"], "project")
        elif "project" in data and data["project"] != obj.project_id:
            # FIX F.20: a clear 400 instead of the original's 500.
            raise validation_error({"project": "Is not allowed change project"})
        project = obj.project
        if "name" in data:
            self._set_name(request, obj, project, data["name"])
        if "domain" in data:
            obj.domain = load_row(request, Domain, data["domain"], "domain")
        if "schedule" in data:
            obj.schedule = load_row(request, Schedule, data["schedule"], "schedule")
        for name in ("included_attributes", "excluded_attributes"):
            if name in data:
                rows = load_rows(request, Attribute, data[name], name)
                rules.check_active_computers(request, name, rows)
                setattr(obj, name, rows)
        if "available_packages" in data:
            rows = load_rows(request, Package, data["available_packages"], "available_packages")
            rules.check_same_project("available_packages", rows, project, "Package")
            obj.available_packages = rows
        if "available_package_sets" in data:
            ids = data["available_package_sets"]
            rows = load_rows(request, PackageSet, ids, "available_package_sets")
            rules.check_same_project("available_package_sets", rows, project, "Package set")
            obj.available_package_sets = rows
        for name in PACKAGE_LIST_FIELDS:
            if name in data:
                setattr(obj, name, to_lines(data[name]))
        for name in ("enabled", "comment", "start_date", "auto_restart", "frozen", "expire"):
            if name in data:
                setattr(obj, name, data[name])
        for name in ("base_url", "options", "suite", "components"):
            if name in data:
                setattr(obj, name, data[name] or None)
        if "source" in data and self.source is None:
            obj.source = data["source"]
        if obj.source == SOURCE_EXTERNAL and (creating or {"base_url", "source"} & data.keys()):
            rules.check_base_url(obj.base_url)

    def _set_name(self, request, obj, project, name: str) -> None:
        slug = slugify(name)
        if not slug:
            raise validation_error({"name": "The name must contain letters or digits."})
        for column, value, what in (("name", name, "name"), ("slug", slug, "slug")):
            ensure_unique(
                request,
                Deployment,
                "name",
                {column: value, "project_id": project.id},
                obj.id,
                f"A deployment with this {what} already exists in the project.",
            )
        obj.name, obj.slug = name, slug


class DeploymentResource(BaseDeploymentResource):
    path = "deployments"
    schema = DeploymentSchema
    search_fields = (Deployment.name, *(getattr(Deployment, n) for n in PACKAGE_LIST_FIELDS))
    list_options = (DELAYS,)

    def serialize(self, obj, request):
        return deployment_detail(obj)

    def serialize_list(self, obj, request):
        return deployment_list(obj)


class InternalSourceResource(BaseDeploymentResource):
    path = "deployments/internal-sources"
    source = SOURCE_INTERNAL
    schema = InternalSourceSchema
    exportable = False
    list_options = (*ATTRIBUTES, *PACKAGES)

    def serialize(self, obj, request):
        return {
            **source_common(obj),
            "available_packages": offered_packages(obj),
            "available_package_sets": offered_sets(obj),
        }

    @action("metadata", detail=True, methods=("GET", "POST"), permission="change")
    def metadata(self, request, context):
        """Ask for the repository metadata to be generated again."""
        if context.obj.project.pms not in AVAILABLE_PMS:
            raise bad_request("Unsupported PMS for this deployment")
        request.registry.notify(RepositoryRebuildRequested(context.obj.id, request=request))
        return {"detail": "Operation received"}

    @action("generating", detail=False)
    def generating(self, request, context):
        """Deployments whose repository is being generated (ids from the repositories module)."""
        provider = request.registry.get("migasfree.generating_deployments")
        ids = list(provider(request)) if provider is not None else []
        if not ids:
            return []
        query = context.scoped_query().where(Deployment.id.in_(ids))
        query = query.order_by(Project.name, Deployment.name).options(*ALL_RELATIONS)
        return [deployment_detail(row) for row in request.dbsession.scalars(query).unique()]

    @action("copy", detail=True, methods=("POST",), permission="add")
    def copy(self, request, context):
        """Copy the deployment, its packages and package sets into another project."""
        source = context.obj
        target = rules.copy_target(request, source)
        taken = select(Deployment.id).where(
            Deployment.project_id == target.id,
            (Deployment.name == source.name) | (Deployment.slug == slugify(source.name)),
        )
        if request.dbsession.scalars(taken.limit(1)).first() is not None:
            return {
                "created": False,
                "skipped_name": source.name,
                "copied_packages": 0,
                "copied_package_sets": 0,
            }
        copy, packages, package_sets = rules.copy_deployment(request, source, target)
        flush_or_conflict(request)
        request.registry.notify(RepositoryRebuildRequested(copy.id, request=request))
        request.response.status_code = 201
        return {
            "created": True,
            "deployment_id": copy.id,
            "deployment_name": copy.name,
            "copied_packages": packages,
            "copied_package_sets": package_sets,
        }


class ExternalSourceResource(BaseDeploymentResource):
    path = "deployments/external-sources"
    source = SOURCE_EXTERNAL
    schema = ExternalSourceSchema
    exportable = False
    list_options = ATTRIBUTES

    def serialize(self, obj, request):
        return {
            **source_common(obj),
            "base_url": obj.base_url,
            "options": obj.options,
            "suite": obj.suite,
            "components": obj.components,
            "frozen": obj.frozen,
            "expire": obj.expire,
        }


def includeme(config) -> None:
    # The general resource first: ``related.load_rows`` scopes Deployment ids through the first
    # resource registered for the model, and that one must not filter by source.
    for resource in (DeploymentResource, InternalSourceResource, ExternalSourceResource):
        config.register_resource(resource)
