"""The client's tag commands against the app (protocol-v5 6.3, 11; spec B.6, B.7): what
``tags/available/`` offers, ``tags/assigned/``, setting and clearing tags with ``tags/`` and the
package lists the client then applies, and the database rows behind them."""

from __future__ import annotations

import functools

import pytest

from migasfree_pyramid.models import Computer
from tests.agents import secure

PROJECT, OTHER = "scn-alpha", "scn-beta"  # fixed names: the key pair is made once per run
INVALID = {"error": {"info": "Invalid tags", "code": 400}}

_load_pem = functools.lru_cache(maxsize=8)(secure.load_pem)


@pytest.fixture(autouse=True)
def parse_keys_once(monkeypatch):
    """Parsing a private key checks it (slow); the agents here all hold the same PEM."""
    monkeypatch.setattr(secure, "load_pem", _load_pem)


@pytest.fixture
def world(make):
    """A project whose deployments include server tags, three domains, and a computer tagged
    with a DMN sub-tag of the NORTH domain that belongs to EAST through its PRJ attribute."""
    project = make.project(name=PROJECT, auto_register_computers=True)
    other = make.project(name=OTHER)
    for prefix, name, kind in (("ROL", "ROLE", "N"), ("LOC", "LOCATION", "N")):
        make.property(prefix, sort="server", kind=kind, name=name)
    make.property("DMN", sort="server", kind="L", name="DOMAIN")
    tag = functools.partial(make.attribute, sort="server")
    prj = make.attribute("PRJ", PROJECT, sort="basic")
    make.domain("north", tags=[tag("LOC", "lab1")])
    make.domain("south", included=[tag("ROL", "nobody-has-it")], tags=[tag("LOC", "lab2")])
    make.domain("east", included=[prj], tags=[tag("LOC", "east1")])
    for value in ("NORTH.lab", "NORTH.lab.x", "SOUTH.hall"):
        tag("DMN", value)
    everyone = make.all_systems()
    make.deployment(
        "teachers",
        project,
        included=[tag("ROL", "teacher"), everyone, make.attribute("HST", "pc9", sort="client")],
        packages_to_install="gimp\ninkscape",
        packages_to_remove="games",
        default_preincluded_packages="teacher-repo",
        default_included_packages="teacher-tools",
        default_excluded_packages="cheat",
    )
    # NULL package fields are empty lists (fix of spec F.7: the original failed on them).
    make.deployment(
        "students", project, included=[tag("ROL", "student")], packages_to_install="scratch"
    )
    make.deployment("ghosts", project, included=[tag("ROL", "ghost")], enabled=False)
    make.deployment(
        "elsewhere",
        other,
        included=[tag("ROL", "teacher"), tag("ROL", "other")],
        packages_to_install="beta-only",
    )
    return make.computer(
        project=project, sync_attributes=[everyone, prj], tags=[tag("DMN", "NORTH.lab")]
    )


@pytest.fixture
def pc(agent, world):
    made = agent(PROJECT, name=world.name, uuid=world.uuid, register=True)
    made.computer_id = world.id
    return made


def tags_of(session, computer_id: int) -> list[str]:
    session.expire_all()
    computer = session.get(Computer, computer_id)
    return sorted(f"{t.property_att.prefix}-{t.value}" for t in computer.tags)


def test_available_tags(pc):
    """(a) the NORTH domain named by the computer's DMN tag: its DMN tag, sub-tags and tags;
    (b) server tags included by enabled deployments of the project; (c) the tags of the EAST
    domain the computer belongs to. Not SOUTH, disabled or foreign deployments, nor the
    basic/client attributes deployments include."""
    assert pc.tags_available() == {
        "DOMAIN": ["DMN-NORTH", "DMN-NORTH.lab", "DMN-NORTH.lab.x"],
        "LOCATION": ["LOC-east1", "LOC-lab1"],
        "ROLE": ["ROL-student", "ROL-teacher"],
    }
    assert pc.tags_assigned() == ["DMN-NORTH.lab"]
    assert pc.envelope_errors == []


def test_setting_tags_gives_the_packages_to_apply(pc, dbsession):
    """Spec B.6: deployments reached by the removed tags are undone, those reached by the new
    set are applied (pre-included packages first); other projects' deployments never count."""
    cid = pc.computer_id
    assert pc.set_tags(["ROL-student"]) == {"preinstall": [], "install": ["scratch"], "remove": []}
    assert tags_of(dbsession, cid) == ["ROL-student"]
    assert pc.tags_assigned() == ["ROL-student"]

    assert pc.set_tags(["ROL-teacher", "LOC-lab1"]) == {
        "preinstall": ["teacher-repo"],
        "install": ["gimp", "inkscape", "teacher-tools"],
        "remove": ["scratch", "games", "cheat"],
    }
    assert tags_of(dbsession, cid) == ["LOC-lab1", "ROL-teacher"]

    # The next attributes/ call turns the tags into sync attributes.
    traits = pc.upload_attributes({"HST": "pc-tags\n"})
    assert pc.last.status == 201, traits
    computer = dbsession.get(Computer, cid)
    synced = {f"{a.property_att.prefix}-{a.value}" for a in computer.sync_attributes}
    assert {"ROL-teacher", "LOC-lab1", "HST-pc-tags", "SET-All Systems"} <= synced

    # [] clears: the deployments of the removed tags are undone.
    assert pc.set_tags([]) == {
        "preinstall": [],
        "install": ["games", "cheat"],
        "remove": ["gimp", "inkscape", "teacher-repo", "teacher-tools"],
    }
    assert tags_of(dbsession, cid) == []
    assert pc.tags_assigned() == []
    assert pc.envelope_errors == []


@pytest.mark.parametrize(
    "tags",
    [
        ["ROL-nobody"],  # unknown value
        ["XYZ-teacher"],  # unknown prefix
        ["teacher"],  # not PREFIX-value
        ["HST-pc9"],  # a client attribute (fix of spec F.8: only server sorts are tags)
        ["SET-All Systems"],  # a basic attribute
        [f"PRJ-{PROJECT}"],
    ],
)
def test_invalid_tags_change_nothing(pc, dbsession, tags):
    assert pc.set_tags(tags) == INVALID
    assert tags_of(dbsession, pc.computer_id) == ["DMN-NORTH.lab"]


def test_only_server_tags_of_a_mixed_list_are_assigned(pc, dbsession):
    value = pc.set_tags(["ROL-teacher", "HST-pc9", "SET-All Systems", "ROL-nobody"])
    assert value == {
        "preinstall": ["teacher-repo"],
        "install": ["gimp", "inkscape", "teacher-tools"],
        "remove": ["games", "cheat"],
    }
    assert tags_of(dbsession, pc.computer_id) == ["ROL-teacher"]
