"""Public client endpoints (no envelope): server info, PMS list, languages, keys (spec 3, 6.1).

Requests are form-encoded (the client posts ``data=dict``); replies are plain JSON.
"""

from __future__ import annotations

import os

from cornice import Service
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from sqlalchemy import select

from migasfree_pyramid import __version__
from migasfree_pyramid.crypto.keystore import PACKAGER, SERVER, keystore
from migasfree_pyramid.models import LANGUAGES, Notification, Platform, Project
from migasfree_pyramid.pms import AVAILABLE_PMS, REGISTRY
from migasfree_pyramid.security.policy import load_permissions
from migasfree_pyramid.security.views import verify_credentials
from migasfree_pyramid.text import slugify

from .network import client_ip

FORBIDDEN = "You do not have permission to perform this action."
REPOSITORY_KEY_FILE = "migasfree-repository.gpg"


def detail(status: int, message) -> Response:
    return Response(
        json_body={"detail": message},
        status=status,
        charset="utf-8",
        content_type="application/json",
    )


def form(request) -> dict[str, str]:
    """Form fields (the client's encoding), or a JSON object for tools that send JSON."""
    if request.content_type == "application/json":
        try:
            body = request.json_body
        except ValueError:
            return {}
        return {k: str(v) for k, v in body.items()} if isinstance(body, dict) else {}
    return {k: v for k, v in request.POST.items() if isinstance(v, str)}


def may(session, user, codename: str) -> bool:
    if user is None:
        return False
    if user.is_superuser:
        return True
    return codename in load_permissions(session, user)[0]


server_info = Service(
    name="public.server-info", path="/api/v1/public/server/info/", renderer="json"
)
pms_list = Service(name="public.pms", path="/api/v1/public/pms/", renderer="json")
languages = Service(name="public.languages", path="/api/v1/public/languages/", renderer="json")
project_keys = Service(
    name="public.keys-project", path="/api/v1/public/keys/project/", renderer="json"
)
packager_keys = Service(
    name="public.keys-packager", path="/api/v1/public/keys/packager/", renderer="json"
)
repository_key = Service(
    name="public.keys-repositories", path="/api/v1/public/keys/repositories/", renderer="json"
)


def get_server_info(request):
    settings = request.registry.settings
    return {
        "version": __version__ if settings.get("clients.report_own_version") else "5.0",
        "author": ["migasfree-pyramid contributors"],
        "contact": settings.get("clients.contact", ""),
        "homepage": "https://github.com/migasfree",
        "organization": settings.get("clients.organization", ""),
    }


for method in ("GET", "POST"):
    server_info.add_view(method, get_server_info, permission=NO_PERMISSION_REQUIRED)


@pms_list.get(permission=NO_PERMISSION_REQUIRED)
def get_pms(request):
    return {name: REGISTRY[name].describe() for name in AVAILABLE_PMS}


@languages.get(permission=NO_PERMISSION_REQUIRED)
def get_languages(request):
    return {str(k): v for k, v in LANGUAGES.items()}


def register_project(request, fields, user):
    """Create the platform and project a client announces (spec 3.3 step 3)."""
    session = request.dbsession
    name = fields.get("project", "").strip()
    slug = slugify(name)
    if not name or len(name) > 50 or " " in name or not slug:
        return None, detail(400, "Invalid project name")
    if session.scalars(select(Project.id).where(Project.slug == slug)).first() is not None:
        return None, detail(400, "Project slug already exists")
    platform_name = (fields.get("platform") or "").strip()[:50] or "Unknown"
    ip = client_ip(request)
    platform = session.scalars(select(Platform).where(Platform.name == platform_name)).first()
    if platform is None:
        platform = Platform(name=platform_name)
        session.add(platform)
        session.add(Notification(message=f"Platform [{platform_name}] registered by IP [{ip}]."))
    autoregister = request.registry.settings["migasfree.autoregister"]
    project = Project(
        name=name,
        slug=slug,
        pms=fields["pms"],
        platform=platform,
        architecture=(fields.get("architecture") or "").strip()[:20],
        auto_register_computers=autoregister,
    )
    session.add(project)
    session.add(
        Notification(
            message=f"Project [{name}] with PMS [{fields['pms']}] registered by IP [{ip}]."
        )
    )
    session.flush()
    return project, None


@project_keys.post(permission=NO_PERMISSION_REQUIRED)
def post_project_keys(request):
    fields = form(request)
    session = request.dbsession
    settings = request.registry.settings
    user = None
    if fields.get("username"):
        user = verify_credentials(session, fields["username"], fields.get("password", ""))
    if fields.get("pms") not in REGISTRY:
        return detail(400, f"PMS must be one of {list(AVAILABLE_PMS)}")
    autoregister = settings["migasfree.autoregister"]
    project = session.scalars(select(Project).where(Project.name == fields.get("project"))).first()
    if project is None:
        allowed = autoregister or (
            may(session, user, "core.add_project") and may(session, user, "core.add_platform")
        )
        if not allowed:
            return detail(403, FORBIDDEN)
        project, error = register_project(request, fields, user)
        if error is not None:
            return error
    if not (
        autoregister or project.auto_register_computers or may(session, user, "client.add_computer")
    ):
        return detail(403, FORBIDDEN)
    keys = keystore(request)
    return {
        "migasfree-server.pub": keys.pem(SERVER, private=False),
        "migasfree-client.pri": keys.pem(project.slug, private=True),
    }


@packager_keys.post(permission=NO_PERMISSION_REQUIRED)
def post_packager_keys(request):
    fields = form(request)
    session = request.dbsession
    user = verify_credentials(session, fields.get("username", ""), fields.get("password", ""))
    if not may(session, user, "core.change_package"):
        return detail(403, FORBIDDEN)
    keys = keystore(request)
    return {
        "migasfree-server.pub": keys.pem(SERVER, private=False),
        "migasfree-packager.pri": keys.pem(PACKAGER, private=True),
    }


def read_repository_key(request) -> str | None:
    path = os.path.join(request.registry.settings["migasfree.keys_dir"], REPOSITORY_KEY_FILE)
    if not os.path.exists(path):
        return None
    with open(path, encoding="ascii") as handle:
        return handle.read()


@repository_key.post(permission=NO_PERMISSION_REQUIRED)
def post_repository_key(request):
    """The armored key as a JSON string: what the real client's POST needs (protocol-v5 3.5;
    the original's newer GET-only answer makes the client crash)."""
    key = read_repository_key(request)
    if key is None:
        return detail(503, "The repository signing key has not been created yet")
    return key


@repository_key.get(permission=NO_PERMISSION_REQUIRED)
def get_repository_key(request):
    key = read_repository_key(request)
    if key is None:
        return detail(503, "The repository signing key has not been created yet")
    return {"public_key": key}


SERVICES = (server_info, pms_list, languages, project_keys, packager_keys, repository_key)


def includeme(config) -> None:
    for service in SERVICES:
        config.add_cornice_service(service)
