"""Platforms, projects and stores (spec D.3)."""

from __future__ import annotations

from sqlalchemy import select

from ..api import Resource
from ..api.errors import validation_error
from ..api.filters import Filter, related
from ..api.related import ensure_unique, load_row
from ..api.schemas import Boolean, Choice, Integer, Schema, Text
from ..models import Computer, Deployment, Package, PackageSet, Platform, Project, Store
from ..pms import AVAILABLE_PMS
from ..scoping import ByProject, Custom
from ..text import slugify
from .nested import named, project_info


def raise_invalid(field: str, message: str):
    return validation_error({field: message})


class PlatformSchema(Schema):
    name = Text(50)


class PlatformResource(Resource):
    path = "platforms"
    model = Platform
    permission_model = "core.platform"
    scoping = Custom(
        lambda request, query, vis: query.where(
            Platform.id.in_(select(Project.platform_id).where(Project.id.in_(vis.projects)))
        ),
        "platforms of the visible projects",
    )
    schema = PlatformSchema
    filters = {
        "id": Filter(Platform.id, "int", ("exact", "in")),
        "name": Filter(Platform.name, "str", ("exact", "icontains")),
        "project__id": Filter(
            type="int",
            lookups=("exact", "in"),
            clause=related(Project.platform_id, Project.id, owner_id=Platform.id),
        ),
    }
    search_fields = (Platform.name,)
    ordering = {"id": Platform.id, "name": Platform.name}
    default_ordering = ("name",)

    def serialize(self, obj, request):
        return {"id": obj.id, "name": obj.name}

    def apply(self, request, obj, data, creating):
        if "name" in data:
            ensure_unique(request, Platform, "name", {"name": data["name"]}, obj.id)
            obj.name = data["name"]


class ProjectSchema(Schema):
    name = Text(50)
    pms = Choice(AVAILABLE_PMS)
    architecture = Text(20)
    auto_register_computers = Boolean(default=False)
    platform = Integer()


def _project_related(column, target):
    return Filter(
        type="int", lookups=("exact", "in"), clause=related(column, target, owner_id=Project.id)
    )


class ProjectResource(Resource):
    path = "projects"
    model = Project
    permission_model = "core.project"
    scoping = ByProject(Project.id)
    schema = ProjectSchema
    filters = {
        "id": Filter(Project.id, "int", ("exact", "in")),
        "platform__id": Filter(Project.platform_id, "int", ("exact", "in")),
        "name": Filter(Project.name, "str", ("exact", "icontains")),
        "pms": Filter(Project.pms, "str", ("exact", "icontains")),
        "auto_register_computers": Filter(Project.auto_register_computers, "bool"),
        "deployment__id": _project_related(Deployment.project_id, Deployment.id),
        "store__id": _project_related(Store.project_id, Store.id),
        "package__id": _project_related(Package.project_id, Package.id),
        "packageset__id": _project_related(PackageSet.project_id, PackageSet.id),
        "computer__id": _project_related(Computer.project_id, Computer.id),
    }
    search_fields = (Project.name,)
    ordering = {
        "id": Project.id,
        "name": Project.name,
        "slug": Project.slug,
        "pms": Project.pms,
        "architecture": Project.architecture,
        "auto_register_computers": Project.auto_register_computers,
        "platform": Project.platform_id,
    }
    default_ordering = ("name",)

    def serialize(self, obj, request):
        return {
            "id": obj.id,
            "name": obj.name,
            "slug": obj.slug,
            "pms": obj.pms,
            "architecture": obj.architecture,
            "auto_register_computers": obj.auto_register_computers,
            "platform": named(obj.platform),
        }

    def apply(self, request, obj, data, creating):
        if "name" in data:
            name = data["name"]
            if " " in name:
                raise raise_invalid("name", "Spaces are not allowed in the project name.")
            slug = slugify(name)
            if not slug:
                raise raise_invalid("name", "The name must contain letters or digits.")
            ensure_unique(request, Project, "name", {"name": name}, obj.id)
            ensure_unique(
                request, Project, "name", {"slug": slug}, obj.id, "Project slug already exists"
            )
            obj.name, obj.slug = name, slug
        if "platform" in data:
            obj.platform = load_row(request, Platform, data["platform"], "platform")
        for key in ("pms", "architecture", "auto_register_computers"):
            if key in data:
                setattr(obj, key, data[key])


class StoreSchema(Schema):
    name = Text(50)
    project = Integer()


class StoreResource(Resource):
    path = "stores"
    model = Store
    permission_model = "core.store"
    scoping = ByProject(Store.project_id)
    schema = StoreSchema
    filters = {
        "id": Filter(Store.id, "int", ("exact", "in")),
        "name": Filter(Store.name, "str", ("exact", "icontains")),
        "project__id": Filter(Store.project_id, "int", ("exact", "in")),
        "packageset__id": Filter(
            type="int",
            lookups=("exact", "in"),
            clause=related(PackageSet.store_id, PackageSet.id, owner_id=Store.id),
        ),
    }
    search_fields = (Store.name,)
    ordering = {"id": Store.id, "name": Store.name, "slug": Store.slug, "project": Store.project_id}
    default_ordering = ("name", "project")

    def serialize(self, obj, request):
        return {
            "id": obj.id,
            "name": obj.name,
            "slug": obj.slug,
            "project": project_info(obj.project),
        }

    def apply(self, request, obj, data, creating):
        if "project" in data:
            project = load_row(request, Project, data["project"], "project")
            if not creating and project.id != obj.project_id:
                raise raise_invalid("project", "The project of a store cannot be changed.")
            obj.project = project
        if "name" in data:
            slug = slugify(data["name"])
            if not slug:
                raise raise_invalid("name", "The name must contain letters or digits.")
            project_id = obj.project.id
            ensure_unique(
                request,
                Store,
                "name",
                {"name": data["name"], "project_id": project_id},
                obj.id,
                "A store with this name already exists in the project.",
            )
            ensure_unique(
                request,
                Store,
                "name",
                {"slug": slug, "project_id": project_id},
                obj.id,
                "A store with this slug already exists in the project.",
            )
            obj.name, obj.slug = data["name"], slug


def includeme(config) -> None:
    for resource in (PlatformResource, ProjectResource, StoreResource):
        config.register_resource(resource)
