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
from dataclasses import dataclass
from enum import StrEnum

from pyramid.authorization import Allow
from pyramid.httpexceptions import HTTPForbidden
from pyramid.response import Response
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from migasfree_pyramid.crypto.envelope import (
    EnvelopeError,
    open_envelope,
    unwrap,
    verified_data,
    wrap,
)
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


@dataclass(frozen=True)
class ProjectRef:
    """The envelope's project as every safe call needs it: read as one plain row, because an ORM
    instance (with its joined platform) costs several times more and only registration needs
    one (``registration`` loads it then)."""

    id: int
    name: str
    slug: str
    auto_register_computers: bool


_PROJECT_COLUMNS = (Project.id, Project.name, Project.slug, Project.auto_register_computers)
# Built once: constructing a statement costs more than executing a cached one.
_PROJECT_QUERY = select(*_PROJECT_COLUMNS).where(Project.name == bindparam("name"))
# Outer joins all the way: the computer's eager joins are inner by default, which would drop
# the project row when the computer does not exist.
_PROJECT_COMPUTER_QUERY = (
    _PROJECT_QUERY.add_columns(Computer)
    .outerjoin(Computer, Computer.id == bindparam("computer_id"))
    .options(
        joinedload(Computer.project, innerjoin=False).joinedload(Project.platform, innerjoin=False)
    )
)


def find_project(session, name: str, computer_id: int | None = None):
    """``(project, computer)``: the project called ``name`` and, with ``computer_id``, that
    computer (with what its contexts read), loaded by the same statement; None when missing."""
    if computer_id is None:
        row = session.execute(_PROJECT_QUERY, {"name": name}).first()
    else:
        params = {"name": name, "computer_id": computer_id}
        row = session.execute(_PROJECT_COMPUTER_QUERY, params).first()
    if row is None:
        return None, None
    return ProjectRef(*row[:4]), row[4] if computer_id is not None else None


def computer_claim(data) -> int | None:
    """The computer id a claims dict names (``id``), if it is a valid one."""
    cid = data.get("id") if isinstance(data, dict) else None
    if isinstance(cid, bool) or not isinstance(cid, int | str) or not str(cid).isdigit():
        return None
    cid = int(cid)
    # Ids beyond the column's range cannot exist; asking the database would be an error.
    return cid if 0 < cid < 2**31 else None


def agent_identity(request):
    """Identity source for safe paths (registered with ``config.add_identity_source``).

    The message is decrypted (with the server key) before the project is read, so that one
    statement can read the project and prefetch the computer the claims name; the claims are
    trusted only after the signature verifies with that project's key. Errors keep their
    order: unknown project (404), project without key, then undecryptable or unsigned (400).
    """
    if not request.path.startswith(SAFE_PREFIX) or request.method != "POST":
        return None
    msg, project_name = read_envelope(request)
    keys = keystore(request)
    if request.path.startswith(PACKAGER_PREFIX):
        return _packager_identity(request, keys, msg, project_name)
    failure, plaintext = None, None
    try:
        plaintext = open_envelope(msg, keys.private(SERVER))
    except EnvelopeError as error:
        failure = error
    prefetch = computer_claim(plaintext["data"]) if plaintext is not None else None
    project, computer = find_project(request.dbsession, project_name, prefetch)
    if project is None:
        raise SafeError(404, NO_PROJECT, wrapped=False)
    if not keys.exists(project.slug):
        # No key was ever issued for this project, so nothing it sends can be genuine.
        raise SafeError(400, "Invalid Signature", wrapped=False)
    reply_key = keys.public(project.slug)
    request.environ["migasfree.reply_key"] = reply_key
    try:
        if failure is not None:
            raise failure
        claims = verified_data(plaintext, reply_key)
    except EnvelopeError as error:
        raise SafeError(400, str(error)) from None
    # The prefetched computer is kept here: the session only holds it weakly.
    data = {"claims": claims, "project": project, "computer": computer}
    return AgentIdentity("project", str(project.id), data=data)


def _packager_identity(request, keys, msg: str, project_name: str):
    project, _ = find_project(request.dbsession, project_name)
    if not keys.exists(PACKAGER):
        raise SafeError(400, "Invalid Signature", wrapped=False)
    reply_key = keys.public(PACKAGER)
    request.environ["migasfree.reply_key"] = reply_key
    try:
        claims = unwrap(msg, keys.private(SERVER), reply_key)
    except EnvelopeError as error:
        raise SafeError(400, str(error)) from None
    return AgentIdentity("packager", "server", data={"claims": claims, "project": project})


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
        cid = computer_claim(claims)
        computer = request.identity.data.get("computer")  # prefetched with the project
        if computer is None or computer.id != cid:
            computer = request.dbsession.get(Computer, cid) if cid is not None else None
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
