"""Helpers shared by the tests: users with roles, authenticated calls, statement counting."""

from __future__ import annotations

from sqlalchemy import select

from migasfree_pyramid.models import Group, UserProfile
from migasfree_pyramid.security.passwords import hash_password

_HASHES: dict[str, str] = {}


def cached_hash(password: str) -> str:
    """argon2 is slow on purpose; the tests hash each password once per session."""
    if password not in _HASHES:
        _HASHES[password] = hash_password(password)
    return _HASHES[password]


class StatementCounter:
    """Counts SQL statements sent to the database (``with counter.counting():``)."""

    def __init__(self):
        self.count = 0
        self.sql: list[str] = []
        self.active = False

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if self.active and not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE")):
            self.count += 1
            self.sql.append(statement)

    def __enter__(self):
        self.count, self.sql, self.active = 0, [], True
        return self

    def __exit__(self, *exc):
        self.active = False


class Client:
    """Calls the API as a given user. ``client.as_user("reader")`` etc."""

    def __init__(self, testapp, dbsession, registry):
        self.app = testapp
        self.session = dbsession
        self.registry = registry
        self._users: dict[str, UserProfile] = {}

    def user(self, username: str, groups=(), superuser=False, password="secret-pass", **fields):
        user = self.session.scalars(
            select(UserProfile).where(UserProfile.username == username)
        ).first()
        if user is None:
            user = UserProfile(
                username=username,
                password=cached_hash(password),
                is_superuser=superuser,
                is_staff=True,
                **fields,
            )
            user.groups = list(
                self.session.scalars(select(Group).where(Group.name.in_(list(groups))))
            )
            self.session.add(user)
            self.session.flush()
        return user

    def headers(self, user: UserProfile | None) -> dict:
        if user is None:
            return {}
        token = self.registry["migasfree.jwt"].issue(user)
        return {"Authorization": f"Bearer {token}"}

    def role(self, name: str) -> UserProfile | None:
        """Users for the usual roles: admin, reader, packager, configurator, liberator, checker,
        installer, domain-admin, nobody (authenticated, no group) and anonymous (None)."""
        roles = {
            "admin": {"superuser": True},
            "reader": {"groups": ["Reader"]},
            "packager": {"groups": ["Reader", "Packager"]},
            "configurator": {"groups": ["Reader", "Configurator"]},
            "liberator": {"groups": ["Reader", "Liberator"]},
            "checker": {"groups": ["Reader", "Computer Checker"]},
            "installer": {"groups": ["Reader", "Device installer"]},
            "domain-admin": {"groups": ["Reader", "Domain Admin"]},
            "nobody": {},
        }
        if name == "anonymous":
            return None
        return self.user(name, **roles[name])

    def call(
        self,
        method: str,
        url: str,
        as_: str | UserProfile | None = "admin",
        json=None,
        status=None,
        **kwargs,
    ):
        user = self.role(as_) if isinstance(as_, str) else as_
        headers = {**self.headers(user), **kwargs.pop("headers", {})}
        func = getattr(self.app, f"{method.lower()}_json" if json is not None else method.lower())
        if json is not None:
            kwargs["params"] = json
        return func(url, headers=headers, status=status or "*", **kwargs)

    def get(self, url, as_="admin", **kw):
        return self.call("GET", url, as_, **kw)

    def post(self, url, json=None, as_="admin", **kw):
        return self.call("POST", url, as_, json=json if json is not None else {}, **kw)

    def put(self, url, json, as_="admin", **kw):
        return self.call("PUT", url, as_, json=json, **kw)

    def patch(self, url, json, as_="admin", **kw):
        return self.call("PATCH", url, as_, json=json, **kw)

    def delete(self, url, as_="admin", **kw):
        return self.call("DELETE", url, as_, **kw)
