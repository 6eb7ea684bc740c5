"""The safe (signed and encrypted) half of the client protocol: identity, contexts, replies.

A safe request carries ``{"msg": <JWE>, "project": <project name>}`` (JSON, or multipart fields
for uploads). The security policy's identity source below decrypts and verifies it; the caller
becomes an ``AgentIdentity`` with the principal ``project:<id>`` (or ``packager:server``), and
services check it against the traversal context's ACL like every other request.

Errors follow what the real client handles (protocol-v5 1.2, 10): a reply the client can decrypt
(``{"msg": ...}``) when we know the project key, else a plain ``{"detail": ...}``. Never a 500.
"""

from __future__ import annotations

import json
import logging
from enum import StrEnum

from pyramid.authorization import Allow
from pyramid.httpexceptions import HTTPForbidden
from pyramid.response import Response
from sqlalchemy import select

from migasfree_pyramid.crypto.envelope import EnvelopeError, unwrap, wrap
from migasfree_pyramid.crypto.keystore import PACKAGER, SERVER, keystore
from migasfree_pyramid.models import Computer, Project
from migasfree_pyramid.resources import Root
from migasfree_pyramid.security import AgentIdentity

log = logging.getLogger(__name__)

SAFE_PREFIX = "/api/v1/safe/"
PACKAGER_PREFIX = "/api/v1/safe/packages/"
NO_PROJECT = "No Project matches the given query."
NO_COMPUTER = "No Computer matches the given query."


class AgentPermission(StrEnum):
    """What signed callers may do. Never granted to administrators."""

    SYNC = "agent.sync"
    REGISTER = "agent.register"
    UPLOAD = "agent.upload"


class SafeError(Exception):
    """An answer to a safe request: encrypted to the caller when possible, else plain."""

    def __init__(self, status: int, message, wrapped: bool = True):
        super().__init__(message)
        self.status = status
        self.message = message
        self.wrapped = wrapped


def read_envelope(request) -> tuple[str, str]:
    """``(msg, project name)`` from a JSON body or multipart form fields."""
    if request.content_type.startswith("multipart/"):
        fields = request.POST
        msg, project = fields.get("msg"), fields.get("project")
    else:
        try:
            body = json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise SafeError(400, "Invalid Data", wrapped=False) from None
        if not isinstance(body, dict):
            raise SafeError(400, "Invalid Data", wrapped=False)
        msg, project = body.get("msg"), body.get("project")
    if not isinstance(msg, str) or not isinstance(project, str):
        raise SafeError(400, "Invalid Data", wrapped=False)
    return msg, project


def agent_identity(request):
    """Identity source for safe paths (registered with ``config.add_identity_source``)."""
    if not request.path.startswith(SAFE_PREFIX) or request.method != "POST":
        return None
    msg, project_name = read_envelope(request)
    project = request.dbsession.scalars(select(Project).where(Project.name == project_name)).first()
    keys = keystore(request)
    packager = request.path.startswith(PACKAGER_PREFIX)
    if project is None and not packager:
        raise SafeError(404, NO_PROJECT, wrapped=False)
    verify_name = PACKAGER if packager else project.slug
    if not keys.exists(verify_name):
        # No key was ever issued for this project, so nothing it sends can be genuine.
        raise SafeError(400, "Invalid Signature", wrapped=False)
    reply_key = keys.public(verify_name)
    try:
        claims = unwrap(msg, keys.private(SERVER), reply_key)
    except EnvelopeError as error:
        request.environ["migasfree.reply_key"] = reply_key
        raise SafeError(400, str(error)) from None
    request.environ["migasfree.reply_key"] = reply_key
    if packager:
        return AgentIdentity("packager", "server", data={"claims": claims, "project": project})
    return AgentIdentity("project", str(project.id), data={"claims": claims, "project": project})


def claims_of(request) -> dict:
    """The verified claims as a dict (400 "Malformed claims" otherwise)."""
    identity = request.identity
    claims = identity.data["claims"] if isinstance(identity, AgentIdentity) else None
    if not isinstance(claims, dict):
        raise SafeError(400, "Malformed claims")
    return claims


class SafeContext:
    """Any caller holding a project key (registration, ``computers/id/``)."""

    __name__ = "safe"

    def __init__(self, request):
        self.request = request
        self.__parent__ = Root(request)
        identity = request.identity
        self.project = identity.data["project"] if isinstance(identity, AgentIdentity) else None

    @property
    def __acl__(self):
        if self.project is None:
            return []
        return [
            (Allow, f"project:{self.project.id}", (AgentPermission.SYNC, AgentPermission.REGISTER))
        ]


class ComputerContext(SafeContext):
    """The computer named by the claim ``id``; only its own project's key may act for it.

    The original accepted any project key for any computer id (protocol-v5 4.1); here the
    envelope's project must be the computer's, as ``computers/id/`` already required.
    """

    def __init__(self, request):
        super().__init__(request)
        claims = claims_of(request)
        cid = claims.get("id")
        if isinstance(cid, bool) or not isinstance(cid, int | str) or not str(cid).isdigit():
            raise SafeError(400, "Malformed claims")
        cid = int(cid)
        # Ids beyond the column's range cannot exist; asking the database would be an error.
        computer = request.dbsession.get(Computer, cid) if 0 < cid < 2**31 else None
        if computer is None:
            raise SafeError(404, NO_COMPUTER, wrapped=False)
        self.computer = computer
        self.claims = claims

    @property
    def __acl__(self):
        return [(Allow, f"project:{self.computer.project_id}", AgentPermission.SYNC)]


class PackagerContext:
    __name__ = "packages"

    def __init__(self, request):
        self.request = request
        self.__parent__ = Root(request)

    __acl__ = [(Allow, "packager:server", AgentPermission.UPLOAD)]


def reply(request, data, status: int = 200) -> Response:
    """``{"msg": JWE(data)}`` signed by the server, encrypted to the caller's key."""
    key = request.environ.get("migasfree.reply_key")
    body = {"msg": wrap(data, keystore(request).private(SERVER), key)}
    return Response(json_body=body, status=status, content_type="application/json", charset="utf-8")


def safe_error_view(exc: SafeError, request):
    if exc.wrapped and request.environ.get("migasfree.reply_key") is not None:
        return reply(request, exc.message, exc.status)
    return Response(
        json_body={"detail": exc.message},
        status=exc.status,
        content_type="application/json",
        charset="utf-8",
    )


def safe_forbidden_view(exc: HTTPForbidden, request):
    context = request.context
    project = getattr(getattr(request, "identity", None), "data", {}).get("project")
    computer = getattr(context, "computer", None)
    if computer is not None and project is not None and computer.project_id != project.id:
        message = f"Unexpected Computer Project ({project.name}). Expected {computer.project.name}"
        return safe_error_view(SafeError(403, message), request)
    return safe_error_view(
        SafeError(403, "You do not have permission to perform this action.", wrapped=False), request
    )


def includeme(config) -> None:
    config.add_identity_source(agent_identity)
    config.add_exception_view(safe_error_view, context=SafeError)
    config.add_forbidden_view(safe_forbidden_view, path_info=r"^/api/v1/safe/")
