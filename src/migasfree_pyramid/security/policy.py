"""The one security policy: admin identities (JWT or API token) and agent identities.

Agent identities (a computer or packager proven by the signed envelope of the v5 protocol) are
provided by the clients addon through ``config.add_identity_source``; the core only knows admins.
Authorisation is always Pyramid's ACL check against the traversed context, with principals:

- ``system.Authenticated``, ``user:<id>``, ``group:<name>``
- ``role:superuser`` for superusers
- ``perm:<codename>`` for every permission the user holds through groups or directly
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyramid.authorization import ACLHelper, Authenticated, Everyone
from pyramid.request import RequestLocalCache
from sqlalchemy import select, union

from ..models import Group, Permission, UserProfile
from ..models.users import group_permissions, user_groups, user_permissions
from .tokens import JWTHelper, user_for_api_token

SUPERUSER = "role:superuser"
AGENT = "role:agent"


@dataclass
class AdminIdentity:
    user: UserProfile
    method: str
    permissions: frozenset[str] = frozenset()
    groups: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"user:{self.user.id}"

    @property
    def userid(self) -> str:
        return self.id

    def __principals__(self) -> list[str]:
        principals = [Authenticated, self.id]
        principals += [f"group:{name}" for name in self.groups]
        if self.user.is_superuser:
            principals.append(SUPERUSER)
        principals += [f"perm:{codename}" for codename in self.permissions]
        return principals

    def has_permission(self, codename: str) -> bool:
        return self.user.is_superuser or codename in self.permissions


@dataclass
class AgentIdentity:
    """A caller proven by a signed message (a computer, or the packager key)."""

    kind: str
    id: str
    principals: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)

    @property
    def userid(self) -> str:
        return f"{self.kind}:{self.id}"

    def __principals__(self) -> list[str]:
        return [Authenticated, AGENT, self.userid, *self.principals]


def load_permissions(session, user: UserProfile) -> tuple[frozenset[str], tuple[str, ...]]:
    """The user's permission codenames (groups plus direct) and group names: two statements."""
    via_groups = (
        select(Permission.content_type, Permission.codename)
        .join(group_permissions, group_permissions.c.permission_id == Permission.id)
        .join(user_groups, user_groups.c.group_id == group_permissions.c.group_id)
        .where(user_groups.c.userprofile_id == user.id)
    )
    direct = (
        select(Permission.content_type, Permission.codename)
        .join(user_permissions, user_permissions.c.permission_id == Permission.id)
        .where(user_permissions.c.userprofile_id == user.id)
    )
    rows = session.execute(union(via_groups, direct)).all()
    codenames = frozenset(f"{ct.split('.')[0]}.{code}" for ct, code in rows)
    groups = tuple(
        session.scalars(
            select(Group.name)
            .join(user_groups, user_groups.c.group_id == Group.id)
            .where(user_groups.c.userprofile_id == user.id)
        )
    )
    return codenames, groups


def parse_authorization(request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if not credentials.strip():
        return None
    return scheme, credentials.strip()


class SecurityPolicy:
    def __init__(self, jwt: JWTHelper, identity_sources=()):
        self.jwt = jwt
        self.sources = list(identity_sources)
        self.acl = ACLHelper()
        self.cache = RequestLocalCache(self._load_identity)

    def add_identity_source(self, source) -> None:
        """``source(request) -> identity | None``, tried after the admin credentials."""
        self.sources.append(source)

    def _load_identity(self, request):
        user, method = self._admin_user(request)
        if user is not None:
            if not user.is_active:
                return None
            permissions, groups = load_permissions(request.dbsession, user)
            return AdminIdentity(user, method, permissions, groups)
        for source in self.sources:
            identity = source(request)
            if identity is not None:
                return identity
        return None

    def _admin_user(self, request) -> tuple[UserProfile | None, str]:
        parsed = parse_authorization(request)
        if parsed is None:
            return None, ""
        scheme, credentials = parsed
        if scheme == "Bearer":
            claims = self.jwt.request_claims(request)
            user_id = claims.get("sub", "")
            if user_id.isdigit():
                return request.dbsession.get(UserProfile, int(user_id)), "jwt"
        elif scheme == "Token":
            return user_for_api_token(request.dbsession, credentials), "token"
        return None, ""

    def identity(self, request):
        return self.cache.get_or_create(request)

    def authenticated_userid(self, request):
        identity = request.identity
        return None if identity is None else identity.userid

    def permits(self, request, context, permission):
        identity = request.identity
        principals = [Everyone]
        if identity is not None:
            principals += identity.__principals__()
        return self.acl.permits(context, principals, permission)

    def remember(self, request, userid, **kw):
        return []

    def forget(self, request, **kw):
        return []
