"""``computers/software/``: the software inventory and history of a computer (protocol-v5 7.5).

Set-based: however many packages a computer reports (thousands), the diff against its open
package-history rows costs at most six statements and no per-package round trip.

The client prefixes history entries with the diff marker (``+pkg`` / ``-pkg``). The original
compared them verbatim with package names, so the history was never recorded (protocol-v5
10.2); here the markers say what happened.
"""

from __future__ import annotations

from sqlalchemy import insert, select, update

from migasfree_pyramid.core_api.package_files import normalized_name
from migasfree_pyramid.models import Package
from migasfree_pyramid.models.meta import utcnow
from migasfree_pyramid.services.attributes import insert_ignoring_conflicts

from .models import PackageHistory
from .safe import SafeError

MAX_FULLNAME = 270


def _names(value, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SafeError(400, "Malformed claims")
    return [item.strip() for item in value if item.strip() and len(item.strip()) <= MAX_FULLNAME]


def split_history(history) -> tuple[list[str], list[str]]:
    """``(installed, uninstalled)`` full names, markers interpreted and removed."""
    if history in (None, {}, []):
        return [], []
    if not isinstance(history, dict):
        raise SafeError(400, "Malformed claims")
    installed, uninstalled = [], []
    for key, target in (("installed", installed), ("uninstalled", uninstalled)):
        for entry in _names(history.get(key), key):
            marker, name = entry[0], entry[1:].strip()
            if marker == "+" and name:
                installed.append(name)
            elif marker == "-" and name:
                uninstalled.append(name)
            elif marker not in "+-":
                target.append(entry)
    return installed, uninstalled


def package_ids(session, project_id: int, fullnames: set[str]) -> dict[str, int]:
    """Ids of the project's packages with these file names, creating the unknown ones
    (without store: known only from inventories)."""
    if not fullnames:
        return {}
    query = select(Package.fullname, Package.id).where(Package.project_id == project_id)
    found = dict(session.execute(query.where(Package.fullname.in_(fullnames))).all())
    missing = fullnames - found.keys()
    if missing:
        rows = []
        for fullname in missing:
            name, version, arch = normalized_name(fullname)
            rows.append(
                {
                    "fullname": fullname,
                    "name": name[:200],
                    "version": version[:60],
                    "architecture": arch[:10],
                    "project_id": project_id,
                }
            )
        insert_ignoring_conflicts(session, Package.__table__, rows)
        found.update(session.execute(query.where(Package.fullname.in_(missing))).all())
    return found


def process(request, computer, inventory, history) -> None:
    session = request.dbsession
    reported = _names(inventory, "inventory") if inventory is not None else None
    installed, uninstalled = split_history(history)
    wanted = set(reported or ()) | set(installed) | set(uninstalled)
    ids = package_ids(session, computer.project_id, wanted)
    table = PackageHistory
    open_ids = set(
        session.scalars(
            select(table.package_id).where(
                table.computer_id == computer.id, table.uninstall_date.is_(None)
            )
        )
    )
    if reported is not None:
        target = {ids[name] for name in reported if name in ids}
        to_close, to_open = open_ids - target, target - open_ids
    else:
        to_open = {ids[name] for name in installed if name in ids} - open_ids
        to_close = {ids[name] for name in uninstalled if name in ids} & open_ids
    now = utcnow()
    if to_close:
        session.execute(
            update(table)
            .where(
                table.computer_id == computer.id,
                table.uninstall_date.is_(None),
                table.package_id.in_(to_close),
            )
            .values(uninstall_date=now)
        )
    if to_open:
        session.execute(
            insert(table),
            [
                {"computer_id": computer.id, "package_id": pid, "install_date": now}
                for pid in to_open
            ],
        )
