"""The permission matrix's world: the two-domain fleet of ``conftest.world`` plus one row of
every scoped kind on each side, the callers (one per role) and who may see what.

Every row is registered with a *tier* that says which restricted callers see it:

- ``in``: the north admin and the scoped admin (whose scope keeps only N1) see it;
- ``n2``: only the north admin (rows of N2, outside the scoped admin's scope);
- ``out``: no restricted caller (south rows, the computer in repair, notifications);
- ``all``: everyone who holds the view permission (unscoped kinds: properties, schedules...).

The lonely admin (Domain Admin without any domain) sees no row of a scoped kind at all.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy import select

from migasfree_addons.clients.models import (
    Fault,
    FaultDefinition,
    Migration,
    PackageHistory,
    Synchronization,
)
from migasfree_addons.hardware.models import HardwareNode
from migasfree_pyramid.models import Group, Notification, Permission, Property, StatusLog

ANONYMOUS, AGENT, SUPERUSER = "anonymous", "agent", "superuser"
NORTH, SCOPED, LONELY = "north", "scoped", "lonely"
# One caller per default group, each in that group alone (security.permissions.DEFAULT_GROUPS).
GROUP_ROLES = {
    "reader": "Reader",
    "packager": "Packager",
    "configurator": "Configurator",
    "liberator": "Liberator",
    "checker": "Computer Checker",
    "installer": "Device installer",
}
RESTRICTED = (NORTH, SCOPED, LONELY)
ROLES = (ANONYMOUS, AGENT, "nobody", *GROUP_ROLES, SUPERUSER, *RESTRICTED)
UNRESTRICTED = frozenset(("nobody", *GROUP_ROLES, SUPERUSER))
EVERYONE = frozenset(ROLES)


def seen_by(tier: str) -> frozenset[str]:
    """The roles for which a row of ``tier`` passes scoping (before any permission check)."""
    return {
        "in": EVERYONE - {LONELY},
        "n2": EVERYONE - {SCOPED, LONELY},
        "out": EVERYONE - set(RESTRICTED),
        "all": EVERYONE,
    }[tier]


@dataclass
class Obj:
    kind: str
    id: int
    tier: str
    seen: frozenset[str]
    names: tuple[str, ...] = ()


@dataclass
class MatrixWorld:
    base: object  # conftest.World
    users: dict  # role -> UserProfile (None for anonymous and agent)
    objs: dict[str, Obj] = field(default_factory=dict)

    def add(self, key, kind, row_or_id, tier, seen=None, names=()) -> Obj:
        pk = row_or_id if isinstance(row_or_id, int) else row_or_id.id
        obj = Obj(kind, pk, tier, frozenset(seen) if seen else seen_by(tier), tuple(names))
        self.objs[key] = obj
        return obj

    def user_id(self, role: str) -> int:
        user = self.users.get(role) or self.users[SUPERUSER]
        return user.id

    def forbidden_ids(self, role: str) -> dict[str, set[int]]:
        """Ids, per kind, that must never reach ``role`` (a restricted caller)."""
        result: dict[str, set[int]] = {}
        for obj in self.objs.values():
            if obj.tier == "all" or role in obj.seen:
                continue
            result.setdefault(obj.kind, set()).add(obj.id)
        return result

    def forbidden_names(self, role: str) -> set[str]:
        return {
            name
            for obj in self.objs.values()
            if obj.tier != "all" and role not in obj.seen
            for name in obj.names
        }


def _user(client, name, groups=(), **kw):
    return client.user(f"mx-{name}", groups=list(groups), **kw)


def build(client, make, dbsession, world) -> MatrixWorld:
    """Extend ``world`` with the rows and callers of the matrix, and register who sees what."""
    a, c, p, d = world.attributes, world.computers, world.projects, world.domains
    north, south = d["north"], d["south"]
    users = {ANONYMOUS: None, AGENT: None, "nobody": _user(client, "nobody")}
    users.update({role: _user(client, role, [group]) for role, group in GROUP_ROLES.items()})
    users[SUPERUSER] = _user(client, "root", superuser=True)
    users[NORTH] = world.north_admin
    users[SCOPED] = _user(client, "scoped", ["Reader", "Domain Admin"])
    users[SCOPED].domains = [north]
    users[LONELY] = _user(client, "lonely", ["Reader", "Domain Admin"])
    mw = MatrixWorld(world, users)

    # Attributes: features and attribute-set mirrors on N1 (inside) and S1 (outside).
    feat_n, feat_s = make.attribute("PCI", "mx-north-card"), make.attribute("PCI", "mx-south-card")
    set_n = make.attribute_set("mx-north-set", included=[a["north_ctr"]])
    set_s = make.attribute_set("mx-south-set", included=[a["south_ctr"]])
    mirror = {
        name: make.attribute("SET", name, sort="basic") for name in ("mx-north-set", "mx-south-set")
    }
    n1, s1 = c["n1"], c["s1"]
    n1.sync_attributes += [feat_n, mirror["mx-north-set"]]
    s1.sync_attributes += [feat_s, mirror["mx-south-set"]]
    alice, bob = make.client_user("mx-alice"), make.client_user("mx-bob")
    n1.sync_user, s1.sync_user = alice, bob
    # The scoped admin's saved filter keeps only N1 (the teacher) of the north domain.
    scope_scoped = make.scope(users[SCOPED], "mx-teachers", north, included=[a["teacher"]])
    users[SCOPED].scope_preference = scope_scoped
    scope_north = make.scope(users[NORTH], "mx-north-scope", north, included=[a["north_ctr"]])
    scope_south = make.scope(world.multi_admin, "mx-south-scope", south, included=[a["south_ctr"]])
    root2 = _user(client, "root2", superuser=True)

    sides = {}
    for side, project, computer, ctr, domain in (
        ("n", p["debian"], n1, a["north_ctr"], north),
        ("s", p["ubuntu"], s1, a["south_ctr"], south),
    ):
        label = "north" if side == "n" else "south"
        store = make.store(f"mx-store-{label}", project=project)
        package = make.package(f"mxpkg{label}", project=project, store=store)
        package_set = make.package_set(f"mx-set-{label}", project=project, packages=[package])
        external = make.deployment(
            f"{label}_mirror",
            project=project,
            source="E",
            domain=domain,
            base_url="http://deb.example.test/debian",
            suite="stable",
            components="main",
            included=[ctr],
        )
        singularity = make.singularity(name=f"mx-sing-{label}", included_attributes=[ctr])
        definition = FaultDefinition(name=f"mx-fd-{label}", code="true", included_attributes=[ctr])
        history = PackageHistory(computer=computer, package=package)
        migration = Migration(computer=computer, project=project)
        log = StatusLog(computer=computer, status="assigned")
        node = HardwareNode(computer=computer, level=0, name="core", class_name="system")
        dbsession.add_all([definition, history, migration, log, node])
        sides[side] = (store, package, package_set, external, singularity, definition)
        sides[side] += (history, migration, log, node)
    schedule = make.schedule(
        "mx-schedule", delays=[(0, 5, [a["north_ctr"]]), (10, 5, [a["south_ctr"]])]
    )
    notification = Notification(message="Computer [S1] went south")
    dbsession.add(notification)
    dbsession.flush()

    # -- registration: tiers and names (names are checked in exports) -----------------------
    add = mw.add
    for key, computer in c.items():
        tier = {"n1": "in", "n2": "n2"}.get(key, "out")
        add(f"computer.{key}", "computer", computer, tier, names=[computer.name])
        for kind, model in (
            ("error", None),
            ("fault", Fault),
            ("synchronization", Synchronization),
        ):
            row = (
                world.errors[key]
                if model is None
                else dbsession.scalars(select(model).where(model.computer_id == computer.id)).one()
            )
            add(f"{kind}.{key}", kind, row, tier)
    for key, project in p.items():
        tier = "in" if key == "debian" else "out"
        add(f"project.{key}", "project", project, tier, names=[project.name])
        add(f"platform.{key}", "platform", project.platform_id, tier, names=[project.platform.name])
    for key in ("everyone", "north_ctr", "teacher"):
        add(f"attribute.{key}", "attribute", a[key], "in", names=[a[key].value])
    for key in ("south_ctr", "kiosk", "secret"):
        add(f"attribute.{key}", "attribute", a[key], "out", names=[a[key].value])
    add("attribute.feat_n", "attribute", feat_n, "in", names=[feat_n.value])
    add("attribute.feat_s", "attribute", feat_s, "out", names=[feat_s.value])
    add("attribute.set_n", "attribute", mirror["mx-north-set"], "in")
    add("attribute.set_s", "attribute", mirror["mx-south-set"], "out")
    # The domains' own DMN-<NAME> attributes are carried by no computer: nobody restricted
    # sees them (their values equal the domain names, so they carry no export names).
    for key, domain in d.items():
        dmn = next(x for x in domain.included_attributes if x.property_att.prefix == "DMN")
        add(f"attribute.dmn_{key}", "attribute", dmn, "out")
        add(
            f"domain.{key}",
            "domain",
            domain,
            "in" if key == "north" else "out",
            names=[domain.name],
        )
    add("attributeset.n", "attributeset", set_n, "in", names=[set_n.name])
    add("attributeset.s", "attributeset", set_s, "out", names=[set_s.name])
    for key, deployment in world.deployments.items():
        tier = "out" if key == "south" else "in"
        add(f"deployment.{key}", "deployment", deployment, tier, names=[deployment.name])
    # The per-side rows, in the order ``sides`` holds them.
    kinds = (
        "store",
        "package",
        "packageset",
        "deployment_ext",
        "singularity",
        "faultdefinition",
        "packagehistory",
        "migration",
        "statuslog",
        "hardwarenode",
    )
    for side, rows in sides.items():
        tier = "in" if side == "n" else "out"
        for kind, row in zip(kinds, rows, strict=True):
            name = getattr(row, "name", None) if kind != "hardwarenode" else None
            real_kind = "deployment" if kind == "deployment_ext" else kind
            add(f"{kind}.{side}", real_kind, row, tier, names=[name] if name else [])
    add("faultdefinition.everyone", "faultdefinition", _definition(dbsession, "sc-disk"), "in")
    add("clientuser.n", "clientuser", alice, "in", names=[alice.name])
    add("clientuser.s", "clientuser", bob, "out", names=[bob.name])
    add("schedule.any", "schedule", schedule, "all")
    delays = sorted(schedule.delays, key=lambda x: x.delay)
    add("scheduledelay.n", "scheduledelay", delays[0], "in")
    add("scheduledelay.s", "scheduledelay", delays[1], "out")
    add("notification.any", "notification", notification, "out")
    # Scopes are private: only their owner (and superusers) ever see one.
    add("scope.north", "scope", scope_north, "out", seen={SUPERUSER, NORTH, ANONYMOUS, AGENT})
    add("scope.scoped", "scope", scope_scoped, "out", seen={SUPERUSER, SCOPED, ANONYMOUS, AGENT})
    add("scope.south", "scope", scope_south, "out", seen={SUPERUSER, ANONYMOUS, AGENT})
    # Accounts: a restricted caller sees only their own; "self" is resolved per caller.
    multi = world.multi_admin
    add("userprofile.other", "userprofile", multi, "out", names=[multi.username])
    add("userprofile.root", "userprofile", root2, "out", names=[root2.username])
    for role, user in users.items():
        if user is not None:
            seen = UNRESTRICTED | {role, ANONYMOUS, AGENT}
            add(f"userprofile.role.{role}", "userprofile", user, "out", seen, [user.username])
    reader_group = dbsession.scalars(select(Group).where(Group.name == "Reader")).one()
    add("group.any", "group", reader_group, "all")
    add("permission.any", "permission", dbsession.scalars(select(Permission.id)).first(), "all")
    for key in ("property", "formula", "stamp"):
        prefix = {"property": "CTR", "formula": "PCI", "stamp": "ROL"}[key]
        add(f"{key}.any", "property", _property_id(dbsession, prefix), "all")
    return mw


# -- leak checks --------------------------------------------------------------------------------

NESTED_KINDS = {
    "computer": "computer",
    "project": "project",
    "platform": "platform",
    "domain": "domain",
    "deployment": "deployment",
    "store": "store",
    "package": "package",
    "fault_definition": "faultdefinition",
}


def _references(value, found: list, where: str = "$") -> None:
    """Every (kind, id, where) a JSON answer mentions in a shape we can recognise."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            _references(item, found, f"{where}[{i}]")
        return
    if not isinstance(value, dict):
        return
    pk = value.get("id")
    if isinstance(pk, int):
        if str(value.get("__str__", "")).startswith("CID-"):
            found.append(("computer", pk, where))
        if "property_att" in value and "value" in value:
            found.append(("attribute", pk, where))
        if "username" in value:
            found.append(("userprofile", pk, where))
    for key, item in value.items():
        kind = NESTED_KINDS.get(key)
        if kind and isinstance(item, int) and not isinstance(item, bool):
            found.append((kind, item, f"{where}.{key}"))
        elif kind and isinstance(item, dict) and isinstance(item.get("id"), int):
            found.append((kind, item["id"], f"{where}.{key}"))
        _references(item, found, f"{where}.{key}")


def leaks(mw: MatrixWorld, role, kind, response) -> list[str]:
    """What a restricted ``role`` was shown and must not see: rows of ``kind`` (the
    endpoint's model) at the top level, recognisable nested rows, a ``count`` that disagrees
    with a single page of results, and outside names in a CSV export."""
    forbidden = mw.forbidden_ids(role)
    if response.content_type == "text/csv":
        names = mw.forbidden_names(role)
        cells = {
            part
            for row in csv.reader(io.StringIO(response.text))
            for cell in row
            for part in cell.split(", ")
        }
        return [f"export names {sorted(cells & names)}"] if cells & names else []
    data = response.json
    found: list = []
    _references(data, found)
    if kind:
        rows = data["results"] if isinstance(data, dict) and "results" in data else data
        for i, row in enumerate(rows if isinstance(rows, list) else [rows]):
            if isinstance(row, dict) and isinstance(row.get("id"), int):
                found.append((kind, row["id"], f"row[{i}]"))
    problems = {f"{k} {pk} at {where}" for k, pk, where in found if pk in forbidden.get(k, ())}
    paged = isinstance(data, dict) and isinstance(data.get("results"), list)
    if paged and data.get("next") is None and data.get("count") != len(data["results"]):
        problems.add(f"count {data.get('count')} for {len(data['results'])} results")
    return sorted(problems)


def _definition(session, name):
    return session.scalars(select(FaultDefinition).where(FaultDefinition.name == name)).one()


def _property_id(session, prefix) -> int:
    return session.scalars(select(Property.id).where(Property.prefix == prefix)).one()
