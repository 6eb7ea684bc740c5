"""The end of a sync: ``synchronizations/`` (the sync record, its errors and faults linked,
``SynchronizationFinished`` sent) and ``eot/`` (protocol-v5 sections 5 and 7)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, update
from sqlalchemy.orm.attributes import set_committed_value

from migasfree_pyramid.domain.status import STATUS_AVAILABLE
from migasfree_pyramid.models import Computer, Notification
from migasfree_pyramid.models.meta import utcnow
from migasfree_pyramid.services.clock import local_to_utc

from .endpoints import computer_post, service
from .models import Error, Fault, Synchronization
from .safe import SafeError, reply


class SynchronizationFinished:
    """Event sent after ``synchronizations/`` stores a sync (the stats addon counts these)."""

    def __init__(self, synchronization_id, computer_id, project_id, pms_status_ok, created_at):
        self.synchronization_id = synchronization_id
        self.computer_id = computer_id
        self.project_id = project_id
        self.pms_status_ok = pms_status_ok
        self.created_at = created_at


synchronizations = service("synchronizations", "synchronizations/")
eot = service("eot", "eot/")


def parse_start_date(value, settings) -> dt.datetime:
    if not isinstance(value, str):
        raise SafeError(400, {"start_date": ["This field is required."]})
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SafeError(400, {"start_date": ["Datetime has wrong format."]}) from None
    return local_to_utc(parsed, settings)


def link_and_finish(session, computer, sync_id: int, start, now) -> None:
    """Link the computer's errors and faults since ``start`` to the synchronization and set its
    ``sync_end_date``: one statement on PostgreSQL (data-modifying CTEs), three elsewhere."""
    links = [
        update(model.__table__)
        .where(
            model.computer_id == computer.id,
            model.synchronization_id.is_(None),
            model.created_at >= start,
        )
        .values(synchronization_id=sync_id)
        for model in (Error, Fault)
    ]
    finish = (
        update(Computer.__table__)
        .where(Computer.id == computer.id)
        .values(sync_end_date=now, updated_at=now)
    )
    if session.get_bind().dialect.name == "postgresql":
        for number, link in enumerate(links):
            finish = finish.add_cte(link.returning(link.table.c.id).cte(f"linked_{number}"))
        session.execute(finish)
    else:
        for statement in (*links, finish):
            session.execute(statement)
    # The row is written; keep the loaded object in step without another UPDATE at commit.
    set_committed_value(computer, "sync_end_date", now)
    set_committed_value(computer, "updated_at", now)


@computer_post(synchronizations, mtls=True)
def end_synchronization(request, computer, claims):
    session = request.dbsession
    settings = request.registry.settings
    start = parse_start_date(claims.get("start_date"), settings)
    consumer = claims.get("consumer")
    if consumer is not None and (not isinstance(consumer, str) or len(consumer) > 50):
        raise SafeError(400, {"consumer": ["Ensure this field has no more than 50 characters."]})
    ok = claims.get("pms_status_ok", False)
    if not isinstance(ok, bool):
        raise SafeError(400, {"pms_status_ok": ["Must be a valid boolean."]})
    now = utcnow()
    sync_id = session.execute(
        insert(Synchronization)
        .values(
            computer_id=computer.id,
            project_id=computer.project_id,
            user_id=computer.sync_user_id,
            consumer=consumer,
            start_date=start,
            pms_status_ok=ok,
            created_at=now,
        )
        .returning(Synchronization.id)
    ).scalar_one()
    link_and_finish(session, computer, sync_id, start, now)
    request.registry.notify(
        SynchronizationFinished(sync_id, computer.id, computer.project_id, ok, now)
    )
    return reply(
        request,
        {
            "computer": computer.id,
            "start_date": claims["start_date"],
            "consumer": consumer,
            "pms_status_ok": ok,
        },
        status=201,
    )


@computer_post(eot)
def end_of_transmission(request, computer, claims):
    if computer.status == STATUS_AVAILABLE:
        request.dbsession.add(
            Notification(
                message=f"Computer [{computer}] with available status, has been synchronized"
            )
        )
    return reply(request, "EOT OK")


def includeme(config) -> None:
    for svc in (synchronizations, eot):
        config.add_cornice_service(svc)
