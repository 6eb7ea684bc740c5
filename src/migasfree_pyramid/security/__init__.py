"""Security: one policy, permission enums and the login/token endpoints."""

from __future__ import annotations

from .permissions import AuthPermission, ClientPermission, CorePermission
from .policy import SUPERUSER, AdminIdentity, AgentIdentity, SecurityPolicy
from .tokens import JWTHelper

PERMISSIONS_KEY = "migasfree.permission_enums"
POLICY_KEY = "migasfree.security_policy"


def add_permissions(config, enum) -> None:
    """Directive: register a permission enum (core or addon) with the application."""
    enums = config.registry.setdefault(PERMISSIONS_KEY, [])
    if enum not in enums:
        enums.append(enum)


def add_identity_source(config, source) -> None:
    """Directive: an extra way to authenticate (the clients addon adds the signed envelope)."""
    config.registry[POLICY_KEY].add_identity_source(config.maybe_dotted(source))


def registered_permissions(registry) -> list[str]:
    return [member.value for enum in registry.get(PERMISSIONS_KEY, []) for member in enum]


def includeme(config) -> None:
    settings = config.get_settings()
    helper = JWTHelper(
        settings["migasfree.jwt_secret"],
        settings["migasfree.jwt_access_minutes"],
        settings["migasfree.jwt_refresh_minutes"],
    )
    policy = SecurityPolicy(helper)
    config.registry[POLICY_KEY] = policy
    config.registry["migasfree.jwt"] = helper
    config.set_security_policy(policy)
    config.add_directive("add_permissions", add_permissions)
    config.add_directive("add_identity_source", add_identity_source)
    for enum in (CorePermission, ClientPermission, AuthPermission):
        config.add_permissions(enum)
    config.include(".views")


__all__ = [
    "SUPERUSER",
    "AdminIdentity",
    "AgentIdentity",
    "SecurityPolicy",
    "add_permissions",
    "registered_permissions",
]
