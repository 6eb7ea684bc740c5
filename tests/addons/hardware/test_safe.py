"""The safe hardware endpoints: ``computers/hardware/required/`` and ``computers/hardware/``."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from migasfree_addons.hardware import tasks
from migasfree_addons.hardware.models import HardwareLogicalName, HardwareNode
from migasfree_pyramid.crypto.envelope import encrypt
from migasfree_pyramid.db import SESSION_FACTORY_KEY
from migasfree_pyramid.tasks import runtime

from .lshw import chain, example, generated


def node_count(session, computer) -> int:
    query = select(func.count()).where(HardwareNode.computer_id == computer.id)
    return session.scalar(query)


@pytest.fixture
def computer(make, project):
    return make.computer(project=project)


# -- required/ ------------------------------------------------------------------------------------


def test_required_by_date(agent, computer, dbsession, registry, monkeypatch):
    response, data = agent.post("hardware/required/", {"id": computer.id})
    assert response.status_int == 200 and data == {"capture": True}

    computer.last_hardware_capture = dt.datetime.now(dt.UTC) - dt.timedelta(days=29)
    dbsession.flush()
    assert agent.post("hardware/required/", {"id": computer.id})[1] == {"capture": False}

    computer.last_hardware_capture = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
    dbsession.flush()
    assert agent.post("hardware/required/", {"id": computer.id})[1] == {"capture": True}

    monkeypatch.setitem(registry.settings, "clients.hardware_period_days", 60)
    assert agent.post("hardware/required/", {"id": computer.id})[1] == {"capture": False}


def test_required_for_a_missing_computer(agent):
    for pk in (999999, 99999999999):
        response, data = agent.post("hardware/required/", {"id": pk})
        assert response.status_int == 404
        assert data == {"detail": "No Computer matches the given query."}
    response, data = agent.post("hardware/required/", {"id": "one"})
    assert response.status_int == 400 and data == "Malformed claims"


def test_required_needs_the_computers_project(agent, computer, make):
    other = make.computer()  # another project's computer
    response, data = agent.post("hardware/required/", {"id": other.id})
    assert response.status_int == 403
    assert data.startswith("Unexpected Computer Project (hardware-tests)")


# -- hardware/ ------------------------------------------------------------------------------------


def test_upload_stores_the_tree_and_summary(agent, computer, dbsession):
    response, data = agent.post("hardware/", {"id": computer.id, "hardware": example()})
    assert response.status_int == 200 and data == "Data received"
    assert node_count(dbsession, computer) == 7
    dbsession.refresh(computer)
    assert computer.product == "OptiPlex 7040"
    assert computer.cpu == "Intel Core i7-6700   3.40GHz"
    assert computer.mac_address == "001122334455"
    assert computer.last_hardware_capture is not None
    assert agent.post("hardware/required/", {"id": computer.id})[1] == {"capture": False}


def test_upload_of_a_list_uses_its_first_element(agent, computer, dbsession):
    response, _ = agent.post("hardware/", {"id": computer.id, "hardware": [example()]})
    assert response.status_int == 200
    assert node_count(dbsession, computer) == 7


@pytest.mark.parametrize(
    "claims",
    [
        {"hardware": "lshw: command not found"},
        {"hardware": 12},
        {"hardware": []},
        {"hardware": {"id": "x", "children": {"id": "not a list"}}},
        {},  # no hardware at all
    ],
)
def test_malformed_hardware(agent, computer, dbsession, claims):
    response, data = agent.post("hardware/", {"id": computer.id, **claims})
    assert response.status_int == 400
    assert data == "Malformed claims"
    assert node_count(dbsession, computer) == 0


def test_claims_that_are_not_an_object(agent, computer):
    response, data = agent.post("hardware/", ["not", "an", "object"])
    assert response.status_int == 400 and data == "Malformed claims"


def test_too_deep_or_too_large(agent, computer, dbsession, registry, monkeypatch):
    deep, data = agent.post("hardware/", {"id": computer.id, "hardware": chain(200)})
    assert deep.status_int == 400 and "too deep" in data

    monkeypatch.setitem(registry.settings, "hardware.max_nodes", 100)
    huge, data = agent.post("hardware/", {"id": computer.id, "hardware": generated(101)})
    assert huge.status_int == 400 and "too large" in data
    assert node_count(dbsession, computer) == 0


def test_a_deeply_nested_message_is_not_a_server_error(agent, computer):
    """Nesting beyond what Python's JSON decoder accepts, inside a valid envelope."""
    deep = '{"children": [' * 100000 + "]}" * 100000
    plaintext = f'{{"data": {{"id": {computer.id}, "hardware": {deep}}}, "sign": "x"}}'
    body = {"msg": encrypt(plaintext, agent.server), "project": agent.project.name}
    response = agent.app.post_json("/api/v1/safe/computers/hardware/", body, status="*")
    assert response.status_int == 400


def test_unknown_computer(agent):
    response, data = agent.post("hardware/", {"id": 999999, "hardware": example()})
    assert response.status_int == 404
    assert data == {"detail": "No Computer matches the given query."}


def test_admin_credentials_are_not_enough(client, computer):
    response = client.post("/api/v1/safe/computers/hardware/", {"id": computer.id})
    assert response.status_int == 400  # no envelope: nothing identifies a computer


# -- large trees go to the task queue -------------------------------------------------------------


@pytest.fixture
def task_runner(tm, connection, registry, monkeypatch):
    """Runs what a request enqueued (after its commit, which tests never do) with the task's own
    transaction manager, on the test connection so that the test can see the result."""
    factory = sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    monkeypatch.setitem(registry, SESSION_FACTORY_KEY, factory)
    monkeypatch.setitem(runtime._bound, "registry", registry)

    def run() -> int:
        hooks = list(tm.get().getAfterCommitHooks())
        for hook, args, kwargs in hooks:
            hook(True, *args, **kwargs)
        return len(hooks)

    return run


def test_large_tree_is_stored_by_a_task(
    agent, computer, dbsession, registry, monkeypatch, task_runner
):
    monkeypatch.setitem(registry.settings, "hardware.sync_node_limit", 10)
    small, _ = agent.post("hardware/", {"id": computer.id, "hardware": generated(10)})
    assert small.status_int == 200
    assert node_count(dbsession, computer) == 10  # at the limit: stored in the request

    response, data = agent.post("hardware/", {"id": computer.id, "hardware": [generated(25)]})
    assert response.status_int == 200 and data == "Data received"
    assert node_count(dbsession, computer) == 10  # not yet: the task runs after the commit

    assert task_runner() == 1
    assert node_count(dbsession, computer) == 25
    names = select(func.count()).select_from(HardwareLogicalName)
    assert dbsession.scalar(names) == 25
    dbsession.expire_all()
    assert computer.last_hardware_capture is not None


def test_task_for_a_deleted_computer_does_nothing(registry, monkeypatch, task_runner, make):
    task_runner()  # binds the test registry and session factory
    tasks.store_hardware_task(2**31 - 1, example(), dt.datetime.now(dt.UTC).isoformat())


def test_task_needs_a_configured_registry(monkeypatch):
    monkeypatch.setattr(runtime, "_bound", {})
    with pytest.raises(RuntimeError), tasks.task_transaction():
        pass
