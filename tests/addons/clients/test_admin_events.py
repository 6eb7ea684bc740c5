"""Errors, faults, migrations, status logs and synchronizations through the admin API."""

from __future__ import annotations

import datetime as dt

import pytest

from migasfree_addons.clients.models import (
    Error,
    Fault,
    FaultDefinition,
    Migration,
    Synchronization,
)
from migasfree_pyramid.models import StatusLog

API = "/api/v1/token"
UTC = dt.UTC
JAN = dt.datetime(2024, 1, 10, 8, 30, tzinfo=UTC)
FEB = dt.datetime(2024, 2, 10, 8, 30, tzinfo=UTC)


def ids(response) -> list[int]:
    assert response.status_int == 200, response.text
    return [row["id"] for row in response.json["results"]]


def add(dbsession, obj):
    dbsession.add(obj)
    dbsession.flush()
    return obj


def computer_info(computer) -> dict:
    return {
        "id": computer.id,
        "__str__": f"CID-{computer.id}",
        "status": computer.status,
        "summary": f"{computer.status}, {computer.project.name}, , ",
    }


def project_info(project) -> dict:
    return {
        "id": project.id,
        "name": project.name,
        "slug": project.slug,
        "pms": project.pms,
        "architecture": project.architecture,
    }


# -- errors ------------------------------------------------------------------------------------


def test_error_list_detail_and_check(client, make, dbsession):
    computer = make.computer(name="pc-err")
    sync = add(
        dbsession,
        Synchronization(computer_id=computer.id, project_id=computer.project_id, start_date=JAN),
    )
    error = add(
        dbsession,
        Error(
            computer_id=computer.id,
            project_id=computer.project_id,
            description="apt failed",
            synchronization_id=sync.id,
            created_at=JAN,
        ),
    )
    listed = client.get(f"{API}/errors/", as_="reader")
    assert listed.json["results"] == [
        {
            "id": error.id,
            "__str__": f"CID-{computer.id} (2024-01-10 08:30:00)",
            "project": project_info(computer.project),
            "computer": computer_info(computer),
            "synchronization": {
                "id": sync.id,
                "start_date": JAN.isoformat(),
                "created_at": sync.created_at.isoformat(),
            },
            "created_at": JAN.isoformat(),
            "checked": False,
            "description": "apt failed",
        }
    ]
    url = f"{API}/errors/{error.id}/"
    assert client.get(url).json == listed.json["results"][0]
    assert client.patch(url, {"checked": True}, as_="reader").status_int == 403
    checked = client.patch(url, {"checked": True, "description": "ignored"}, as_="checker")
    assert checked.status_int == 200 and checked.json["checked"] is True
    assert checked.json["description"] == "apt failed"
    assert client.put(url, {"checked": False}, as_="checker").json["checked"] is False
    assert client.put(url, {}, as_="checker").status_int == 200
    assert client.patch(url, {"checked": "maybe"}).status_int == 400
    assert client.post(f"{API}/errors/", {"checked": True}).status_int == 405
    assert client.delete(url, as_="configurator").status_int == 403
    assert client.delete(url, as_="checker").status_int == 204
    assert client.get(url).status_int == 404
    assert client.get(f"{API}/errors/", as_="anonymous").status_int == 401
    assert client.get(f"{API}/errors/", as_="nobody").status_int == 403


def test_error_filters_search_ordering(client, make, dbsession):
    linux = make.platform("Linux")
    project = make.project(platform=linux)
    a = make.computer(name="alpha", project=project)
    b = make.computer(name="beta", status="reserved")
    first = add(
        dbsession,
        Error(computer_id=a.id, project_id=project.id, description="disk full", created_at=JAN),
    )
    second = add(
        dbsession,
        Error(
            computer_id=b.id,
            project_id=b.project_id,
            description="apt broken",
            checked=True,
            created_at=FEB,
        ),
    )
    url = f"{API}/errors/?"
    assert ids(client.get(url)) == [second.id, first.id]  # newest first
    assert ids(client.get(url + "ordering=created_at")) == [first.id, second.id]
    assert ids(client.get(url + "ordering=-computer__name")) == [second.id, first.id]
    assert ids(client.get(url + f"project__id={project.id}")) == [first.id]
    assert ids(client.get(url + f"project__platform__id={linux.id}")) == [first.id]
    assert ids(client.get(url + "checked=true")) == [second.id]
    assert ids(client.get(url + f"computer__id={a.id}")) == [first.id]
    assert ids(client.get(url + "computer__name=beta")) == [second.id]
    assert ids(client.get(url + "computer__name__icontains=LPH")) == [first.id]
    assert ids(client.get(url + "computer__status__in=reserved,unknown")) == [second.id]
    assert ids(client.get(url + "description__icontains=DISK")) == [first.id]
    assert ids(client.get(url + "created_at__gte=2024-02-01")) == [second.id]
    assert ids(client.get(url + "created_at__lt=2024-02-01")) == [first.id]
    assert ids(client.get(url + f"id__in={first.id}")) == [first.id]
    assert ids(client.get(url + "search=broken")) == [second.id]
    assert ids(client.get(url + "search=2024-01")) == [first.id]
    assert client.get(url + "ordering=bogus").status_int == 400
    assert client.get(url + "checked=perhaps").status_int == 400
    page = client.get(url + "page_size=1&page=2").json
    assert page["count"] == 2 and [r["id"] for r in page["results"]] == [first.id]


# -- faults ------------------------------------------------------------------------------------


@pytest.fixture
def faults(client, make, dbsession):
    """Four faults whose definitions are assigned to: the admin, another user, nobody, both."""
    admin = client.role("admin")
    someone = make.user()
    computer = make.computer(name="pc-fault")
    definitions = [
        add(dbsession, FaultDefinition(name=name, code="", users=users))
        for name, users in (
            ("mine", [admin]),
            ("theirs", [someone]),
            ("nobody", []),
            ("shared", [admin, someone]),
        )
    ]
    return [
        add(
            dbsession,
            Fault(
                computer_id=computer.id,
                project_id=computer.project_id,
                fault_definition_id=definition.id,
                result=f"{definition.name} result",
                created_at=JAN + dt.timedelta(days=n),
            ),
        )
        for n, definition in enumerate(definitions)
    ]


def test_fault_shape_and_check(client, faults, dbsession):
    fault = faults[0]
    detail = client.get(f"{API}/faults/{fault.id}/", as_="reader").json
    assert detail["fault_definition"] == {"id": fault.fault_definition_id, "name": "mine"}
    assert detail["result"] == "mine result" and detail["synchronization"] is None
    assert detail["__str__"] == f"CID-{fault.computer_id} (2024-01-10 08:30:00)"
    assert set(detail) == {
        "id",
        "__str__",
        "project",
        "computer",
        "fault_definition",
        "synchronization",
        "created_at",
        "checked",
        "result",
    }
    url = f"{API}/faults/{fault.id}/"
    assert client.patch(url, {"checked": True}, as_="checker").json["checked"] is True
    assert client.patch(url, {"checked": True}, as_="reader").status_int == 403
    assert client.post(f"{API}/faults/", {}).status_int == 405
    assert client.delete(url, as_="checker").status_int == 204


def test_fault_filters(client, faults):
    mine, theirs, nobody, shared = (f.id for f in faults)
    url = f"{API}/faults/?"
    assert ids(client.get(url + "user=me")) == [shared, nobody, mine]
    assert ids(client.get(url + "user=only_me")) == [shared, mine]
    assert ids(client.get(url + "user=others")) == [theirs]
    assert ids(client.get(url + "user=unassigned")) == [nobody]
    # Relative to the caller: the reader is assigned nothing.
    assert ids(client.get(url + "user=only_me", as_="reader")) == []
    assert ids(client.get(url + "user=others", as_="reader")) == [shared, theirs, mine]
    assert client.get(url + "user=everyone").status_int == 400
    definition = faults[1].fault_definition_id
    assert ids(client.get(url + f"fault_definition__id={definition}")) == [theirs]
    assert ids(client.get(url + f"fault_definition_id={definition}")) == [theirs]
    assert ids(client.get(url + "result__icontains=NOBODY")) == [nobody]
    assert ids(client.get(url + "search=shared")) == [shared]
    assert ids(client.get(url + "computer__name=pc-fault&ordering=id")) == [
        mine,
        theirs,
        nobody,
        shared,
    ]
    choices = client.get(f"{API}/faults/user/", as_="reader").json
    assert choices == {
        "choices": {
            "me": "To check for me",
            "only_me": "Assigned to me",
            "others": "Assigned to others",
            "unassigned": "Unassigned",
        }
    }


# -- migrations, status logs, syncs -----------------------------------------------------------


def test_migrations(client, make, dbsession):
    linux = make.platform("Linux")
    project = make.project(platform=linux)
    computer = make.computer(name="moved", project=project)
    other = make.computer(name="stays")
    first = add(
        dbsession, Migration(computer_id=computer.id, project_id=project.id, created_at=JAN)
    )
    second = add(
        dbsession, Migration(computer_id=other.id, project_id=other.project_id, created_at=FEB)
    )
    listed = client.get(f"{API}/migrations/", as_="reader")
    assert ids(listed) == [second.id, first.id]
    assert listed.json["results"][1] == {
        "id": first.id,
        "created_at": JAN.isoformat(),
        "computer": computer_info(computer),
        "project": project_info(project),
    }
    url = f"{API}/migrations/?"
    assert ids(client.get(url + f"project__platform__id={linux.id}")) == [first.id]
    assert ids(client.get(url + f"project__id={other.project_id}")) == [second.id]
    assert ids(client.get(url + "computer__name__icontains=mov")) == [first.id]
    assert ids(client.get(url + "search=stays")) == [second.id]
    assert ids(client.get(url + f"search={computer.id}")) == [first.id]
    assert ids(client.get(url + "created_at__gte=2024-02-01")) == [second.id]
    assert client.post(f"{API}/migrations/", {}).status_int == 405
    assert client.patch(f"{API}/migrations/{first.id}/", {}).status_int == 405
    assert client.delete(f"{API}/migrations/{first.id}/", as_="checker").status_int == 403
    assert client.delete(f"{API}/migrations/{first.id}/", as_="configurator").status_int == 204


def test_status_logs(client, make, dbsession):
    computer = make.computer(name="logged")
    first = add(dbsession, StatusLog(computer_id=computer.id, status="assigned", created_at=JAN))
    second = add(dbsession, StatusLog(computer_id=computer.id, status="available", created_at=FEB))
    listed = client.get(f"{API}/status-logs/", as_="reader")
    assert ids(listed) == [second.id, first.id]
    assert listed.json["results"][0] == {
        "id": second.id,
        "created_at": FEB.isoformat(),
        "status": "available",
        "computer": computer_info(computer),
    }
    url = f"{API}/status-logs/?"
    assert ids(client.get(url + "status=assigned")) == [first.id]
    assert ids(client.get(url + "status__in=available,reserved")) == [second.id]
    assert ids(client.get(url + "search=avail")) == [second.id]
    assert ids(client.get(url + "search=logged")) == [second.id, first.id]
    assert ids(client.get(url + f"computer__id={computer.id}&ordering=id")) == [
        first.id,
        second.id,
    ]
    assert client.get(f"{API}/status-logs/{first.id}/").json["status"] == "assigned"
    # Nobody but superusers holds client.delete_statuslog (spec C.2).
    assert client.delete(f"{API}/status-logs/{first.id}/", as_="configurator").status_int == 403
    assert client.delete(f"{API}/status-logs/{first.id}/").status_int == 204


def test_syncs(client, make, dbsession):
    user = make.client_user("kim", "Kim Jones")
    linux = make.platform("Linux")
    project = make.project(platform=linux)
    computer = make.computer(name="synced", project=project)
    first = add(
        dbsession,
        Synchronization(
            computer_id=computer.id,
            project_id=project.id,
            user_id=user.id,
            consumer="migasfree-client 5.0",
            start_date=JAN - dt.timedelta(minutes=5),
            pms_status_ok=True,
            created_at=JAN,
        ),
    )
    second = add(
        dbsession, Synchronization(computer_id=computer.id, project_id=None, created_at=FEB)
    )
    listed = client.get(f"{API}/syncs/", as_="reader")
    assert ids(listed) == [second.id, first.id]
    assert listed.json["results"][1] == {
        "id": first.id,
        "created_at": JAN.isoformat(),
        "start_date": (JAN - dt.timedelta(minutes=5)).isoformat(),
        "consumer": "migasfree-client 5.0",
        "pms_status_ok": True,
        "project": project_info(project),
        "user": {"id": user.id, "name": "kim", "__str__": "kim (Kim Jones)"},
        "computer": computer_info(computer),
    }
    assert listed.json["results"][0]["user"] is None
    assert listed.json["results"][0]["project"] is None
    url = f"{API}/syncs/?"
    assert ids(client.get(url + f"user__id={user.id}")) == [first.id]
    assert ids(client.get(url + "user__name=kim")) == [first.id]
    assert ids(client.get(url + "user__name__icontains=K")) == [first.id]
    assert ids(client.get(url + "pms_status_ok=false")) == [second.id]
    assert ids(client.get(url + "consumer__icontains=client")) == [first.id]
    assert ids(client.get(url + "start_date__lt=2024-02-01")) == [first.id]
    assert ids(client.get(url + f"project__platform__id={linux.id}")) == [first.id]
    assert ids(client.get(url + "search=jones")) == [first.id]
    assert ids(client.get(url + "search=synced")) == [second.id, first.id]
    assert ids(client.get(url + "ordering=start_date")) == [first.id, second.id]
    assert client.post(f"{API}/syncs/", {}).status_int == 405
    assert client.delete(f"{API}/syncs/{first.id}/", as_="reader").status_int == 403
    assert client.delete(f"{API}/syncs/{first.id}/", as_="checker").status_int == 204
    assert client.delete(f"{API}/syncs/{second.id}/", as_="configurator").status_int == 204


# -- statement counts --------------------------------------------------------------------------


def _event_rows(dbsession, make, kind):
    definition = add(dbsession, FaultDefinition(name=f"def-{kind}-{make.n()}", code=""))

    def add_rows(count):
        for _ in range(count):
            computer = make.computer(sync_user=make.client_user())
            base = {"computer_id": computer.id}
            project = {"project_id": computer.project_id}
            sync = add(dbsession, Synchronization(**base, **project, user_id=computer.sync_user_id))
            rows = {
                "errors": Error(**base, **project, synchronization_id=sync.id),
                "faults": Fault(
                    **base, **project, fault_definition_id=definition.id, synchronization_id=sync.id
                ),
                "migrations": Migration(**base, **project),
                "status-logs": StatusLog(**base, status="assigned"),
                "syncs": None,
            }
            if rows[kind] is not None:
                dbsession.add(rows[kind])
        dbsession.flush()

    return add_rows


@pytest.mark.parametrize("kind", ["errors", "faults", "migrations", "status-logs", "syncs"])
def test_list_statement_count_does_not_grow(client, make, dbsession, statements, kind):
    headers = client.headers(client.role("reader"))
    add_rows = _event_rows(dbsession, make, kind)
    add_rows(2)
    with statements:
        assert client.app.get(f"{API}/{kind}/", headers=headers).status_int == 200
    few = statements.count
    add_rows(15)
    with statements:
        response = client.app.get(f"{API}/{kind}/", headers=headers)
    assert response.json["count"] == 17
    assert statements.count == few
