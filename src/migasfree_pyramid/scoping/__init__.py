"""Delegated administration: one scoping mechanism for every admin resource (issue 5).

``visibility.compute`` turns the caller into SQL subqueries of what they may see; each
resource's ``scoping`` rule (``rules``) applies them to its query; ``prune`` removes invisible
objects from nested lists in responses.
"""

from __future__ import annotations

from ..api.resource import PRUNE_HOOK, SCOPE_HOOK
from ..security.permissions import DOMAIN_ADMIN_GROUP
from .prune import prune
from .rules import (
    ByAttribute,
    ByComputer,
    ByComputerAndProject,
    ByLinkedAttribute,
    ByProject,
    Custom,
    Hidden,
    Scoping,
    Unscoped,
)
from .visibility import Visibility, compute


def visibility(request) -> Visibility | None:
    return compute(request)


def delegated_domains(request) -> tuple[int, ...] | None:
    """The domains a delegated administrator (a non-superuser Domain Admin) works in, or None
    for everyone else. With a domain preference, only that one."""
    identity = request.identity
    user = getattr(identity, "user", None)
    if user is None or user.is_superuser:
        return None
    if DOMAIN_ADMIN_GROUP not in getattr(identity, "groups", ()):
        return None
    vis = request.visibility
    return vis.domain_ids if vis is not None else ()


def scope_hook(request, resource, query):
    """The one hook every container query passes through (api.resource.SCOPE_HOOK)."""
    query = resource.scope(request, query)  # ownership rules that apply to everyone
    vis = request.visibility
    if vis is None:
        return query
    return resource.scoping.apply(request, query, vis)


def includeme(config) -> None:
    # register_resource refuses a resource without a scoping rule, so none can be forgotten.
    config.add_request_method(visibility, "visibility", reify=True)
    config.registry[SCOPE_HOOK] = scope_hook
    config.registry[PRUNE_HOOK] = prune


__all__ = [
    "ByAttribute",
    "ByComputer",
    "ByComputerAndProject",
    "ByLinkedAttribute",
    "ByProject",
    "Custom",
    "Hidden",
    "Scoping",
    "Unscoped",
    "Visibility",
    "delegated_domains",
    "prune",
]
