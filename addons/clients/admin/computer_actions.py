"""Per-computer actions of ``computers/`` (spec D.4): software, events, replacement, sync state,
situation at a date and sync simulation. Mixed into ``ComputerResource``."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import delete, func, or_, select

from migasfree_pyramid.api import action
from migasfree_pyramid.api.errors import APIError, error_entry, validation_error
from migasfree_pyramid.api.related import load_row
from migasfree_pyramid.api.schemas import json_body
from migasfree_pyramid.core_api.attributes import count_computers
from migasfree_pyramid.core_api.nested import named, project_info, property_info
from migasfree_pyramid.domain.status import DEFAULT_STATUS
from migasfree_pyramid.models import Attribute, Computer, Package, Property, StatusLog
from migasfree_pyramid.models.computers import computer_sync_attributes

from .. import messages as live
from ..models import Error, Fault, Migration, PackageHistory
from .lifecycle import replace
from .shapes import computer_info
from .simulation import simulate

HISTORY_KEY = "%Y-%m-%dT%H:%M:%S"
MAX_ID = 2**31 - 1


def require_superuser(request, what: str) -> None:
    """Deleting a computer's software records is for superusers only (403 for anyone else).

    The original silently skipped the deletion and answered 200; a clear 403 is safer.
    """
    user = getattr(request.identity, "user", None)
    if user is None or not user.is_superuser:
        raise APIError(403, [error_entry(f"Only superusers may delete {what}.", "", "path")])


def inventory(session, computer: Computer) -> list[dict]:
    """Packages of the current project still installed: ``[{id, name}]`` by name."""
    rows = session.execute(
        select(Package.id, Package.fullname)
        .join(PackageHistory, PackageHistory.package_id == Package.id)
        .where(
            PackageHistory.computer_id == computer.id,
            PackageHistory.uninstall_date.is_(None),
            Package.project_id == computer.project_id,
        )
        .distinct()
        .order_by(Package.fullname, Package.id)
    )
    return [{"id": pk, "name": fullname} for pk, fullname in rows]


def history(session, computer: Computer) -> dict[str, list[dict]]:
    """``{"YYYY-MM-DDTHH:MM:SS": [{id, name, mode}]}``, newest first; times are UTC."""
    rows = session.execute(
        select(
            PackageHistory.install_date,
            PackageHistory.uninstall_date,
            Package.id,
            Package.fullname,
        )
        .join(Package, Package.id == PackageHistory.package_id)
        .where(PackageHistory.computer_id == computer.id)
    )
    events: dict[str, dict[tuple, dict]] = defaultdict(dict)
    for installed, uninstalled, pk, fullname in rows:
        for moment, mode in ((installed, "+"), (uninstalled, "-")):
            if moment is not None:
                key = moment.astimezone(dt.UTC).strftime(HISTORY_KEY)
                events[key][(mode, fullname, pk)] = {"id": pk, "name": fullname, "mode": mode}
    return {
        key: [entry for _, entry in sorted(events[key].items())]
        for key in sorted(events, reverse=True)
    }


def delete_history(session, computer: Computer, key: str | None) -> None:
    """Forget the rows installed or uninstalled at ``key`` (one second), or all of them."""
    query = delete(PackageHistory).where(PackageHistory.computer_id == computer.id)
    if key:
        try:
            start = dt.datetime.strptime(key.replace(" ", "T"), HISTORY_KEY).replace(tzinfo=dt.UTC)
        except ValueError:
            raise validation_error(
                {"key": "Enter a timestamp as YYYY-MM-DDTHH:MM:SS."}, "querystring"
            ) from None
        end = start + dt.timedelta(seconds=1)
        query = query.where(
            or_(
                PackageHistory.install_date.between(start, end - dt.timedelta(microseconds=1)),
                PackageHistory.uninstall_date.between(start, end - dt.timedelta(microseconds=1)),
            )
        )
    session.execute(query)


def event_counts(session, model, computer_id: int) -> dict[str, int]:
    total, unchecked = session.execute(
        select(func.count(model.id), func.count(model.id).filter(model.checked.is_(False))).where(
            model.computer_id == computer_id
        )
    ).one()
    return {"unchecked": unchecked, "total": total}


def sync_state(session, computer: Computer, request=None) -> dict:
    """The last sync: dates, desktop user and sync attributes (feature shape + computers)."""
    attributes = list(
        session.scalars(
            select(Attribute)
            .join(computer_sync_attributes, computer_sync_attributes.c.attribute_id == Attribute.id)
            .join(Attribute.property_att)
            .where(computer_sync_attributes.c.computer_id == computer.id)
            .order_by(Property.prefix, Attribute.value)
        )
    )
    counts = count_computers(session, [a.id for a in attributes], request)
    user = computer.sync_user
    return {
        "sync_start_date": computer.sync_start_date,
        "sync_end_date": computer.sync_end_date,
        "sync_user": None
        if user is None
        else {"id": user.id, "name": user.name, "fullname": user.fullname, "__str__": str(user)},
        "sync_attributes": [
            {
                "id": a.id,
                "property_att": property_info(a.property_att),
                "value": a.value,
                "description": a.description,
                "latitude": a.latitude,
                "longitude": a.longitude,
                "total_computers": counts.get(a.id, 0),
            }
            for a in attributes
        ],
    }


def _latest(session, model, computer_id: int, before: dt.datetime):
    return session.scalars(
        select(model)
        .where(model.computer_id == computer_id, model.created_at < before)
        .order_by(model.created_at.desc(), model.id.desc())
        .limit(1)
    ).first()


def situation_at(session, computer: Computer, day: dt.date) -> dict:
    """Project, platform and status the computer had on ``day`` (spec B.8).

    The whole day counts (the original compared with midnight, i.e. the day before). Without a
    status log until then, the default status if the computer already existed.
    """
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    migration = _latest(session, Migration, computer.id, end)
    log = _latest(session, StatusLog, computer.id, end)
    project = migration.project if migration else None
    if log is not None:
        status = log.status
    else:
        status = DEFAULT_STATUS if computer.created_at < end else None
    return {
        "platform": named(project.platform) if project else None,
        "project": project_info(project),
        "status": status,
    }


def parse_day(text: str | None) -> dt.date:
    if not text:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise validation_error(
            {"date": "Enter a valid date (YYYY-MM-DD)."}, "querystring"
        ) from None


def replacement_target(request, source: Computer) -> Computer:
    raw = json_body(request).get("target")
    if raw is None or raw == "":
        raise validation_error({"target": "This field is required."})
    if isinstance(raw, bool) or not str(raw).strip().isdigit():
        raise validation_error({"target": "A valid integer is required."})
    if int(raw) > MAX_ID:
        # Beyond PostgreSQL's integer: no such row (and the query itself would fail).
        raise validation_error({"target": f'Invalid pk "{raw}" - object does not exist.'})
    if int(raw) == source.id:
        raise validation_error({"target": "The target must be another computer."})
    return load_row(request, Computer, int(raw), "target")


class ComputerActions:
    """Detail and collection actions of the computers resource."""

    @action("software/inventory", detail=True, methods=("GET", "DELETE"), permission="view")
    def software_inventory(self, request, context):
        """Installed packages (current project); DELETE (superusers) forgets them."""
        computer, session = context.obj, request.dbsession
        if request.method == "DELETE":
            require_superuser(request, "the software inventory")
            session.execute(
                delete(PackageHistory).where(
                    PackageHistory.computer_id == computer.id,
                    PackageHistory.uninstall_date.is_(None),
                    PackageHistory.package_id.in_(
                        select(Package.id).where(Package.project_id == computer.project_id)
                    ),
                )
            )
        return inventory(session, computer)

    @action("software/history", detail=True, methods=("GET", "DELETE"), permission="view")
    def software_history(self, request, context):
        """Installs (+) and removals (-) by time; DELETE (superusers) with optional ``?key=``."""
        computer, session = context.obj, request.dbsession
        if request.method == "DELETE":
            require_superuser(request, "the software history")
            delete_history(session, computer, request.GET.get("key"))
        return history(session, computer)

    @action("errors", detail=True, permission="view")
    def error_counts(self, request, context):
        return event_counts(request.dbsession, Error, context.obj.id)

    @action("faults", detail=True, permission="view")
    def fault_counts(self, request, context):
        return event_counts(request.dbsession, Fault, context.obj.id)

    @action("replacement", detail=True, methods=("POST",), permission="change")
    def replacement(self, request, context):
        """``{target}``: exchange tags, CID memberships and statuses with another computer."""
        source = context.obj
        target = replacement_target(request, source)
        replace(request, source, target)
        return {"source": computer_info(source), "target": computer_info(target)}

    @action("sync", detail=True, permission="view")
    def sync(self, request, context):
        return sync_state(request.dbsession, context.obj, request)

    @action("situation", detail=True, permission="view")
    def situation(self, request, context):
        """``?date=YYYY-MM-DD`` (today by default)."""
        day = parse_day(request.GET.get("date"))
        return situation_at(request.dbsession, context.obj, day)

    @action("sync/simulation", detail=True, permission="view")
    def sync_simulation(self, request, context):
        return simulate(request, context.obj)

    @action("synchronizing", detail=False, permission="view")
    def synchronizing(self, request, context):
        """Computers whose live sync message is recent (newer than
        ``clients.message_alert_seconds``): they are synchronizing now."""
        return self._by_message_age(request, context, recent=True)

    @action("delayed", detail=False, permission="view")
    def delayed(self, request, context):
        """Computers whose live sync message is older than the alert threshold: a sync that
        started and never reached its end of transmission."""
        return self._by_message_age(request, context, recent=False)

    def _by_message_age(self, request, context, recent: bool) -> list:
        conn = live.client(request.registry)
        if conn is None:
            return []
        seconds = request.registry.settings.get("clients.message_alert_seconds", 1800)
        limit = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)).replace(tzinfo=None)
        ids = {
            int(row["computer_id"])
            for row in live.read_all(conn, request.registry)
            if (row["date"] >= limit.isoformat()) == recent
        }
        if not ids:
            return []
        query = context.scoped_query().where(Computer.id.in_(ids)).order_by(Computer.id)
        rows = request.dbsession.scalars(query.options(*self.list_options)).unique().all()
        return self.load_list(rows, request)
