"""The simulated fleet of the sync benchmark: who each computer is, what it reports, and the
server-side data that makes its sync do real matching.

Everything is a pure function of the computer's index (and of its sync number for what
changes), so any client process can drive any computer: a computer's ``generation``-th sync
reports ``inventory(index, generation)``, and the one before it ``generation - 1``.
"""

from __future__ import annotations

import uuid as uuidlib

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

NAMESPACE = uuidlib.UUID("6d1f3c1e-2b7a-4f0e-9a51-5e7ab0c0be11")
# The fixture formulas (HST, NET, PCI) plus seven: ten client attributes per computer.
FORMULAS = (
    ("CPU", "Processor"),
    ("RAM", "Memory"),
    ("DSK", "Disk"),
    ("LOC", "Location"),
    ("GRP", "Group"),
    ("OSV", "OS version"),
    ("ARC", "Architecture"),
)
LOCATIONS, GROUPS = 20, 10
STEMS = ("lib", "python3-", "fonts-", "gir1.2-", "x11-", "gnome-", "firmware-", "perl-", "node-")
CHANGES_PER_SYNC = 3
DEPLOYMENTS_PER_PROJECT = 25


class Fleet:
    """``size`` computers over ``projects`` projects, ``packages`` installed packages each."""

    def __init__(self, size: int, projects: int = 2, packages: int = 1500):
        self.size = size
        self.projects = projects
        self.packages = packages
        self.universe = packages * 6 // 5  # each computer has five sixths of these
        self.cycle = max(1, self.universe // CHANGES_PER_SYNC)

    def project(self, index: int) -> str:
        return f"bench-project-{index % self.projects + 1}"

    def project_names(self) -> list[str]:
        return [self.project(i) for i in range(min(self.projects, self.size))]

    def uuid(self, index: int) -> str:
        return str(uuidlib.uuid5(NAMESPACE, f"computer-{index}")).upper()

    def name(self, index: int) -> str:
        return f"BENCH-{index:05d}"

    def ip(self, index: int) -> str:
        # Only a claim the server stores (no traffic goes there); loopback range on purpose.
        return f"127.{30 + index // 65024}.{(index // 254) % 256}.{index % 254 + 1}"

    def user(self, index: int) -> str:
        return f"user{index % 500:03d}"

    def attributes(self, index: int) -> dict[str, str]:
        """Raw stdout of the ten formulas (the client keeps the trailing newline)."""
        pci = ",".join(
            f"{0x8086 + k:04x}:{(index * 7 + k) % 4096:04x}~00:{k:02x}.0" for k in range(8)
        )
        return {
            "HST": f"{self.name(index)}\n",
            "NET": f"{self.ip(index).rsplit('.', 1)[0]}.0/24\n",
            "PCI": f"{pci}\n",
            "CPU": f"Intel(R) Core(TM) i{3 + index % 3 * 2}-{8000 + index % 7 * 100} CPU\n",
            "RAM": f"{4 * (1 + index % 4)} GiB\n",
            "DSK": f"{256 * (1 + index % 3)} GB\n",
            "LOC": f"loc-{index % LOCATIONS:02d}~Location {index % LOCATIONS}\n",
            "GRP": f"grp-{index % GROUPS}\n",
            "OSV": "Debian GNU/Linux 12 (bookworm)\n",
            "ARC": "amd64\n",
        }

    def _revision(self, package: int, generation: int) -> int:
        """How often package ``package`` was upgraded up to sync ``generation``: every sync
        upgrades the next ``CHANGES_PER_SYNC`` packages of the universe (a rolling update)."""
        turn = (package // CHANGES_PER_SYNC) % self.cycle or self.cycle
        return 0 if generation < turn else (generation - turn) // self.cycle + 1

    def fullname(self, package: int, generation: int) -> str:
        stem = STEMS[package % len(STEMS)]
        version = f"{1 + package % 7}.{package % 23}.{self._revision(package, generation)}"
        arch = "all" if package % 4 == 0 else "amd64"
        return f"{stem}bench{package:04d}_{version}-{1 + package % 3}+deb12u1_{arch}.deb"

    def inventory(self, index: int, generation: int) -> list[str]:
        """The sorted package list of the computer's ``generation``-th sync (``dpkg`` order)."""
        return sorted(
            self.fullname(p, generation) for p in range(self.universe) if (p + index * 7) % 6 != 0
        )

    def lshw(self, index: int) -> dict:
        """An lshw tree of ~150 nodes: the spec's example machine plus generated devices."""
        from tests.addons.hardware.lshw import example, generated

        tree = example()
        tree["id"] = self.name(index).lower()
        tree["serial"] = self.uuid(index)
        devices = generated(140)
        devices["class"] = "bus"
        tree["children"][0]["children"].append(devices)
        return tree

    def faults(self, index: int, generation: int) -> dict[str, str]:
        """One computer in ten reports a fault now and then (output, as the client sends it)."""
        if (index + generation) % 10 == 0:
            return {"low-disk-space": "/ is 93% full\n"}
        return {}


def register_projects(base_url: str, fleet: Fleet) -> None:
    """``keys/project/`` once per project: the server auto-registers it (as a first client
    would) and creates its key pair."""
    from tests.agents import HttpTransport, V5Agent

    for name in fleet.project_names():
        agent = V5Agent(HttpTransport(base_url), name, str(uuidlib.uuid4()), "setup")
        value = agent.register()
        if not agent.has_keys:
            raise RuntimeError(f"could not register project {name}: {value}")


def prepare(server, fleet: Fleet) -> dict:
    """Projects, formulas, attribute sets, domains, schedules, deployments, fault definitions."""
    from migasfree_addons.clients.models import FaultDefinition
    from migasfree_pyramid.models import Project
    from tests.factories import Factory

    register_projects(server.base_url, fleet)
    engine = create_engine(server.database_url)
    counts = {}
    with Session(engine) as session:
        make = Factory(session)
        for prefix, name in FORMULAS:
            make.property(prefix, sort="client", kind="N", name=name, code=f"echo {prefix}")
        locations = [make.attribute("LOC", f"loc-{k:02d}", sort="client") for k in range(20)]
        groups = [make.attribute("GRP", f"grp-{k}", sort="client") for k in range(GROUPS)]
        everyone = make.all_systems()
        sets = [
            make.attribute_set(
                name=f"bench-set-{k}",
                included=locations[2 * k : 2 * k + 2],
                excluded=[groups[k]] if k % 3 == 0 else [],
            )
            for k in range(10)
        ]
        domains = [
            make.domain(name=f"bench-dom-{k}", included=groups[2 * k : 2 * k + 2]) for k in range(4)
        ]
        schedules = [
            make.schedule(
                name=f"bench-schedule-{k}",
                delays=[(0, 3, locations[k * 4 : k * 4 + 4]), (3, 5, [everyone])],
            )
            for k in range(3)
        ]
        projects = session.query(Project).filter(Project.name.in_(fleet.project_names())).all()
        deployments = 0
        for project in projects:
            for k in range(DEPLOYMENTS_PER_PROJECT):
                kind = k % 5
                make.deployment(
                    name=f"{project.slug}-deploy-{k}",
                    project=project,
                    included=[everyone]
                    if kind in (0, 4)
                    else [locations[k % 20]]
                    if kind < 3
                    else [],
                    excluded=[groups[k % GROUPS]] if kind == 1 else [],
                    schedule=schedules[k % 3] if kind == 3 else None,
                    domain=domains[k % 4] if kind == 4 else None,
                    packages_to_install=f"bench-tool-{k}\nbench-extra-{k}",
                    packages_to_remove=f"bench-old-{k}" if k % 2 else None,
                )
                deployments += 1
        for k in range(6):
            session.add(
                FaultDefinition(
                    name="low-disk-space" if k == 0 else f"bench-fault-{k}",
                    enabled=k != 5,
                    code='df / | awk \'NR==2 && $5+0 > 90 {print $6" is "$5" full"}\'',
                    included_attributes=[everyone] if k < 3 else [locations[k]],
                    excluded_attributes=[groups[k]] if k == 2 else [],
                )
            )
        session.commit()
        counts = {
            "projects": len(projects),
            "formulas": len(FORMULAS) + 3,
            "attribute_sets": len(sets),
            "domains": len(domains),
            "schedules": len(schedules),
            "deployments": deployments,
            "fault_definitions": 6,
        }
    engine.dispose()
    return counts
