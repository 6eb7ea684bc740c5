"""Extra actions of ``computers/``: status, label, software, events, replacement, sync state,
situation and sync simulation."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from migasfree_addons.clients.models import Error, Fault, FaultDefinition, Migration, PackageHistory
from migasfree_pyramid.models import StatusLog
from migasfree_pyramid.services.computers import cid_attribute

API = "/api/v1/token"
UTC = dt.UTC


def error_names(response) -> list[str]:
    return [error["name"] for error in response.json["errors"]]


def test_status_choices(client):
    response = client.get(f"{API}/computers/status/", as_="reader")
    assert response.status_int == 200
    assert response.json == {
        "choices": {
            "assigned": "Assigned",
            "reserved": "Reserved",
            "unknown": "Unknown",
            "in repair": "In repair",
            "available": "Available",
            "unsubscribed": "Unsubscribed",
        },
        "productive": ["assigned", "reserved", "unknown"],
        "unproductive": ["in repair", "available"],
        "active": ["assigned", "reserved", "unknown", "in repair"],
        "subscribed": ["assigned", "reserved", "unknown", "in repair", "available"],
        "unsubscribed": ["unsubscribed"],
    }
    assert client.get(f"{API}/computers/status/", as_="anonymous").status_int == 401


def test_set_status(client, make, dbsession):
    computer = make.computer()
    url = f"{API}/computers/{computer.id}/status/"
    response = client.post(url, {"status": "in repair"})
    assert response.status_int == 200, response.text
    assert response.json["status"] == "in repair" and response.json["id"] == computer.id
    logs = dbsession.scalars(select(StatusLog.status).where(StatusLog.computer_id == computer.id))
    assert list(logs) == ["in repair"]
    invalid = client.post(url, {"status": "lost"})
    assert invalid.status_int == 400 and error_names(invalid) == ["status"]
    assert "assigned, reserved, unknown, in repair" in invalid.json["errors"][0]["description"]
    assert client.post(url, {}).status_int == 400
    assert client.post(url, {"status": "reserved"}, as_="reader").status_int == 403
    assert client.post(f"{API}/computers/999999/status/", {"status": "reserved"}).status_int == 404


def test_label(client, make, monkeypatch):
    monkeypatch.setitem(client.registry.settings, "clients.helpdesk", "Call 555")
    computer = make.computer(name="PC9")
    response = client.get(f"{API}/computers/{computer.id}/label/", as_="reader")
    assert response.json == {
        "uuid": computer.uuid,
        "name": "PC9",
        "search": f"CID-{computer.id}",
        "helpdesk": "Call 555",
    }


def add_history(dbsession, computer, package, installed, uninstalled=None):
    row = PackageHistory(
        computer_id=computer.id,
        package_id=package.id,
        install_date=installed,
        uninstall_date=uninstalled,
    )
    dbsession.add(row)
    dbsession.flush()
    return row


def test_software_inventory(client, make, dbsession):
    computer = make.computer()
    zsh = make.package("zsh", project=computer.project)
    bash = make.package("bash", project=computer.project)
    old = make.package("old", project=make.project())
    now = dt.datetime.now(UTC)
    add_history(dbsession, computer, zsh, now)
    add_history(dbsession, computer, bash, now)
    kept = add_history(dbsession, computer, old, now)  # another project: left open by a migration
    gone = add_history(dbsession, computer, make.package("vim", project=computer.project), now, now)
    url = f"{API}/computers/{computer.id}/software/inventory/"
    expected = [{"id": bash.id, "name": bash.fullname}, {"id": zsh.id, "name": zsh.fullname}]
    assert client.get(url, as_="reader").json == expected
    forbidden = client.delete(url, as_="reader")
    assert forbidden.status_int == 403
    assert "superusers" in forbidden.json["errors"][0]["description"]
    assert client.delete(url).json == []
    left = dbsession.scalars(
        select(PackageHistory.id).where(PackageHistory.computer_id == computer.id)
    )
    assert sorted(left) == sorted([gone.id, kept.id])


def test_software_history(client, make, dbsession):
    computer = make.computer()
    first = dt.datetime(2024, 1, 2, 3, 4, 5, 600, tzinfo=UTC)
    second = dt.datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
    vim = make.package("vim", project=computer.project)
    zsh = make.package("zsh", project=computer.project)
    add_history(dbsession, computer, vim, first, second)
    add_history(dbsession, computer, zsh, first)
    url = f"{API}/computers/{computer.id}/software/history/"
    response = client.get(url, as_="reader")
    assert response.status_int == 200
    assert list(response.json) == ["2024-03-01T12:00:00", "2024-01-02T03:04:05"]
    assert response.json["2024-03-01T12:00:00"] == [
        {"id": vim.id, "name": vim.fullname, "mode": "-"}
    ]
    assert response.json["2024-01-02T03:04:05"] == [
        {"id": vim.id, "name": vim.fullname, "mode": "+"},
        {"id": zsh.id, "name": zsh.fullname, "mode": "+"},
    ]
    assert client.delete(url, as_="reader").status_int == 403
    assert client.delete(url + "?key=yesterday").status_int == 400
    after = client.delete(url + "?key=2024-03-01T12:00:00")
    assert list(after.json) == ["2024-01-02T03:04:05"]
    assert after.json["2024-01-02T03:04:05"] == [{"id": zsh.id, "name": zsh.fullname, "mode": "+"}]
    assert client.delete(url).json == {}


def test_error_and_fault_counts(client, make, dbsession):
    computer = make.computer()
    other = make.computer()
    definition = FaultDefinition(name="disk", code="")
    dbsession.add(definition)
    dbsession.flush()
    for checked in (True, False, False):
        dbsession.add(
            Error(computer_id=computer.id, project_id=computer.project_id, checked=checked)
        )
    dbsession.add(Error(computer_id=other.id, project_id=other.project_id))
    dbsession.add(
        Fault(
            computer_id=computer.id,
            project_id=computer.project_id,
            fault_definition_id=definition.id,
            checked=True,
        )
    )
    dbsession.flush()
    errors = client.get(f"{API}/computers/{computer.id}/errors/", as_="reader").json
    faults = client.get(f"{API}/computers/{computer.id}/faults/", as_="reader").json
    assert errors == {"unchecked": 2, "total": 3}
    assert faults == {"unchecked": 0, "total": 1}


def test_replacement(client, make, dbsession):
    teacher, student = make.attribute("ROL", "teacher"), make.attribute("ROL", "student")
    source = make.computer(status="assigned", tags=[teacher])
    target = make.computer(status="reserved", tags=[student])
    source_cid, target_cid = cid_attribute(dbsession, source), cid_attribute(dbsession, target)
    deployment = make.deployment(project=source.project, included=[source_cid])
    attribute_set = make.attribute_set(excluded=[target_cid])
    domain = make.domain(included=[source_cid])
    definition = FaultDefinition(name="disk", code="", excluded_attributes=[source_cid])
    dbsession.add(definition)
    dbsession.flush()
    response = client.post(f"{API}/computers/{source.id}/replacement/", {"target": target.id})
    assert response.status_int == 200, response.text
    assert response.json["source"]["id"] == source.id
    assert response.json["target"]["status"] == "assigned"
    dbsession.expire_all()
    assert [t.value for t in source.tags] == ["student"]
    assert [t.value for t in target.tags] == ["teacher"]
    assert (source.status, target.status) == ("reserved", "assigned")
    assert [a.id for a in deployment.included_attributes] == [target_cid.id]
    assert [a.id for a in attribute_set.excluded_attributes] == [source_cid.id]
    assert target_cid.id in [a.id for a in domain.included_attributes]
    assert source_cid.id not in [a.id for a in domain.included_attributes]
    assert [a.id for a in definition.excluded_attributes] == [target_cid.id]
    logs = dbsession.scalars(select(StatusLog.computer_id).where(StatusLog.status == "reserved"))
    assert source.id in list(logs)


def test_replacement_with_available_target(client, make, dbsession):
    teacher = make.attribute("ROL", "teacher")
    source = make.computer(status="assigned", tags=[teacher])
    target = make.computer(status="available")
    response = client.post(f"{API}/computers/{source.id}/replacement/", {"target": target.id})
    assert response.status_int == 200
    dbsession.expire_all()
    # The source became available, so it keeps no tags; the target took them.
    assert source.status == "available" and source.tags == []
    assert target.status == "assigned" and [t.value for t in target.tags] == ["teacher"]


def test_replacement_errors(client, make):
    source = make.computer()
    url = f"{API}/computers/{source.id}/replacement/"
    assert error_names(client.post(url, {})) == ["target"]
    assert client.post(url, {}).status_int == 400
    assert client.post(url, {"target": source.id}).status_int == 400
    assert client.post(url, {"target": 999999}).status_int == 400
    assert client.post(url, {"target": "x"}).status_int == 400
    assert client.post(url, {"target": 99999999999}).status_int == 400
    other = make.computer()
    assert client.post(url, {"target": other.id}, as_="reader").status_int == 403


def test_sync_state(client, make):
    user = make.client_user("ann", "Ann Lee")
    feature = make.attribute("LAB", "room-1", sort="client")
    computer = make.computer(sync_user=user, sync_attributes=[feature])
    make.computer(sync_attributes=[feature])
    make.computer(sync_attributes=[feature], status="available")  # not productive: not counted
    computer.sync_start_date = dt.datetime(2024, 1, 1, 8, tzinfo=UTC)
    computer.sync_end_date = dt.datetime(2024, 1, 1, 9, tzinfo=UTC)
    response = client.get(f"{API}/computers/{computer.id}/sync/", as_="reader")
    assert response.json == {
        "sync_start_date": "2024-01-01T08:00:00+00:00",
        "sync_end_date": "2024-01-01T09:00:00+00:00",
        "sync_user": {
            "id": user.id,
            "name": "ann",
            "fullname": "Ann Lee",
            "__str__": "ann (Ann Lee)",
        },
        "sync_attributes": [
            {
                "id": feature.id,
                "property_att": {
                    "id": feature.property_att_id,
                    "prefix": "LAB",
                    "name": "LAB",
                    "sort": "client",
                },
                "value": "room-1",
                "description": None,
                "latitude": None,
                "longitude": None,
                "total_computers": 2,
            }
        ],
    }


def test_situation(client, make, dbsession):
    first, second = make.project(), make.project()
    computer = make.computer(project=second)
    computer.created_at = dt.datetime(2024, 1, 1, tzinfo=UTC)
    dbsession.add_all(
        [
            Migration(
                computer_id=computer.id,
                project_id=first.id,
                created_at=dt.datetime(2024, 1, 1, 10, tzinfo=UTC),
            ),
            Migration(
                computer_id=computer.id,
                project_id=second.id,
                created_at=dt.datetime(2024, 3, 1, 10, tzinfo=UTC),
            ),
            StatusLog(
                computer_id=computer.id,
                status="reserved",
                created_at=dt.datetime(2024, 2, 1, 10, tzinfo=UTC),
            ),
        ]
    )
    dbsession.flush()
    url = f"{API}/computers/{computer.id}/situation/?date="
    january = client.get(url + "2024-01-15", as_="reader").json
    assert january["project"]["id"] == first.id and january["project"]["slug"] == first.slug
    assert january["platform"] == {"id": first.platform.id, "name": first.platform.name}
    assert january["status"] == "assigned"  # no log yet, computer existed: default status
    assert client.get(url + "2024-02-01").json["status"] == "reserved"  # the whole day counts
    march = client.get(url + "2024-03-01").json
    assert march["project"]["id"] == second.id and march["status"] == "reserved"
    before = client.get(url + "2023-12-01").json
    assert before == {"platform": None, "project": None, "status": None}
    bad = client.get(url + "01/02/2024")
    assert bad.status_int == 400 and error_names(bad) == ["date"]


def last_monday(days_back: int) -> dt.date:
    day = dt.date.today() - dt.timedelta(days=days_back)
    return day - dt.timedelta(days=day.weekday())


def test_sync_simulation(client, make, dbsession, monkeypatch):
    lab = make.attribute("LAB", "room-1", sort="client")
    blocked = make.attribute("LAB", "blocked", sort="client")
    computer = make.computer(sync_attributes=[lab])
    project = computer.project
    direct = make.deployment(
        "a-direct",
        project=project,
        included=[lab],
        packages_to_install="vim\nzsh",
        packages_to_remove="nano",
    )
    scheduled = make.deployment(
        "b-scheduled",
        project=project,
        schedule=make.schedule(delays=[(0, 1, [lab])]),
        start_date=last_monday(14),
        packages_to_install="vim\ngit",
        source="E",
    )
    make.deployment(  # scheduled, not yet started
        "c-future",
        project=project,
        schedule=make.schedule(delays=[(0, 1, [lab])]),
        start_date=dt.date.today() + dt.timedelta(days=30),
    )
    make.deployment("d-excluded", project=project, included=[lab], excluded=[lab])
    make.deployment("e-other-project", included=[lab])
    make.deployment("f-disabled", project=project, included=[lab], enabled=False)
    enabled = FaultDefinition(name="disk", code="", included_attributes=[lab])
    dbsession.add_all(
        [
            enabled,
            FaultDefinition(name="off", code="", enabled=False, included_attributes=[lab]),
            FaultDefinition(
                name="excluded", code="", included_attributes=[lab], excluded_attributes=[blocked]
            ),
        ]
    )
    computer.sync_attributes.append(blocked)
    dbsession.flush()
    url = f"{API}/computers/{computer.id}/sync/simulation/"
    response = client.get(url, as_="reader")
    assert response.status_int == 200, response.text
    assert response.json == {
        "deployments": [
            {"id": direct.id, "name": "a-direct", "source": "I"},
            {"id": scheduled.id, "name": "b-scheduled", "source": "E"},
        ],
        "fault_definitions": [{"id": enabled.id, "name": "disk"}],
        "packages": {
            "install": [
                {"package": "vim", "name": "a-direct", "id": direct.id},
                {"package": "zsh", "name": "a-direct", "id": direct.id},
                {"package": "vim", "name": "b-scheduled", "id": scheduled.id},
                {"package": "git", "name": "b-scheduled", "id": scheduled.id},
            ],
            "remove": [{"package": "nano", "name": "a-direct", "id": direct.id}],
        },
        "policies": {"install": [], "remove": []},
        "capture_hardware": True,
        "logical_devices": [],
        "default_logical_device": 0,
    }
    computer.last_hardware_capture = dt.datetime.now(UTC) - dt.timedelta(days=3)
    dbsession.flush()
    assert client.get(url).json["capture_hardware"] is False
    monkeypatch.setitem(client.registry.settings, "clients.hardware_period_days", 2)
    assert client.get(url).json["capture_hardware"] is True


def test_sync_simulation_statement_count(client, make, statements):
    lab = make.attribute("LAB", "room-1", sort="client")
    computer = make.computer(sync_attributes=[lab])
    headers = client.headers(client.role("reader"))
    url = f"{API}/computers/{computer.id}/sync/simulation/"

    def add(count):
        for _ in range(count):
            domain = make.domain(included=[lab])
            schedule = make.schedule(delays=[(0, 2, [lab]), (3, 1, [lab])])
            make.deployment(
                project=computer.project, included=[lab], domain=domain, schedule=schedule
            )

    add(1)
    with statements:
        assert len(client.app.get(url, headers=headers).json["deployments"]) == 1
    few = statements.count
    add(10)
    with statements:
        assert len(client.app.get(url, headers=headers).json["deployments"]) == 11
    assert statements.count == few


def test_live_message_lists_are_empty(client):
    assert client.get(f"{API}/computers/synchronizing/", as_="reader").json == []
    assert client.get(f"{API}/computers/delayed/", as_="reader").json == []
    assert client.get(f"{API}/computers/delayed/", as_="nobody").status_int == 403


def test_actions_need_view_and_existing_computer(client, make):
    computer = make.computer()
    for action in ("label", "sync", "situation", "errors", "faults", "sync/simulation"):
        assert (
            client.get(f"{API}/computers/{computer.id}/{action}/", as_="nobody").status_int == 403
        )
        assert client.get(f"{API}/computers/999999/{action}/").status_int == 404
