"""A small two-domain fleet, and the delegated administrators who work in it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from migasfree_addons.clients.models import Error, Fault, FaultDefinition, Synchronization
from migasfree_pyramid.models import Notification


@dataclass
class World:
    projects: dict
    computers: dict
    attributes: dict
    domains: dict
    deployments: dict
    errors: dict
    north_admin: object
    multi_admin: object


@pytest.fixture
def world(client, make, dbsession):
    everyone = make.all_systems()
    north_ctr, south_ctr = make.attribute("CTR", "north"), make.attribute("CTR", "south")
    teacher, kiosk = make.attribute("ROL", "teacher"), make.attribute("ROL", "kiosk")
    secret = make.attribute("ROL", "south-only")
    north = make.domain("NORTH", included=[north_ctr], tags=[teacher])
    south = make.domain("SOUTH", included=[south_ctr], excluded=[kiosk], tags=[kiosk])
    debian, ubuntu, fedora = (make.project(n) for n in ("sc-debian", "sc-ubuntu", "sc-fedora"))
    computers = {
        "n1": make.computer("N1", project=debian, sync_attributes=[everyone, north_ctr, teacher]),
        "n2": make.computer("N2", project=debian, sync_attributes=[everyone, north_ctr]),
        "n_repair": make.computer(
            "NR", project=debian, status="in repair", sync_attributes=[north_ctr]
        ),
        "s1": make.computer("S1", project=ubuntu, sync_attributes=[everyone, south_ctr, secret]),
        "s_kiosk": make.computer(
            "SK", project=fedora, sync_attributes=[everyone, south_ctr, kiosk]
        ),
    }
    deployments = {
        "global": make.deployment("global", project=debian, included=[everyone]),
        "north": make.deployment(
            "north_tools", project=debian, domain=north, included=[north_ctr, secret]
        ),
        "south": make.deployment("south_tools", project=ubuntu, domain=south, included=[south_ctr]),
    }
    definition = FaultDefinition(name="sc-disk", code="df", included_attributes=[everyone])
    dbsession.add(definition)
    errors = {}
    for key, computer in computers.items():
        errors[key] = Error(computer=computer, project=computer.project, description=key)
        dbsession.add(errors[key])
        dbsession.add(
            Fault(
                computer=computer,
                project=computer.project,
                fault_definition=definition,
                result="full",
            )
        )
        dbsession.add(Synchronization(computer=computer, project=computer.project))
    dbsession.add(Notification(message="Computer [S1] did something"))
    north_admin = client.user("north-admin", groups=["Reader", "Domain Admin"])
    north_admin.domains = [north]
    north_admin.domain_preference = north
    multi_admin = client.user("multi-admin", groups=["Reader", "Domain Admin"])
    multi_admin.domains = [north, south]
    dbsession.flush()
    return World(
        projects={"debian": debian, "ubuntu": ubuntu, "fedora": fedora},
        computers=computers,
        attributes={
            "north_ctr": north_ctr,
            "south_ctr": south_ctr,
            "teacher": teacher,
            "kiosk": kiosk,
            "secret": secret,
            "everyone": everyone,
        },
        domains={"north": north, "south": south},
        deployments=deployments,
        errors=errors,
        north_admin=north_admin,
        multi_admin=multi_admin,
    )
