"""Database-side rules: attribute creation, computer status transitions, the CID attribute."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from migasfree_pyramid.models import Notification, StatusLog
from migasfree_pyramid.services import attributes as attribute_service
from migasfree_pyramid.services import computers


def test_get_or_create_splits_and_reuses(dbsession, make):
    prop = make.property("ROL", sort="server")
    first = attribute_service.get_or_create(dbsession, prop, " teacher ~ Teachers ")
    assert (first.value, first.description) == ("teacher", "Teachers")
    assert attribute_service.get_or_create(dbsession, prop, "teacher") is first


def test_get_or_create_truncates_with_notification(dbsession, make):
    prop = make.property("LNG", sort="client")
    long_value = "x" * 300
    attribute = attribute_service.get_or_create(dbsession, prop, long_value)
    assert len(attribute.value) == 250
    messages = dbsession.scalars(select(Notification.message)).all()
    assert any("truncated" in m and long_value in m for m in messages)


def test_auto_add_off_refuses_new_values_unless_forced(dbsession, make):
    prop = make.property("FIX", sort="client", auto_add=False)
    with pytest.raises(attribute_service.AttributeRefused):
        attribute_service.get_or_create(dbsession, prop, "new")
    assert attribute_service.get_or_create(dbsession, prop, "new", force=True).value == "new"


def test_register_writes_first_status_log(dbsession, make):
    from migasfree_pyramid.models import Computer

    computer = computers.register(dbsession, Computer(name="PC1", project=make.project()))
    logs = dbsession.scalars(select(StatusLog).where(StatusLog.computer_id == computer.id)).all()
    assert [log.status for log in logs] == ["assigned"]


def test_status_change_logs_and_clears_links(dbsession, make):
    tag = make.attribute("ROL", "kiosk")
    computer = make.computer(tags=[tag])
    cid = computers.cid_attribute(dbsession, computer)
    assert cid.value == str(computer.id) and cid.description == computer.name
    deployment = make.deployment(project=computer.project, included=[cid])
    attribute_set = make.attribute_set(excluded=[cid])

    assert computers.set_status(dbsession, computer, "reserved") is not None
    assert computer.tags == [tag]

    event = computers.set_status(dbsession, computer, "available")
    assert (event.old, event.new) == ("reserved", "available")
    dbsession.expire_all()
    assert computer.tags == []
    assert deployment.included_attributes == []
    assert attribute_set.excluded_attributes == []
    statuses = dbsession.scalars(
        select(StatusLog.status).where(StatusLog.computer_id == computer.id).order_by(StatusLog.id)
    ).all()
    assert statuses == ["reserved", "available"]


def test_status_unchanged_or_invalid(dbsession, make):
    computer = make.computer(status="assigned")
    assert computers.set_status(dbsession, computer, "assigned") is None
    with pytest.raises(ValueError, match="in repair"):
        computers.set_status(dbsession, computer, "broken")
