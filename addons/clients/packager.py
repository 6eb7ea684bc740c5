"""The packager's safe endpoints (``migasfree upload``, protocol-v5 6.4): files into stores,
package sets, and the request to rebuild the repositories that publish them.

Requests are signed with the packager key (the envelope's project is ignored for verification);
claims name the target project and store. Unlike the admin API, uploading a file that already
exists in the project replaces it: that is how a packager publishes a rebuilt package.
"""

from __future__ import annotations

import os

from cornice import Service
from sqlalchemy import select

from migasfree_pyramid.api.errors import APIError
from migasfree_pyramid.core_api.package_files import (
    check_filename,
    normalized_name,
    store_dir,
    write_atomic,
)
from migasfree_pyramid.core_api.packages import notify_changed
from migasfree_pyramid.models import Package, PackageSet, Project, Store
from migasfree_pyramid.text import slugify

from .safe import AgentPermission, PackagerContext, SafeError, claims_of, reply

upload = Service(name="safe.packages", path="/api/v1/safe/packages/", factory=PackagerContext)
upload_set = Service(
    name="safe.packages-set", path="/api/v1/safe/packages/set/", factory=PackagerContext
)
repos = Service(
    name="safe.packages-repos", path="/api/v1/safe/packages/repos/", factory=PackagerContext
)


def claim(claims: dict, key: str, max_length: int = 250, required: bool = True) -> str:
    value = claims.get(key, "" if not required else None)
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > max_length:
        raise SafeError(400, "Malformed claims")
    return value.strip()


def target_project(request, claims: dict) -> Project:
    name = claim(claims, "project", 50)
    project = request.dbsession.scalars(select(Project).where(Project.name == name)).first()
    if project is None:
        raise SafeError(404, "No Project matches the given query.", wrapped=False)
    return project


def get_store(request, project: Project, name: str) -> Store:
    slug = slugify(name)
    if not slug or len(name) > 50:
        raise SafeError(400, "Malformed claims")
    session = request.dbsession
    store = session.scalars(
        select(Store).where(
            Store.project_id == project.id, (Store.name == name) | (Store.slug == slug)
        )
    ).first()
    if store is None:
        store = Store(name=name, slug=slug, project=project)
        session.add(store)
        session.flush()
    return store


def uploaded_file(request):
    field = request.POST.get("file")
    if not hasattr(field, "file") or not getattr(field, "filename", None):
        raise SafeError(400, "Malformed claims")
    # The client sends the absolute path as the file name; only its last part names the package.
    filename = os.path.basename(field.filename.replace("\\", "/"))
    try:
        check_filename(filename, "file")
    except APIError as error:
        raise SafeError(400, error.errors[0]["description"]) from None
    return filename, field.file


def store_package(request, project: Project, store: Store, filename: str, stream) -> Package | None:
    """Write the file into the store and record (or re-point) its Package row."""
    session = request.dbsession
    name, version, arch = normalized_name(filename)
    package = session.scalars(
        select(Package).where(Package.project_id == project.id, Package.fullname == filename)
    ).first()
    if package is None:
        if not name:
            raise SafeError(400, f"Package {filename} has an incorrect name format")
        package = Package(fullname=filename, project=project)
        session.add(package)
    package.name, package.version, package.architecture = name[:200], version[:60], arch[:10]
    package.store = store
    session.flush()
    write_atomic(os.path.join(store_dir(request, project.slug, store.slug), filename), stream)
    return package


@upload.post(permission=AgentPermission.UPLOAD)
def post_package(request):
    claims = claims_of(request)
    project = target_project(request, claims)
    store = get_store(request, project, claim(claims, "store", 50))
    filename, stream = uploaded_file(request)
    if claims.get("is_package", True) is False:
        # Not a package (e.g. a README next to them): the file is stored, no row is made.
        write_atomic(os.path.join(store_dir(request, project.slug, store.slug), filename), stream)
        return reply(request, "Data received")
    package = store_package(request, project, store, filename, stream)
    notify_changed(request, project.id, [package.id])
    return reply(request, "Data received")


def set_name(path: str) -> str:
    name = os.path.basename(path.replace("\\", "/").rstrip("/"))
    if not name or len(name) > 50:
        raise SafeError(400, "Malformed claims")
    return name


@upload_set.post(permission=AgentPermission.UPLOAD)
def post_package_in_set(request):
    claims = claims_of(request)
    project = target_project(request, claims)
    store = get_store(request, project, claim(claims, "store", 50))
    name = set_name(claim(claims, "packageset"))
    session = request.dbsession
    package_set = session.scalars(
        select(PackageSet).where(PackageSet.project_id == project.id, PackageSet.name == name)
    ).first()
    if package_set is None:
        package_set = PackageSet(name=name, project=project, store=store, description="")
        session.add(package_set)
    filename, stream = uploaded_file(request)
    package = store_package(request, project, store, filename, stream)
    if package not in package_set.packages:
        package_set.packages.append(package)
    session.flush()
    notify_changed(request, project.id, [package.id], [package_set.id])
    return reply(request, "Data received")


@repos.post(permission=AgentPermission.UPLOAD)
def post_repositories(request):
    """Rebuild the repositories publishing a package set (``upload -r DIR``) or a package
    (``upload -f FILE``). The original only looked for a package named after the directory, so
    the set form always failed (protocol-v5 10.6)."""
    claims = claims_of(request)
    project = target_project(request, claims)
    name = set_name(claim(claims, "packageset"))
    session = request.dbsession
    package_set = session.scalars(
        select(PackageSet).where(PackageSet.project_id == project.id, PackageSet.name == name)
    ).first()
    if package_set is not None:
        notify_changed(request, project.id, [p.id for p in package_set.packages], [package_set.id])
        return reply(request, "Data received")
    package = session.scalars(
        select(Package).where(Package.project_id == project.id, Package.fullname == name)
    ).first()
    if package is None:
        raise SafeError(404, "No Package matches the given query.", wrapped=False)
    notify_changed(request, project.id, [package.id])
    return reply(request, "Data received")


def includeme(config) -> None:
    for service in (upload, upload_set, repos):
        config.add_cornice_service(service)
