"""Packages and package sets (spec D.3 ``packages/`` and ``package-sets/``, A.1.7-A.1.8).

Package files are uploaded as multipart/form-data. The generic create view of the resource
framework reads JSON, so ``includeme`` adds multipart views on the same routes with a
Content-Type predicate: Pyramid tries the view with more predicates first, so multipart bodies
reach these views and everything else the generic ones. File handling is in ``package_files``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any
from urllib.parse import quote

from sqlalchemy import delete, select, union
from sqlalchemy.orm import selectinload

from ..api import Resource, action
from ..api.errors import APIError, bad_request, not_found, validation_error
from ..api.filters import Filter, compare, related
from ..api.related import ensure_unique, load_row, load_rows
from ..api.resource import flush_or_conflict
from ..api.schemas import (
    IdList,
    Integer,
    Schema,
    Text,
    json_body,
    partial,
    validate,
)
from ..models import Package, PackageSet, Project, Store
from ..models.deployments import deployment_package_sets, deployment_packages
from ..models.packages import package_set_packages
from ..scoping import ByProject
from ..security.permissions import perm
from . import package_files as files
from .nested import named, package_info, project_info, store_info

MULTIPART = "Content-Type:(?i)multipart/form-data"
URL_SAFE = "/+:~@!$&'()*,;="
DP, DPS, PSP = deployment_packages.c, deployment_package_sets.c, package_set_packages.c


@dataclass(frozen=True)
class PackagesChanged:
    """Event: packages of a project were stored, removed or regrouped in package sets.

    ``deployment_ids`` are the deployments that list (for a removal: listed) these packages,
    directly or through a package set: the repositories to rebuild. It is notified inside the
    transaction; subscribers defer their work until commit (``request.enqueue``).
    """

    project_id: int
    package_ids: tuple[int, ...]
    deployment_ids: tuple[int, ...] = ()
    request: Any = field(default=None, compare=False, repr=False)


def affected_deployments(session, package_ids=(), set_ids=()) -> tuple[int, ...]:
    """Deployments listing any of the packages (directly or through a set) or any of the sets."""
    package_ids, set_ids = list(package_ids), list(set_ids)
    sets = select(PSP.packageset_id).where(PSP.package_id.in_(package_ids))
    query = union(
        select(DP.deployment_id).where(DP.package_id.in_(package_ids)),
        select(DPS.deployment_id).where(
            DPS.packageset_id.in_(sets) | DPS.packageset_id.in_(set_ids)
        ),
    )
    return tuple(sorted(session.scalars(query)))


def notify_changed(request, project_id, package_ids, set_ids=(), deployment_ids=None) -> None:
    ids = tuple(dict.fromkeys(package_ids))
    if deployment_ids is None:
        deployment_ids = affected_deployments(request.dbsession, ids, set_ids)
    request.registry.notify(PackagesChanged(project_id, ids, tuple(deployment_ids), request))


def via(fk, column, type_: str = "str", lookups=("exact", "icontains")) -> Filter:
    """A filter on a column of the row that ``fk`` points at (``project__name``)."""

    def clause(lookup, value):
        return fk.in_(select(column.class_.id).where(compare(column, lookup, value)))

    return Filter(type=type_, lookups=lookups, clause=clause)


def linked(link_key, target, owner_id, lookups=("exact", "in")) -> Filter:
    return Filter(type="int", lookups=lookups, clause=related(link_key, target, owner_id=owner_id))


def name_of(model, fk):
    """``<model>.name`` of the row ``fk`` points at, to order by (``project__name``)."""
    return select(model.name).where(model.id == fk).scalar_subquery()


def package_url(request, package: Package) -> str:
    if package.store is None:
        return ""
    prefix = request.registry.settings.get("migasfree.public_url") or "/pub/"
    path = f"{package.project.slug}/stores/{package.store.slug}/{package.fullname}"
    return prefix.rstrip("/") + "/" + quote(path, safe=URL_SAFE)


class PackageResource(Resource):
    path = "packages"
    model = Package
    permission_model = "core.package"
    scoping = ByProject(Package.project_id)
    operations = frozenset({"list", "create", "retrieve", "destroy"})
    filters = {
        "id": Filter(Package.id, "int", ("exact", "in")),
        "fullname": Filter(Package.fullname, "str", ("exact", "icontains")),
        "name": Filter(Package.name, "str", ("exact", "icontains")),
        "version": Filter(Package.version, "str", ("exact", "icontains")),
        "architecture": Filter(Package.architecture, "str", ("exact", "icontains")),
        "project__id": Filter(Package.project_id, "int", ("exact", "in")),
        "project__name": via(Package.project_id, Project.name),
        "project__platform__id": via(
            Package.project_id, Project.platform_id, "int", ("exact", "in")
        ),
        "deployment": linked(DP.package_id, DP.deployment_id, Package.id, ("isnull",)),
        "deployment__id": linked(DP.package_id, DP.deployment_id, Package.id),
        "store": Filter(Package.store_id, "int", ("isnull",)),
        "store__id": Filter(Package.store_id, "int", ("exact", "in")),
        "store__name": via(Package.store_id, Store.name),
        "packageset": linked(PSP.package_id, PSP.packageset_id, Package.id, ("isnull",)),
        "packageset__id": linked(PSP.package_id, PSP.packageset_id, Package.id),
    }
    search_fields = (Package.fullname,)
    ordering = {
        "id": Package.id,
        "fullname": Package.fullname,
        "name": Package.name,
        "version": Package.version,
        "architecture": Package.architecture,
        "project": Package.project_id,
        "store": Package.store_id,
        "project__name": name_of(Project, Package.project_id),
    }
    default_ordering = ("fullname", "version", "project__name")

    def serialize(self, obj, request):
        store = obj.store
        return {
            "id": obj.id,
            "fullname": obj.fullname,
            "name": obj.name,
            "version": obj.version,
            "architecture": obj.architecture,
            "project": named(obj.project),
            "store": {"id": store.id if store else 0, "name": store.name if store else ""},
            "url": package_url(request, obj),
        }

    def write_schema(self, request, obj=None):
        # Only non-multipart bodies get here (see the module docstring): answer clearly.
        raise validation_error(
            {"files": "Upload the package as multipart/form-data: a 'files' file and a 'store' id."}
        )

    def delete(self, request, obj) -> None:
        """Remove the package from deployments and package sets, then the row; its file goes
        after commit. (Packages with install history keep their row once the clients addon
        brings package history: that rule belongs there.)"""
        session = request.dbsession
        deployments = affected_deployments(session, [obj.id])
        path = files.package_path(request, obj)
        project_id, pk = obj.project_id, obj.id
        # The link tables also cascade in the database; deleting here states the rule.
        session.execute(delete(deployment_packages).where(DP.package_id == pk))
        session.execute(delete(package_set_packages).where(PSP.package_id == pk))
        session.delete(obj)
        files.remove_after_commit(request, path)
        notify_changed(request, project_id, [pk], deployment_ids=deployments)

    @action("orphan", detail=False)
    def orphan(self, request, context):
        """Stored packages no deployment and no package set lists: an unpaginated list.

        Fixes F.26: the original ignored package sets and the caller's scope.
        """
        query = (
            context.scoped_query()
            .where(
                Package.store_id.is_not(None),
                ~select(DP.package_id).where(DP.package_id == Package.id).exists(),
                ~select(PSP.package_id).where(PSP.package_id == Package.id).exists(),
            )
            .order_by(Package.fullname, Package.id)
        )
        return self.load_list(request.dbsession.scalars(query).unique().all(), request)

    @action("info", detail=True)
    def info(self, request, context):
        """``{data: text}``: what the server knows without the PMS tools (file name, size,
        SHA-256, name/version/architecture). The PMS's own description of the package
        (``dpkg-deb --info`` and the like) comes with the repositories issue."""
        package = context.obj
        path = files.package_path(request, package)
        if path is None:
            raise bad_request("The package has no store on the server")
        lines = [
            f"File: {package.fullname}",
            f"Name: {package.name}",
            f"Version: {package.version}",
            f"Architecture: {package.architecture}",
            f"Project: {package.project.name}",
            f"Store: {package.store.name}",
        ]
        try:
            size, digest = files.file_digest(path)
        except FileNotFoundError:
            lines.append("Size: unknown (the file is missing from the store)")
        else:
            lines += [f"Size: {size} bytes", f"SHA256: {digest}"]
        return {"data": "\n".join(lines)}


def upload_package_view(request):
    """POST ``packages/`` as multipart: ``files`` (the first file is used) and ``store``."""
    resource = request.context.resource
    form = files.multipart_form(request)
    raw = form.get("store")
    errors = {}
    if not isinstance(raw, str) or not raw.strip():
        errors["store"] = "This field is required."
    elif not raw.strip().isdigit():
        errors["store"] = "A valid integer is required."
    if not form.getall("files"):
        errors["files"] = "No file was submitted."
    if errors:
        raise validation_error(errors)
    store = load_row(request, Store, int(raw), "store")
    upload = files.read_uploads(form)[0]
    planned = files.plan_uploads(request, store, [upload], files.already_exists)
    package = files.save_uploads(request, store, planned, files.already_exists)[0]
    notify_changed(request, store.project_id, [package.id])
    request.response.status_code = 201
    return resource.serialize(package, request)


class PackageSetSchema(Schema):
    name = Text(50)
    description = Text(required=False, nullable=True)
    project = Integer()
    store = Integer(required=False, nullable=True)  # null clears the store
    packages = IdList()


class PackageSetResource(Resource):
    path = "package-sets"
    model = PackageSet
    permission_model = "core.packageset"
    scoping = ByProject(PackageSet.project_id)
    schema = PackageSetSchema
    list_options = (selectinload(PackageSet.packages),)
    detail_options = (selectinload(PackageSet.packages),)
    filters = {
        "id": Filter(PackageSet.id, "int", ("exact", "in")),
        "name": Filter(PackageSet.name, "str", ("exact", "icontains")),
        "project__id": Filter(PackageSet.project_id, "int", ("exact", "in")),
        "project__name": via(PackageSet.project_id, Project.name),
        "project__platform__id": via(
            PackageSet.project_id, Project.platform_id, "int", ("exact", "in")
        ),
        "store__id": Filter(PackageSet.store_id, "int", ("exact", "in")),
        "store__name": via(PackageSet.store_id, Store.name),
        "packages__id": linked(PSP.packageset_id, PSP.package_id, PackageSet.id),
        "packages": linked(PSP.packageset_id, PSP.package_id, PackageSet.id, ("isnull",)),
        "deployment": linked(DPS.packageset_id, DPS.deployment_id, PackageSet.id, ("isnull",)),
    }
    search_fields = (PackageSet.name,)
    ordering = {
        "id": PackageSet.id,
        "name": PackageSet.name,
        "description": PackageSet.description,
        "project": PackageSet.project_id,
        "store": PackageSet.store_id,
        "project__name": name_of(Project, PackageSet.project_id),
    }
    default_ordering = ("project__name", "name")

    def serialize(self, obj, request):
        packages = sorted(obj.packages, key=lambda p: (p.fullname, p.id))
        return {
            "id": obj.id,
            "name": obj.name,
            "description": obj.description,
            "project": project_info(obj.project),
            "store": store_info(obj.store),
            "packages": [package_info(p) for p in packages],
        }

    def apply(self, request, obj, data, creating):
        """Check the final state: store and packages in the set's project, packages in the
        set's store (when it has one), name unique in the project."""
        project = (
            load_row(request, Project, data["project"], "project")
            if "project" in data
            else obj.project
        )
        store = load_row(request, Store, data["store"], "store") if "store" in data else obj.store
        if "packages" in data:
            packages = load_rows(request, Package, data["packages"], "packages")
        else:
            packages = list(obj.packages)
        if store is not None and store.project_id != project.id:
            raise validation_error({"store": "Store must belong to the project"})
        for package in packages:
            if package.project_id != project.id:
                message = f"Package {package.fullname} must belong to the project {project.name}"
                raise validation_error({"packages": message})
            if store is not None and package.store_id != store.id:
                message = f"Package {package.fullname} must belong to the store {store.name}"
                raise validation_error({"packages": message})
        name = data.get("name", obj.name)
        if "name" in data or "project" in data:
            ensure_unique(
                request,
                PackageSet,
                "name",
                {"name": name, "project_id": project.id},
                obj.id,
                "A package set with this name already exists in the project.",
            )
        obj.name, obj.project, obj.store = name, project, store
        if "description" in data:
            obj.description = data["description"]
        if "packages" in data or creating:
            obj.packages = packages

    def update(self, request, obj, data) -> None:
        before = [p.id for p in obj.packages]
        store_before = obj.store_id
        super().update(request, obj, data)
        after = [p.id for p in obj.packages]
        if before != after or store_before != (obj.store.id if obj.store else None):
            notify_changed(request, obj.project.id, before + after, set_ids=[obj.id])

    def delete(self, request, obj) -> None:
        deployments = affected_deployments(request.dbsession, set_ids=[obj.id])
        project_id, package_ids = obj.project_id, [p.id for p in obj.packages]
        request.dbsession.delete(obj)
        notify_changed(request, project_id, package_ids, deployment_ids=deployments)

    @action("copy", detail=True, methods=("POST",), permission="add")
    def copy(self, request, context):
        """Copy the set into another project: stores are matched by name (created if missing),
        files copied (F.16 fixed: the original failed whenever a file had to be copied) and
        packages already stored in the target project reused, never overwritten."""
        source = context.obj
        body = json_body(request) if request.body else {}
        if body.get("project") in (None, ""):
            raise validation_error({"project": "Target project is required"})
        pk = validate(CopySchema(), body)["project"]
        if pk == source.project_id:
            raise validation_error({"project": "Source and target project must be different"})
        try:
            target = load_row(request, Project, pk, "project")
        except APIError:
            raise not_found("Target project not found") from None
        session = request.dbsession
        taken = select(PackageSet.id).where(
            PackageSet.project_id == target.id, PackageSet.name == source.name
        )
        if session.scalars(taken).first() is not None:
            return {"created": False, "skipped_name": source.name, "copied_packages": 0}
        store = files.target_store(request, target, source.store.name) if source.store else None
        packages = [
            files.copy_package(request, p, target)
            for p in sorted(source.packages, key=attrgetter("id"))
        ]
        copied = PackageSet(
            name=source.name,
            description=source.description,
            project=target,
            store=store,
            packages=list(dict.fromkeys(packages)),
        )
        session.add(copied)
        flush_or_conflict(request)
        notify_changed(request, target.id, [p.id for p in packages], set_ids=[copied.id])
        request.response.status_code = 201
        return {
            "created": True,
            "package_set_id": copied.id,
            "package_set_name": copied.name,
            "copied_packages": len(packages),
        }


class CopySchema(Schema):
    project = Integer()


# -- package sets as multipart (create and partial update with uploaded files) ---------------


def save_set_uploads(request, package_set: PackageSet, planned: list) -> None:
    if not planned:
        return
    store = package_set.store
    packages = files.save_uploads(request, store, planned, files.duplicated_in_store)
    package_set.packages.extend(p for p in packages if p not in package_set.packages)
    request.dbsession.flush()
    notify_changed(request, package_set.project_id, [p.id for p in packages], [package_set.id])


def create_set_view(request):
    resource = request.context.resource
    form = files.multipart_form(request)
    data = validate(resource.write_schema(request), files.set_form_data(form))
    planned = files.plan_set_uploads(request, form, data, None)
    obj = resource.create(request, data)
    flush_or_conflict(request)
    save_set_uploads(request, obj, planned)
    request.dbsession.refresh(obj)
    request.response.status_code = 201
    return resource.serialize(obj, request)


def update_set_view(request):
    context = request.context
    resource, obj = context.resource, context.obj
    form = files.multipart_form(request)
    data = validate(partial(resource.write_schema(request, obj)), files.set_form_data(form))
    planned = files.plan_set_uploads(request, form, data, obj)
    resource.update(request, obj, data)
    flush_or_conflict(request)
    save_set_uploads(request, obj, planned)
    request.dbsession.refresh(obj)
    return resource.serialize(obj, request)


def includeme(config) -> None:
    config.register_resource(PackageResource)
    config.register_resource(PackageSetResource)
    views = (
        (upload_package_view, "packages.collection", "POST", perm("core.package", "add")),
        (create_set_view, "package-sets.collection", "POST", perm("core.packageset", "add")),
        (update_set_view, "package-sets.item", "PATCH", perm("core.packageset", "change")),
    )
    for view, route, method, permission in views:
        config.add_view(
            view,
            route_name=route,
            request_method=method,
            header=MULTIPART,
            permission=permission,
            renderer="json",
        )
