"""The traversal root. Its ACL maps every registered permission to the principal that holds it.

Containers and items below it (``api.resource``) inherit these grants through ``__parent__`` and
can only narrow them (domain rules add Deny entries on items).
"""

from __future__ import annotations

from pyramid.authorization import ALL_PERMISSIONS, DENY_ALL, Allow

from ..security import SUPERUSER, registered_permissions

ROOT_ACL_KEY = "migasfree.root_acl"


def build_root_acl(registry) -> list:
    acl = [(Allow, SUPERUSER, ALL_PERMISSIONS)]
    acl += [(Allow, f"perm:{codename}", codename) for codename in registered_permissions(registry)]
    acl.append(DENY_ALL)
    return acl


class Root:
    __name__ = ""
    __parent__ = None

    def __init__(self, request):
        self.request = request

    @property
    def __acl__(self):
        registry = self.request.registry
        acl = registry.get(ROOT_ACL_KEY)
        if acl is None:
            # Built once, after every addon registered its permissions.
            acl = registry[ROOT_ACL_KEY] = build_root_acl(registry)
        return acl
