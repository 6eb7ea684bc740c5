"""Whole ``migasfree sync`` runs of the v5 agent against the app on PostgreSQL, then what the
database holds (protocol-v5 sections 4-9, spec B.2-B.9).

The agent's transport empties the session's identity map before every request, as a real
request's new session would, so rows the test holds are detached: they are read again after a
run. Step numbers are those of the protocol-v5 section 5 table.
"""

from __future__ import annotations

import datetime as dt
import errno
import functools
import uuid as uuidlib

import pytest
from sqlalchemy import delete, select

from migasfree_addons.clients.models import (
    Error,
    Fault,
    FaultDefinition,
    Migration,
    PackageHistory,
    Synchronization,
)
from migasfree_pyramid.crypto.keystore import KeyStore
from migasfree_pyramid.domain.matching import time_horizon
from migasfree_pyramid.models import (
    Computer,
    Deployment,
    Domain,
    Notification,
    Package,
    Project,
    StatusLog,
)
from migasfree_pyramid.services.clock import local_to_utc, today
from migasfree_pyramid.services.computers import set_status
from tests.agents import ClientExit, V5Agent, WebTestTransport, secure
from tests.agents.sync import mark_history

SAFE, PUBLIC = "/api/v1/safe/", "/api/v1/public/"
STEPS = {
    PUBLIC + "server/info/": 2,
    PUBLIC + "keys/project/": 3,
    SAFE + "computers/": 4,
    SAFE + "computers/id/": 5,
    SAFE + "computers/properties/": 7,
    SAFE + "computers/attributes/": 8,
    SAFE + "computers/faults/definitions/": 9,
    SAFE + "computers/faults/": 10,
    PUBLIC + "keys/repositories/": 11,
    SAFE + "computers/repositories/": 12,
    SAFE + "computers/packages/mandatory/": 13,
    SAFE + "computers/software/": 14,
    SAFE + "computers/hardware/required/": 15,
    SAFE + "computers/hardware/": 16,
    SAFE + "computers/devices/": 17,
    SAFE + "computers/traits/": 18,
    SAFE + "computers/errors/": 19,  # 6 when it comes before the properties
    SAFE + "synchronizations/": 20,
    SAFE + "eot/": 21,
}
PROJECT_A, PROJECT_B = "scn-alpha", "scn-beta"  # fixed names: their key pairs are made once
INVENTORY_1 = [f"{n}_1.0-1_amd64.deb" for n in ("aaa", "bbb", "ccc", "ddd", "eee")]
INVENTORY_2 = ["aaa_1.1-1_amd64.deb", *INVENTORY_1[3:]] + [
    f"{n}_2.0-1_amd64.deb" for n in ("fff", "ggg", "hhh")
]


# Agents of one project hold the same PEM; parsing a private key checks it (slow): once a run.
_load_pem = functools.lru_cache(maxsize=64)(secure.load_pem)


@pytest.fixture(autouse=True)
def parse_keys_once(monkeypatch):
    monkeypatch.setattr(secure, "load_pem", _load_pem)


class FreshSessionTransport(WebTestTransport):
    """WebTest requests that each start with an empty identity map (pending rows flushed)."""

    def __init__(self, app, session, remote_addr):
        super().__init__(app, remote_addr)
        self.session = session

    def send(self, *args):
        self.session.flush()
        self.session.expunge_all()
        return super().send(*args)


@pytest.fixture
def computer_agent(testapp, dbsession, repository_key):
    """``computer_agent(project, name=..., uuid=..., ip_address=...)``: a v5 agent (no keys)."""

    def factory(project, name=None, uuid=None, ip_address="10.20.30.40", **kwargs):
        uuid = uuid or str(uuidlib.uuid4()).upper()
        transport = FreshSessionTransport(testapp, dbsession, ip_address)
        name = name or f"scn-{uuid[:8].lower()}"
        project = getattr(project, "name", project)
        return V5Agent(transport, project, uuid, name, ip_address=ip_address, **kwargs)

    return factory


@pytest.fixture
def hardware(registry) -> bool:
    """Whether the hardware addon answers ``computers/hardware/`` (steps 15 and 16)."""
    routes = registry.introspector.get_category("routes") or []
    return any(r["introspectable"]["pattern"] == SAFE + "computers/hardware/" for r in routes)


def steps(calls) -> list[int]:
    numbers: list[int] = []
    for call in calls:
        step = STEPS[call.path]
        numbers.append(6 if step == 19 and 7 not in numbers else step)
    return numbers


def sync_steps(first: bool, hardware: bool, faults=False, errors=False, capture=True):
    head = [2, 3, 4, 5] if first else [2, 5]
    middle = [7, 8, 9] + ([10] if faults else []) + [11, 12, 13, 14]
    middle += ([15] + ([16] if capture else [])) if hardware else []
    return head + middle + [17, 18] + ([19] if errors else []) + [20, 21]


def value_of(calls, path: str):
    return next(call.value for call in calls if call.path == SAFE + path)


def rows(session, model, **where) -> list:
    return session.scalars(select(model).filter_by(**where).order_by(model.id)).all()


def pick(obj, fields: str) -> tuple:
    return tuple(getattr(obj, field) for field in fields.split())


def names(attributes) -> set[str]:
    return {f"{a.property_att.prefix}-{a.value}" for a in attributes}


def open_packages(session, cid: int) -> dict[str, int]:
    found = session.execute(
        select(Package.fullname, PackageHistory.id)
        .join(Package, Package.id == PackageHistory.package_id)
        .where(PackageHistory.computer_id == cid, PackageHistory.uninstall_date.is_(None))
    )
    return dict(found.all())


def assert_clean(pc, calls):
    assert [(c.path, c.status, c.value) for c in calls if not c.ok] == []
    assert pc.envelope_errors == []


OUTPUTS = {
    "HST": "pc1\n",
    "NET": "10.20.30.0/24\n",
    "PCI": "8086:1237~Host bridge,8086:7000~ISA bridge\n",
    "ORG": "a.b.c\n",
}
BEFORE = ["bash_5.2.15-2_amd64.deb", "coreutils_9.1-1_amd64.deb", "nano_7.2-1_amd64.deb"]
AFTER = [*BEFORE[:2], "curl_7.88.1-10_amd64.deb", "vim_9.0.1378-2_amd64.deb"]


def test_first_sync_of_a_fresh_machine(computer_agent, dbsession, make, registry, hardware):
    """Registration, then every step of the first run. Domains are evaluated on the complete
    attribute list, so ``PRJ-<project>`` places the computer in its domain: a fix of spec F.5
    (the original evaluated them before the basic attributes)."""
    project_name, suffix = f"scn-fresh-{make.n()}-{uuidlib.uuid4().hex[:6]}", uuidlib.uuid4().hex
    platform, user, ip = f"ScnLinux-{suffix[:8]}", f"scn-alice-{suffix[:6]}", "10.20.30.40"
    keys = KeyStore(registry.settings["migasfree.keys_dir"])
    make.property("ORG", sort="client", kind="L", name="ORGANIZATION", code="echo a.b.c")
    kiosk = make.attribute("ROL", "kiosk")
    make.attribute_set("scn-org-ab", included=[make.attribute("ORG", "a.b", sort="client")])
    make.attribute_set("scn-org-zz", included=[make.attribute("ORG", "zz", sort="client")])
    make.property("DMN", sort="server", kind="L", name="DOMAIN")
    make.domain("north", included=[make.attribute("PRJ", project_name, sort="basic")])
    make.domain("south", included=[make.attribute("ROL", "teacher")])
    for name, excluded in (("scn-disk-full", []), ("scn-kiosk", [kiosk]), ("scn-quota", [])):
        dbsession.add(
            FaultDefinition(
                name=name,
                code=f"check {name}",
                included_attributes=[make.all_systems()],
                excluded_attributes=excluded,
            )
        )
    pc = computer_agent(project_name, name="pc1", platform=platform, ip_address=ip)
    configured = []

    def scripts(item):
        # The project exists once the machine registered it: this is when an administrator
        # can publish a deployment for it and tag the new computer (between steps 7 and 8).
        if not configured:
            project = dbsession.scalars(select(Project).filter_by(name=project_name)).one()
            everyone = make.all_systems()
            make.deployment("base", project, included=[everyone], packages_to_install="vim\ncurl")
            make.deployment("teach", project, included=[make.attribute("ROL", "teacher")])
            for domain in ("NORTH", "SOUTH"):  # a domain gate, passed through DMN-NORTH
                gate = dbsession.scalars(select(Domain).filter_by(name=domain)).one()
                make.deployment(f"in-{domain}", project, included=[everyone], domain=gate)
            dbsession.get(Computer, pc.computer_id).tags = [make.attribute("ROL", "kiosk")]
            dbsession.flush()
            configured.append(project.id)
        return OUTPUTS[item["prefix"]]

    start = dt.datetime.now() - dt.timedelta(seconds=1)
    assert not keys.exists(project_name)
    calls = pc.sync(
        attributes=scripts,
        software_before=BEFORE,
        inventory=AFTER,
        faults={"scn-disk-full": "95%\n", "scn-quota": ""},
        errors=("post-sync.d/50-check: exit status 1",),
        sync_user=user,
        sync_fullname="Alice Scenario",
        start_date=start,
        upload_hardware=hardware,
    )
    assert_clean(pc, calls)
    assert steps(calls) == sync_steps(True, hardware, faults=True, errors=True)
    cid = pc.computer_id

    # Registration (3, 4): platform, project, its key pair, notifications, the computer.
    project = dbsession.scalars(select(Project).filter_by(name=project_name)).one()
    assert (project.slug, project.pms, project.architecture) == (project_name, "apt", "amd64")
    assert project.auto_register_computers is True and project.platform.name == platform
    assert keys.exists(project.slug)
    assert pc.key(f"{project_name}.pri").thumbprint() == keys.public(project.slug).thumbprint()
    assert value_of(calls, "computers/") == {
        "id": cid,
        "uuid": pc.uuid,
        "name": "pc1",
        "project": project.id,
        "ip_address": ip,
        "forwarded_ip_address": ip,
    }
    messages = set(dbsession.scalars(select(Notification.message)))
    assert {
        f"Platform [{platform}] registered by IP [{ip}].",
        f"Project [{project_name}] with PMS [apt] registered by IP [{ip}].",
        f"User [{user}] registered by IP [{ip}].",
    } <= messages
    computer = dbsession.get(Computer, cid)
    identity = (pc.uuid, "pc1", "pc1.migasfree.test", "assigned")
    assert pick(computer, "uuid name fqdn status") == identity
    assert pick(computer, "project_id ip_address forwarded_ip_address") == (project.id, ip, ip)
    assert (computer.sync_user.name, computer.sync_user.fullname) == (user, "Alice Scenario")
    assert [s.status for s in rows(dbsession, StatusLog, computer_id=cid)] == ["assigned"]
    assert [m.project_id for m in rows(dbsession, Migration, computer_id=cid)] == [project.id]

    # Attributes (7, 8, 18): client properties by kind, the tag, basics, domain, set.
    org = {"prefix": "ORG", "language": "bash", "code": "echo a.b.c"}
    assert org in value_of(calls, "computers/properties/")
    expected = {
        "HST-pc1",
        "NET-10.20.30.0/24",
        "PCI-8086:1237",
        "PCI-8086:7000",
        "ORG-a",
        "ORG-a.b",
        "ORG-a.b.c",
        "ROL-kiosk",
        "SET-All Systems",
        f"CID-{cid}",
        f"PLT-{platform}",
        f"PRJ-{project_name}",
        f"IP-{ip}",
        f"USR-{user}",
        "SET-scn-org-ab",
        "DMN-NORTH",
    }
    traits = value_of(calls, "computers/traits/")
    assert {f"{t['prefix']}-{t['value']}" for t in traits} == expected
    assert names(computer.sync_attributes) == expected
    stored = {
        a.id: (a.description, a.value, a.property_att.prefix, a.property_att.sort)
        for a in computer.sync_attributes
    }
    assert {t["id"]: (t["description"], t["value"], t["prefix"], t["sort"]) for t in traits} == (
        stored
    )
    by_name = {f"{t['prefix']}-{t['value']}": t for t in traits}
    assert by_name["PCI-8086:1237"]["description"] == "Host bridge"
    assert by_name[f"CID-{cid}"]["description"] == "pc1"
    sorts = [by_name[n]["sort"] for n in ("HST-pc1", "SET-All Systems", "DMN-NORTH")]
    assert sorts == ["client", "basic", "server"]

    # Faults (9, 10): definitions matched by attributes, only non-empty results are stored.
    definitions = value_of(calls, "computers/faults/definitions/")
    assert definitions == [
        {"language": "bash", "name": n, "code": f"check {n}"}
        for n in ("scn-disk-full", "scn-quota")
    ]
    fault_call = next(c for c in calls if c.path == SAFE + "computers/faults/")
    assert fault_call.sent == {"id": cid, "faults": {"scn-disk-full": "95%\n"}}
    sync = rows(dbsession, Synchronization, computer_id=cid)
    assert len(sync) == 1
    sync = sync[0]
    faults = rows(dbsession, Fault, computer_id=cid)
    assert [(f.fault_definition.name, f.result, f.synchronization_id) for f in faults] == [
        ("scn-disk-full", "95%\n", sync.id)
    ]
    assert [f["result"] for f in fault_call.value] == ["95%\n"]

    # Repositories and packages (11-14).
    line = "deb {protocol}://{server}/pub/%s/repos %s PKGS\n"
    assert pc.repository_list == [
        {"name": slug, "source_template": line % (project.slug, slug)}
        for slug in ("base", "in-north")
    ]
    assert pc.mandatory == {"install": ["vim", "curl"], "remove": []}
    software = next(c for c in calls if c.path == SAFE + "computers/software/")
    assert software.sent["history"] == {
        "installed": ["+curl_7.88.1-10_amd64.deb", "+vim_9.0.1378-2_amd64.deb"],
        "uninstalled": ["-nano_7.2-1_amd64.deb"],
    }
    assert set(open_packages(dbsession, cid)) == set(AFTER)
    vim = dbsession.scalars(select(Package).filter_by(fullname=AFTER[-1])).one()
    fields = "name version architecture project_id store_id"
    assert pick(vim, fields) == ("vim", "9.0.1378-2", "amd64", project.id, None)

    # Hardware (15, 16), devices (17), errors (19), synchronization (20), EOT (21).
    if hardware:
        from migasfree_addons.hardware.models import HardwareNode

        assert value_of(calls, "computers/hardware/") == "Data received"
        nodes = {n.name for n in rows(dbsession, HardwareNode, computer_id=cid)}
        assert nodes == {"pc1", "core", "memory", "cpu"}
        assert computer.last_hardware_capture is not None
    assert value_of(calls, "computers/devices/") == {}
    errors = rows(dbsession, Error, computer_id=cid)
    assert [(e.description, e.synchronization_id) for e in errors] == [
        ("post-sync.d/50-check: exit status 1", sync.id)
    ]
    assert value_of(calls, "synchronizations/") == {
        "computer": cid,
        "start_date": start.isoformat(timespec="microseconds"),
        "consumer": "migasfree 5.0",
        "pms_status_ok": True,
    }
    fields = "pms_status_ok consumer project_id user_id"
    assert pick(sync, fields) == (True, "migasfree 5.0", project.id, computer.sync_user_id)
    assert sync.start_date == local_to_utc(start, registry.settings)
    assert computer.sync_end_date == sync.created_at
    assert value_of(calls, "eot/") == "EOT OK"

    # Results of unknown definitions and empty results are skipped.
    assert pc.upload_faults({"scn-no-such-fault": "x\n", "scn-quota": ""}) == []
    assert len(rows(dbsession, Fault, computer_id=cid)) == 1


def test_domain_defined_by_an_attribute_set(computer_agent, dbsession, make):
    """A domain reached through an attribute set the computer matches (its final attributes
    hold ``SET-<set>``), and a set reached through a domain (``DMN-<name>``)."""
    make.project(name=PROJECT_A, auto_register_computers=True)
    make.property("DMN", sort="server", kind="L", name="DOMAIN")
    make.attribute_set("scn-labs", included=[make.attribute("HST", "scn-lab-pc", sort="client")])
    make.domain("labs", included=[make.attribute("SET", "scn-labs", sort="basic")])
    make.attribute_set("scn-in-labs", included=[make.attribute("DMN", "LABS")])
    pc = computer_agent(PROJECT_A, name="scn-lab-pc")
    pc.register()
    assert pc.upload_attributes({"HST": "scn-lab-pc\n"})["id"] == pc.computer_id
    synced = names(dbsession.get(Computer, pc.computer_id).sync_attributes)
    assert {"SET-scn-labs", "DMN-LABS", "SET-scn-in-labs"} <= synced


def test_later_sync_updates_inventory_history_and_attributes(
    computer_agent, dbsession, make, hardware
):
    """Keys kept (2, 5, 7, ...); the inventory diff closes removed and upgraded rows, a
    history-only upload is honoured through its ``+``/``-`` markers (fix of protocol-v5 10.2),
    sync attributes are rebuilt and each run's errors go to its own synchronization."""
    make.project(name=PROJECT_A, auto_register_computers=True)
    pc = computer_agent(PROJECT_A)
    first = pc.sync(
        attributes={"PCI": "8086:1237,8086:7000\n"},
        inventory=INVENTORY_1,
        errors=("first run error",),
        upload_hardware=hardware,
    )
    assert_clean(pc, first)
    cid = pc.computer_id
    before = open_packages(dbsession, cid)
    assert set(before) == set(INVENTORY_1)
    assert "PCI-8086:7000" in names(dbsession.get(Computer, cid).sync_attributes)

    calls = pc.sync(
        attributes={"PCI": "8086:1237\n"},
        inventory=INVENTORY_2,
        errors=("second run error",),
        upload_hardware=hardware,
    )
    assert_clean(pc, calls)
    assert steps(calls) == sync_steps(False, hardware, errors=True, capture=False)
    software = next(c for c in calls if c.path == SAFE + "computers/software/")
    assert software.sent["history"] == {
        "installed": [
            "+aaa_1.1-1_amd64.deb",
            *(f"+{n}_2.0-1_amd64.deb" for n in ("fff", "ggg", "hhh")),
        ],
        "uninstalled": [f"-{n}_1.0-1_amd64.deb" for n in ("aaa", "bbb", "ccc")],
    }
    after = open_packages(dbsession, cid)
    assert set(after) == set(INVENTORY_2)
    # Kept packages keep their row; removed and upgraded-old rows are closed, not deleted.
    assert {n: after[n] for n in INVENTORY_1[3:]} == {n: before[n] for n in INVENTORY_1[3:]}
    closed = {
        row.package.fullname
        for row in rows(dbsession, PackageHistory, computer_id=cid)
        if row.uninstall_date is not None
    }
    assert closed == set(INVENTORY_1[:3])
    versions = dbsession.scalars(select(Package.version).filter_by(name="aaa")).all()
    assert sorted(versions) == ["1.0-1", "1.1-1"]

    # Without an inventory the markers alone say what happened; a package that comes back
    # gets a new row, its closed one stays.
    reinstalled = INVENTORY_1[1]
    history = mark_history(
        {"installed": ["iii_3.0-1_all.deb", reinstalled], "uninstalled": [INVENTORY_1[4]]}
    )
    assert history["installed"][0] == "+iii_3.0-1_all.deb"
    assert history["uninstalled"] == [f"-{INVENTORY_1[4]}"]
    assert pc.safe("computers/software/", {"id": cid, "history": history}) == "Data received"
    now_open = open_packages(dbsession, cid)
    assert set(now_open) == set(INVENTORY_2) - {INVENTORY_1[4]} | {"iii_3.0-1_all.deb", reinstalled}
    assert now_open[reinstalled] != before[reinstalled]

    computer = dbsession.get(Computer, cid)
    traits = value_of(calls, "computers/traits/")
    assert names(computer.sync_attributes) == {f"{t['prefix']}-{t['value']}" for t in traits}
    assert "PCI-8086:1237" in names(computer.sync_attributes)
    assert "PCI-8086:7000" not in names(computer.sync_attributes)
    syncs = rows(dbsession, Synchronization, computer_id=cid)
    assert len(syncs) == 2 and syncs[0].start_date < syncs[1].start_date
    errors = [
        (e.description, e.synchronization_id) for e in rows(dbsession, Error, computer_id=cid)
    ]
    assert errors == [("first run error", syncs[0].id), ("second run error", syncs[1].id)]
    assert computer.sync_end_date == syncs[1].created_at


def first_open_start(delay: int, day: dt.date) -> dt.date:
    """A start date on which wave 0 of ``delay`` is open today and wave 1 is not."""
    for back in range(15):
        start = day - dt.timedelta(days=back)
        if time_horizon(start, delay) <= day < time_horizon(start, delay + 1):
            return start
    raise AssertionError("no such start date")


def test_scheduled_deployment_reaches_computers_by_wave(computer_agent, dbsession, make, registry):
    """A delay of 2 working days spread over 2 waves: wave ``id % 2`` opens on
    ``time_horizon(start_date, 2 + wave)`` (spec B.5)."""
    project = make.project(name=PROJECT_A, auto_register_computers=True)
    everyone = make.all_systems()
    agents = []
    for _ in range(2):
        pc = computer_agent(project)
        pc.register()
        pc.computer_id = make.computer(
            project=project, uuid=pc.uuid, name=pc.name, sync_attributes=[everyone]
        ).id
        agents.append(pc)
    agents.sort(key=lambda a: a.computer_id % 2)
    assert [a.computer_id % 2 for a in agents] == [0, 1]
    schedule = make.schedule(delays=[(2, 2, [everyone])])
    deployment_id = make.deployment("rollout", project, schedule=schedule).id
    day = today(registry.settings)
    release = {
        "name": "rollout",
        "source_template": f"deb {{protocol}}://{{server}}/pub/{PROJECT_A}/repos rollout PKGS\n",
    }
    for start, expected in (
        (day + dt.timedelta(days=30), [[], []]),
        (first_open_start(2, day), [[release], []]),
        (day - dt.timedelta(days=30), [[release], [release]]),
    ):
        dbsession.get(Deployment, deployment_id).start_date = start
        assert [pc.repositories() for pc in agents] == expected, start


def test_project_migration(computer_agent, dbsession, make):
    """Re-registering with another project's keys moves the computer (spec B.9)."""
    alpha = make.project(name=PROJECT_A, auto_register_computers=True)
    beta = make.project(name=PROJECT_B, auto_register_computers=True)
    old = computer_agent(alpha)
    old.register()
    cid = old.get_computer_id()  # 5 answers 404, so the agent registers (4)
    assert [c.status for c in old.calls[1:]] == [404, 201]
    assert old.upload_software(INVENTORY_1) == "Data received"
    new = computer_agent(beta, uuid=old.uuid, name=old.name)
    new.register()
    value = new.save_computer()
    assert new.last.status == 200, value
    assert (value["id"], value["project"]["id"], value["status"]) == (cid, beta.id, "assigned")

    computer = dbsession.get(Computer, cid)
    assert computer.project_id == beta.id
    migrations = rows(dbsession, Migration, computer_id=cid)
    assert [m.project_id for m in migrations] == [alpha.id, beta.id]
    history = rows(dbsession, PackageHistory, computer_id=cid)
    assert len(history) == 5 and all(row.uninstall_date is not None for row in history)

    message = f"Unexpected Computer Project ({PROJECT_A}). Expected {PROJECT_B}"
    old.computer_id = None
    assert old.safe("computers/id/", {"uuid": old.uuid, "name": old.name}) == {
        "error": {"info": message, "code": 403}
    }
    with pytest.raises(ClientExit) as exit_:
        old.get_computer_id()
    assert exit_.value.code == errno.ENODATA
    assert exit_.value.info == f"{message} (Review keys or register computer again)"
    old.computer_id = cid
    assert old.properties() == {"error": {"info": message, "code": 403}}
    assert new.get_computer_id() == cid


def test_forgotten_computer_registers_again(computer_agent, dbsession, make, hardware):
    """The computer row is deleted between two syncs: ``computers/id/`` answers 404 and the
    agent registers again (2, 5, 4, 7, ...) under a new id."""
    project_id = make.project(name=PROJECT_A, auto_register_computers=True).id
    pc = computer_agent(PROJECT_A)
    assert_clean(pc, pc.sync(upload_hardware=hardware))
    old = pc.computer_id
    dbsession.flush()
    dbsession.execute(delete(Computer).where(Computer.id == old))

    calls = pc.sync(upload_hardware=hardware)
    assert steps(calls) == [2, 5, 4, *sync_steps(False, hardware)[2:]]
    assert (calls[1].status, calls[1].value) == (
        404,
        {"error": {"info": "Computer not found", "code": 404}},
    )
    assert_clean(pc, calls[2:])
    assert calls[2].status == 201
    new = pc.computer_id
    assert new != old and dbsession.get(Computer, old) is None
    assert dbsession.get(Computer, new).uuid == pc.uuid
    assert [m.project_id for m in rows(dbsession, Migration, computer_id=new)] == [project_id]
    assert [s.status for s in rows(dbsession, StatusLog, computer_id=new)] == ["assigned"]
    assert len(rows(dbsession, Synchronization, computer_id=new)) == 1
    assert rows(dbsession, Synchronization, computer_id=old) == []


def test_unsubscribed_then_available_then_registered_again(computer_agent, dbsession, make):
    """Spec B.8: an unsubscribed computer is refused (and the refusal recorded), loses its
    tags and CID links; an available one is noticed at EOT; registering again resets it."""
    make.project(name=PROJECT_A, auto_register_computers=True)
    pc = computer_agent(PROJECT_A)
    pc.register()
    cid = pc.get_computer_id()
    computer = dbsession.get(Computer, cid)
    computer.tags = [make.attribute("ROL", "scn-lab")]
    cid_attribute = make.attribute("CID", str(cid), sort="basic")
    deployment = make.deployment("scn-for-one", computer.project, included=[cid_attribute])
    event = set_status(dbsession, computer, "unsubscribed")
    assert (event.old, event.new) == ("assigned", "unsubscribed")
    assert computer.tags == []
    dbsession.refresh(deployment)
    assert deployment.included_attributes == []  # its CID left the deployment too

    pc.computer_id = None
    with pytest.raises(ClientExit) as exit_:
        pc.get_computer_id()
    assert exit_.value.code == errno.ENODATA
    assert pc.last.value == {"error": {"info": "Unsubscribed computer", "code": 403}}
    description = f"{pc.ip_address} - id - Unsubscribed computer"
    assert [e.description for e in rows(dbsession, Error, computer_id=cid)] == [description]
    # The refusal asks pyramid_tm to commit, so that the Error row survives in production.
    claims = {"uuid": pc.uuid, "name": pc.name}
    reply = pc.transport.post_json(SAFE + "computers/id/", pc.envelope(claims), pc.headers)
    assert (reply.status, reply.headers.get("x-tm")) == (403, "commit")

    set_status(dbsession, dbsession.get(Computer, cid), "available")
    assert pc.get_computer_id() == cid
    assert pc.eot() == "EOT OK"
    message = f"Computer [CID-{cid}] with available status, has been synchronized"
    assert dbsession.scalars(select(Notification).filter_by(message=message)).one()

    value = pc.save_computer()
    assert (pc.last.status, value["id"], value["status"]) == (200, cid, "assigned")
    statuses = [s.status for s in rows(dbsession, StatusLog, computer_id=cid)]
    assert statuses == ["assigned", "unsubscribed", "available", "assigned"]


def test_registration_refused_without_credentials(computer_agent, dbsession, make, client):
    """A project closed to auto-registration: 401 and exit 1 without a user, 201 with a
    superuser's credentials (protocol-v5 4.3)."""
    make.project(name="scn-closed", auto_register_computers=False)
    pc = computer_agent("scn-closed")
    with pytest.raises(ClientExit) as exit_:
        pc.sync()
    assert exit_.value.code == errno.EPERM
    assert exit_.value.info == (
        "Computer cannot be registered (You must register the computer with a valid user)"
    )
    assert steps(pc.calls) == [2, 3, 4]
    assert pc.last.value == {"error": {"info": "Computer cannot be registered", "code": 401}}
    assert dbsession.scalars(select(Computer).filter_by(uuid=pc.uuid)).first() is None

    client.user("scn-root", superuser=True, password="scn-pass")
    pc.username, pc.password = "scn-root", "scn-pass"
    cid = pc.register_computer()
    assert pc.last.status == 201
    assert dbsession.get(Computer, cid).project.name == "scn-closed"


def test_fleet_of_twenty_in_two_projects(computer_agent, dbsession, make, statements, hardware):
    """Twenty computers sync twice; a steady-state sync costs the same number of statements
    for the first computer and the twentieth."""
    everyone = make.all_systems()
    projects = [make.project(name=n, auto_register_computers=True) for n in (PROJECT_A, PROJECT_B)]
    for project in projects:
        make.deployment("base", project, included=[everyone], packages_to_install="vim")
    agents = [
        computer_agent(projects[i % 2], name=f"scn-fleet-{i:02d}", ip_address=f"10.9.{i % 2}.{i}")
        for i in range(20)
    ]
    counts: list[list[int]] = [[], []]
    for round_ in range(2):
        for pc in agents:
            with statements:
                calls = pc.sync(attributes={"PCI": "10de:1c82\n"}, upload_hardware=hardware)
            assert_clean(pc, calls)
            counts[round_].append(statements.count)
    print("statements per sync:", counts)
    assert len(set(counts[1])) == 1, counts[1]
    # First syncs too, once each project has its packages, network and user.
    assert len(set(counts[0][2:])) == 1, counts[0]
    for i, pc in enumerate(agents):
        computer = dbsession.get(Computer, pc.computer_id)
        assert names(computer.sync_attributes) == {
            f"HST-{pc.name}",
            f"NET-10.9.{i % 2}.0/24",
            "PCI-10de:1c82",
            "SET-All Systems",
            f"CID-{computer.id}",
            f"PLT-{computer.project.platform.name}",
            f"PRJ-{pc.project}",
            f"IP-{pc.ip_address}",
            "USR-user",
        }
        assert computer.project.name == (PROJECT_A, PROJECT_B)[i % 2]
        assert len(rows(dbsession, Synchronization, computer_id=computer.id)) == 2
        assert pc.mandatory == {"install": ["vim"], "remove": []}
