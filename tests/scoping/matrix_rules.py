"""How the matrix calls each admin endpoint: one ``Req`` per registered (service, method).

A ``Req`` names the world rows it is called on (``cases``: keys of ``MatrixWorld.objs``; ``self``
is the caller's own account), the body and the statuses that mean "the caller got through"
(``ok``; ``ok_for`` per role when the answer legitimately differs). Whether the caller gets
through is computed by ``test_matrix`` from the declared permission; the few endpoints whose
real rule is not the declared permission are listed in ``EFFECTIVE_PERMISSION``.

Writing a new endpoint without adding it here fails ``test_every_endpoint_has_a_rule``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from migasfree_pyramid.security.permissions import DEFAULT_GROUPS, DOMAIN_ADMIN_GROUP

from .matrix_world import (
    AGENT,
    ANONYMOUS,
    GROUP_ROLES,
    LONELY,
    NORTH,
    RESTRICTED,
    SCOPED,
    SUPERUSER,
)

SELF_OR_CHANGE = "userprofile.self_or_change"
DEPLOYMENT_WRITES = {"core.change_deployment", "core.delete_deployment"}
PROFILE_WRITES = {"core.change_userprofile", "core.delete_userprofile"}

Body = dict | Callable | None


@dataclass(frozen=True)
class Req:
    cases: tuple[str, ...] = ()
    body: Body = None
    ok: frozenset[int] = frozenset({200})
    ok_for: dict = field(default_factory=dict)

    def expected_ok(self, role: str) -> frozenset[int]:
        return frozenset(self.ok_for.get(role, self.ok))


def ok(*codes: int) -> frozenset[int]:
    return frozenset(codes)


def row_id(key: str) -> Callable:
    """A body value: ``row_id("project.debian")`` → that row's id at request time."""
    return lambda world: world.objs[key].id


def resolve(body: Body, world) -> dict:
    """The JSON body of a request: callables in the dict are evaluated against the world."""
    if body is None:
        return {}
    if callable(body):
        return body(world)
    return {k: _value(v, world) for k, v in body.items()}


def _value(value, world):
    if callable(value):
        return value(world)
    if isinstance(value, list):
        return [_value(item, world) for item in value]
    return value


OPS = ("list", "create", "retrieve", "update", "partial_update", "destroy", "export")


def resource(
    name: str,
    cases: tuple[str, ...],
    ops: tuple[str, ...] = OPS,
    create: Body = None,
    put: Body = None,
    write_ok_for: dict | None = None,
) -> dict[str, dict[str, Req]]:
    """The generic services of one ``api.resource.Resource`` (see ``register_resource``).

    Without a ``create``/``put`` body the call sends ``{}`` and expects 400: the caller got
    past the permission check and the validation refused the body. PATCH sends ``{}`` (every
    field is optional, so it is a real, empty update: 200).
    """
    rules: dict[str, dict[str, Req]] = {}
    write_ok_for = write_ok_for or {}

    def put_rule(service, method, req):
        rules.setdefault(f"{name}.{service}", {})[method] = req

    if "list" in ops:
        put_rule("collection", "GET", Req())
        put_rule("filter", "POST", Req())
    if "export" in ops and "list" in ops:
        put_rule("export", "GET", Req())
        put_rule("export", "POST", Req())
    if "create" in ops:
        expected = ok(201) if create is not None else ok(400)
        put_rule("collection", "POST", Req(body=create, ok=expected, ok_for=write_ok_for))
    if "retrieve" in ops:
        put_rule("item", "GET", Req(cases))
        put_rule("action.badge", "GET", Req(cases))
        put_rule("action.relations", "GET", Req(cases))
    if "update" in ops:
        put_rule("item", "PUT", Req(cases, put, ok(200) if put is not None else ok(400)))
    if "partial_update" in ops:
        put_rule("item", "PATCH", Req(cases, {}, ok_for=write_ok_for))
    if "destroy" in ops:
        put_rule("item", "DELETE", Req(cases, ok=ok(204)))
    return rules


def action(name: str, method: str, cases=(), body: Body = None, codes=None, **kw):
    """An extra endpoint (``@action`` or a service of its own): one method, 200 by default."""
    return {name: {method: Req(cases, body, codes or ok(200), **kw)}}


def merge(*parts: dict) -> dict[str, dict[str, Req]]:
    result: dict[str, dict[str, Req]] = {}
    for part in parts:
        for service, methods in part.items():
            result.setdefault(service, {}).update(methods)
    return result


IN_OUT = {
    kind: (f"{kind}.n", f"{kind}.s")
    for kind in ("store", "package", "packageset", "singularity", "scheduledelay", "attributeset")
}
IN_OUT.update(
    {
        "computer": ("computer.n1", "computer.s1"),
        "project": ("project.debian", "project.ubuntu"),
        "platform": ("platform.debian", "platform.ubuntu"),
        "deployment": ("deployment.north", "deployment.global", "deployment.south"),
        "external": ("deployment_ext.n", "deployment_ext.s"),
        "attribute": ("attribute.north_ctr", "attribute.south_ctr"),
        "tag": ("attribute.teacher", "attribute.kiosk"),
        "feature": ("attribute.feat_n", "attribute.feat_s"),
        "domain": ("domain.north", "domain.south"),
        "scope": ("scope.north", "scope.scoped", "scope.south"),
        "userprofile": ("self", "userprofile.other", "userprofile.root"),
        "error": ("error.n1", "error.s1"),
        "fault": ("fault.n1", "fault.s1"),
        "sync": ("synchronization.n1", "synchronization.s1"),
        "faultdefinition": ("faultdefinition.n", "faultdefinition.s"),
        "migration": ("migration.n", "migration.s"),
        "statuslog": ("statuslog.n", "statuslog.s"),
        "packagehistory": ("packagehistory.n", "packagehistory.s"),
        "clientuser": ("clientuser.n", "clientuser.s"),
        "hardwarenode": ("hardwarenode.n", "hardwarenode.s"),
        "notification": ("notification.any",),
        "property": ("property.any",),
        "formula": ("formula.any",),
        "stamp": ("stamp.any",),
        "schedule": ("schedule.any",),
        "group": ("group.any",),
        "permission": ("permission.any",),
    }
)
C = IN_OUT
READ_ONLY = ("list", "retrieve", "export")
CHECKABLE = (*READ_ONLY, "update", "partial_update", "destroy")
PROJECT = row_id("project.debian")


def _deployments(name: str, cases, create: dict, ops=OPS) -> dict:
    return resource(
        name,
        cases,
        ops,
        create=create,
        # The lonely admin sees no project, so the one named is refused (400); the others'
        # deployment is forced into their single domain (201).
        write_ok_for={LONELY: ok(400)},
    )


RULES: dict[str, dict[str, Req]] = merge(
    resource("platforms", C["platform"], create={"name": "mx-platform"}),
    resource(
        "projects",
        C["project"],
        create={
            "name": "mx-project",
            "pms": "apt",
            "architecture": "amd64",
            "platform": row_id("platform.debian"),
        },
    ),
    resource("stores", C["store"], create={"name": "mx-new-store", "project": PROJECT}),
    resource("packages", C["package"], ("list", "create", "retrieve", "destroy", "export")),
    action("packages.action.info", "GET", C["package"]),
    action("packages.action.orphan", "GET"),
    resource(
        "package-sets",
        C["packageset"],
        create={"name": "mx-new-set", "project": PROJECT, "packages": []},
    ),
    action(
        "package-sets.action.copy",
        "POST",
        C["packageset"],
        {"project": row_id("project.fedora")},
        ok(201),
    ),
    _deployments("deployments", C["deployment"], {"project": PROJECT, "name": "mx_new"}),
    _deployments(
        "deployments.internal-sources",
        C["deployment"],
        {"project": PROJECT, "name": "mx_internal"},
        ("list", "create", "retrieve", "update", "partial_update", "destroy"),
    ),
    action(
        "deployments.internal-sources.action.copy",
        "POST",
        C["deployment"],
        {"project": row_id("project.fedora")},
        ok(201),
        # The target project is outside a delegated admin's view: not found, nothing written.
        ok_for={NORTH: ok(404), SCOPED: ok(404)},
    ),
    action("deployments.internal-sources.action.generating", "GET"),
    action("deployments.internal-sources.action.metadata", "GET", C["deployment"]),
    action("deployments.internal-sources.action.metadata", "POST", C["deployment"]),
    action("deployments.internal-sources.build", "GET", C["deployment"]),
    _deployments(
        "deployments.external-sources",
        C["external"],
        {"project": PROJECT, "name": "mx_mirror", "base_url": "http://deb.example.test/x"},
        ("list", "create", "retrieve", "update", "partial_update", "destroy"),
    ),
    resource(
        "attributes", C["attribute"], ("list", "retrieve", "update", "partial_update", "destroy")
    ),
    resource("tags", C["tag"], create=None),
    action("tags.action.computers", "GET", C["tag"]),
    action(
        "tags.action.computers", "PATCH", C["tag"], {"computers": [row_id("computer.n1")]}, ok(204)
    ),
    resource("features", C["feature"]),
    resource("attribute-sets", C["attributeset"], create={"name": "mx-new-attribute-set"}),
    resource(
        "properties",
        C["property"],
        ("list", "create", "retrieve", "update", "partial_update", "destroy"),
    ),
    action("properties.action.kind", "GET"),
    resource("formulas", C["formula"]),
    resource("stamps", C["stamp"], create={"prefix": "MXS", "name": "mx stamp"}),
    resource(
        "singularities",
        C["singularity"],
        ("list", "create", "retrieve", "update", "partial_update", "destroy"),
    ),
    resource("schedules", C["schedule"], create={"name": "mx-new-schedule"}),
    resource(
        "schedule-delays",
        C["scheduledelay"],
        ("list", "create", "retrieve", "update", "partial_update", "destroy"),
    ),
    resource("domains", C["domain"], create={"name": "mx-new-domain"}),
    resource("scopes", C["scope"], create={"name": "mx-new-scope"}),
    resource("user-profiles", C["userprofile"], create={"username": "mx-new-user"}),
    action("user-profiles.action.change-password", "PUT", C["userprofile"], None, ok(400)),
    action("user-profiles.action.domain-admins", "GET"),
    action("user-profiles.action.preferences", "PATCH", C["userprofile"], {}),
    action("user-profiles.action.update-token", "POST", C["userprofile"], {}),
    resource("accounts.groups", C["group"], create={"name": "mx-new-group"}),
    resource("accounts.permissions", C["permission"], ("list", "retrieve")),
    # -- clients addon ---------------------------------------------------------------------------
    resource(
        "computers",
        C["computer"],
        ("list", "retrieve", "update", "partial_update", "destroy", "export"),
    ),
    action("computers.action.delayed", "GET"),
    action("computers.action.status", "GET"),
    action("computers.action.synchronizing", "GET"),
    *(
        action(f"computers.action.{name}", "GET", C["computer"])
        for name in (
            "errors",
            "faults",
            "label",
            "situation",
            "software/history",
            "software/inventory",
            "sync",
            "sync/simulation",
        )
    ),
    action("computers.action.software/history", "DELETE", C["computer"]),
    action("computers.action.software/inventory", "DELETE", C["computer"]),
    action(
        "computers.action.replacement",
        "POST",
        C["computer"],
        {"target": row_id("computer.n2")},
    ),
    action("computers.action.set-status", "POST", C["computer"], {"status": "reserved"}),
    resource("errors", C["error"], CHECKABLE, put={"checked": True}),
    resource("faults", C["fault"], CHECKABLE, put={"checked": True}),
    action("faults.action.user", "GET"),
    resource("migrations", C["migration"], (*READ_ONLY, "destroy")),
    resource("status-logs", C["statuslog"], (*READ_ONLY, "destroy")),
    resource("syncs", C["sync"], (*READ_ONLY, "destroy")),
    resource("fault-definitions", C["faultdefinition"], create={"name": "mx-new-fd"}),
    resource(
        "notifications", C["notification"], create={"message": "mx note"}, put={"checked": True}
    ),
    resource("packages-history", C["packagehistory"], READ_ONLY),
    resource("users", C["clientuser"], (*READ_ONLY, "destroy")),
    # Live messages: no model, any authenticated administrator (see EFFECTIVE_PERMISSION).
    action("messages.collection", "GET"),
    action("messages.export", "GET"),
    action("messages.item", "DELETE", ("computer.n1",), codes=ok(404)),
    # -- hardware addon --------------------------------------------------------------------------
    resource("hardware", C["hardwarenode"], ("list", "retrieve")),
    action("hardware.action.info", "GET", C["hardwarenode"]),
    action("hardware.computer-hardware", "GET", C["computer"]),
)

# The non-token routes of the admin side: logging in. They take no identity (so no matrix of
# roles), but they belong to the inventory so that a new one is noticed.
AUTH_SERVICES = {
    "auth.jwt": "/token-auth-jwt/",
    "auth.jwt-refresh": "/token-refresh/",
    "auth.jwt-verify": "/api/token/verify/",
    "auth.token": "/token-auth/",
}

SUPERUSER_ONLY = "superuser only"
ANY_ADMIN = "any authenticated administrator"
# Where the view enforces a rule other than the declared permission (each one documented).
EFFECTIVE_PERMISSION = {
    # PATCH replaces the tagged computers: the view checks core.change_attribute itself.
    ("tags.action.computers", "PATCH"): "core.change_attribute",
    # Forgetting a computer's software records is for superusers (spec C.2 table; 403 here).
    ("computers.action.software/history", "DELETE"): SUPERUSER_ONLY,
    ("computers.action.software/inventory", "DELETE"): SUPERUSER_ONLY,
    # Live messages: the context grants its permission to every authenticated caller.
    ("messages.collection", "GET"): ANY_ADMIN,
    ("messages.export", "GET"): ANY_ADMIN,
    ("messages.item", "DELETE"): ANY_ADMIN,
}

# -- expected outcome -------------------------------------------------------------------------


def role_permissions(role) -> set[str]:
    """The codenames ``role`` holds through its default groups."""
    if role in RESTRICTED:
        return set(DEFAULT_GROUPS["Reader"]) | set(DEFAULT_GROUPS[DOMAIN_ADMIN_GROUP])
    group = GROUP_ROLES.get(role)
    return set(DEFAULT_GROUPS[group]) if group else set()


def holds(role, service, method, declared, case) -> bool:
    """Whether ``role`` may call ``service``/``method`` on ``case`` (a row in its view)."""
    wanted = EFFECTIVE_PERMISSION.get((service, method), declared)
    if wanted == ANY_ADMIN or role == SUPERUSER:
        return True
    if wanted == SUPERUSER_ONLY:
        return False
    perms = role_permissions(role)
    # accounts.UserProfileResource.item_acl: one's own account, or core.change_userprofile on
    # any account but a superuser's (superuser accounts are managed by superusers only).
    if wanted == SELF_OR_CHANGE:
        return case == "self" or ("core.change_userprofile" in perms and case != "userprofile.root")
    if wanted in PROFILE_WRITES and case == "userprofile.root":
        return False
    # deployments.item_acl: global deployments are read-only for delegated administrators.
    if wanted in DEPLOYMENT_WRITES and role in RESTRICTED and case == "deployment.global":
        return False
    return wanted in perms


def expected(mw, role, service, method, declared, req, case) -> frozenset[int]:
    """401 without an admin identity, 404 outside the caller's view, 403 without the
    permission, else the rule's success statuses."""
    if role in (ANONYMOUS, AGENT):
        return frozenset({401})
    if case is not None and case != "self" and role not in mw.objs[case].seen:
        return frozenset({404})
    if not holds(role, service, method, declared, case):
        return frozenset({403})
    return req.expected_ok(role)


# The kind of the rows of the actions that answer a plain list of rows (the generic list and
# detail services take the kind of their resource's model), for the leak check.
SERVICE_KIND = {
    "packages.action.orphan": "package",
    "deployments.internal-sources.action.generating": "deployment",
    "user-profiles.action.domain-admins": "userprofile",
    "computers.action.synchronizing": "computer",
    "computers.action.delayed": "computer",
    "computers.action.software/inventory": "package",
    "hardware.computer-hardware": "hardwarenode",
}
