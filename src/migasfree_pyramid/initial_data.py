"""Initial data (spec A.7): basic and client properties, ``All Systems``, default schedules,
the permission table and the seven default groups. Idempotent: running it again adds what is
missing (new permissions of a newly enabled addon, for instance) and changes nothing else.
"""

from __future__ import annotations

from sqlalchemy import select

from .models import Attribute, Group, Permission, Property, Schedule, ScheduleDelay
from .models.attributes import ALL_SYSTEMS_VALUE
from .security import PERMISSIONS_KEY
from .security.permissions import DEFAULT_GROUPS, permission_label

# prefix, name, sort, kind (spec A.1.1 fixture; language 1 = python)
PROPERTIES = (
    ("SET", "Attribute Set", "basic", "N"),
    ("CID", "Computer ID", "basic", "N"),
    ("PLT", "Platform", "basic", "N"),
    ("PRJ", "Project", "basic", "N"),
    ("IP", "IP Address", "basic", "N"),
    ("USR", "Login User", "basic", "N"),
    ("HST", "Hostname", "client", "N"),
    ("NET", "Network", "client", "N"),
    ("PCI", "PCI Devices", "client", "-"),
)

# The client formulas the original ships, so that a fresh server answers real clients usefully.
CLIENT_CODE = {
    "HST": "import platform\nprint(platform.node())",
    "NET": (
        "import ipaddress, subprocess\n"
        "out = subprocess.run(['ip', '-o', '-f', 'inet', 'addr', 'show', 'scope', 'global'],\n"
        "                     capture_output=True, text=True).stdout.split()\n"
        "print(ipaddress.ip_interface(out[3]).network if len(out) > 3 else '')"
    ),
    "PCI": (
        "import subprocess\n"
        "out = subprocess.run(['lspci', '-n'], capture_output=True, text=True).stdout\n"
        "print(','.join(line.split()[2] + '~' + line.split()[0] for line in out.splitlines()))"
    ),
}

SCHEDULES = (("2 weeks (by MID)", 10), ("4 weeks (by MID)", 20))


def seed_properties(session) -> None:
    existing = set(session.scalars(select(Property.prefix)))
    for prefix, name, sort, kind in PROPERTIES:
        if prefix not in existing:
            session.add(
                Property(
                    prefix=prefix,
                    name=name,
                    sort=sort,
                    kind=kind,
                    language=1,
                    enabled=True,
                    auto_add=True,
                    code=CLIENT_CODE.get(prefix),
                )
            )
    session.flush()


def all_systems(session) -> Attribute:
    prop = session.scalars(select(Property).where(Property.prefix == "SET")).one()
    attribute = session.scalars(
        select(Attribute).where(
            Attribute.property_att_id == prop.id, Attribute.value == ALL_SYSTEMS_VALUE
        )
    ).first()
    if attribute is None:
        attribute = Attribute(property_att=prop, value=ALL_SYSTEMS_VALUE, description="")
        session.add(attribute)
        session.flush()
    return attribute


def seed_schedules(session, everyone: Attribute) -> None:
    if session.scalars(select(Schedule.id).limit(1)).first() is not None:
        return
    for name, duration in SCHEDULES:
        schedule = Schedule(name=name, description="")
        session.add(schedule)
        session.add(
            ScheduleDelay(schedule=schedule, delay=0, duration=duration, attributes=[everyone])
        )
    session.flush()


def sync_permissions(session, registry) -> dict[str, Permission]:
    """One row per registered permission; returns ``{codename: row}``."""
    rows = {p.full_codename: p for p in session.scalars(select(Permission))}
    for enum in registry.get(PERMISSIONS_KEY, []):
        for member in enum:
            if member.value in rows:
                continue
            app, _, codename = member.value.partition(".")
            model = codename.split("_", 1)[1]
            row = Permission(
                codename=codename,
                content_type=f"{app}.{model}",
                name=permission_label(member.value, enum.verbose_names),
            )
            session.add(row)
            rows[member.value] = row
    session.flush()
    return rows


def seed_groups(session, permissions: dict[str, Permission]) -> None:
    for name, codenames in DEFAULT_GROUPS.items():
        group = session.scalars(select(Group).where(Group.name == name)).first()
        if group is None:
            group = Group(name=name)
            session.add(group)
        have = {p.full_codename for p in group.permissions}
        for codename in codenames:
            if codename in permissions and codename not in have:
                group.permissions.append(permissions[codename])
    session.flush()


def seed(session, registry) -> None:
    """Everything a new database needs; safe to run on every upgrade."""
    seed_properties(session)
    everyone = all_systems(session)
    seed_schedules(session, everyone)
    seed_groups(session, sync_permissions(session, registry))
