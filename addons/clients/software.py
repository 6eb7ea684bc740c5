"""``computers/software/``: the software inventory and history of a computer (protocol-v5 7.5).

Set-based: however many packages a computer reports (thousands), the diff against its open
package-history rows costs at most six statements and no per-package round trip. The names
are compared in Python with the open rows (read with their names in one statement), so only the
few names that changed since the last sync are looked up: no statement carries thousands of
parameters, which cost more to build and parse than to run.

The client prefixes history entries with the diff marker (``+pkg`` / ``-pkg``). The original
compared them verbatim with package names, so the history was never recorded (protocol-v5
10.2); here the markers say what happened.
"""

from __future__ import annotations

from sqlalchemy import bindparam, insert, select, update

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
    stripped = [item.strip() for item in value]
    return [item for item in stripped if item and len(item) <= MAX_FULLNAME]


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


_history = PackageHistory.__table__
_package = Package.__table__
OPEN_PACKAGES = (
    select(
        _history.c.package_id,
        _package.c.fullname,
        (_package.c.project_id == bindparam("project_id")).label("same_project"),
    )
    .join(_package, _package.c.id == _history.c.package_id)
    .where(_history.c.computer_id == bindparam("computer_id"), _history.c.uninstall_date.is_(None))
)


def open_packages(session, computer) -> tuple[set[int], dict[str, int]]:
    """The computer's open history: all package ids, and ``{fullname: id}`` of those of its
    project. One statement; comparing names here spares looking up thousands of names that
    did not change."""
    # On the session's connection: plain rows, without the ORM's per-row result processing.
    rows = (
        session.connection()
        .execute(OPEN_PACKAGES, {"computer_id": computer.id, "project_id": computer.project_id})
        .all()
    )
    return {row[0] for row in rows}, {row[1]: row[0] for row in rows if row[2]}


def process(request, computer, inventory, history) -> None:
    session = request.dbsession
    reported = _names(inventory, "inventory") if inventory is not None else None
    installed, uninstalled = split_history(history)
    open_ids, known = open_packages(session, computer)
    wanted = set(reported or ())
    wanted.update(installed, uninstalled)
    # Only names the computer did not have open are looked up (and created when unknown).
    ids = package_ids(session, computer.project_id, wanted - known.keys())
    ids.update(known)
    table = PackageHistory
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
