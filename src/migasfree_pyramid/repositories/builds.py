"""Building a deployment's repository: requests, the build loop, status and notifications.

A trigger (``request_builds``) sets the deployment's ``pending`` flag in the request's
transaction and queues ``build_repository`` after the commit. The task (``build_deployment``)
takes the deployment's build lock, then repeatedly *claims* the flag (an atomic UPDATE that
clears it) and builds, until no flag is left. Triggers that arrive during a build only set the
flag again, so they cause exactly one more build; a task that finds the lock taken returns at
once, since the holder will see the flag. After releasing the lock the holder looks once more,
which closes the window between its last claim and the release.

What to build is read from the database inside the task, in the transaction that claims the
flag (spec Q6: the original built its payload when queuing and published stale lists).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from sqlalchemy import case, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..core_api.package_files import STORES_DIR
from ..crypto.gpg import Signer
from ..models import Deployment, DeploymentBuild, Notification, Package, Project, Store
from ..models.builds import BUILDING, FAILED, IDLE, QUEUED
from ..models.deployments import SOURCE_INTERNAL, deployment_package_sets, deployment_packages
from ..models.meta import utcnow
from ..models.packages import package_set_packages
from ..pms import get_pms
from ..pms.base import REPOS_PATH, BuildContext, BuildError, PackageManager
from ..tasks.runtime import task_request
from . import layout
from .locks import BuildLock, build_lock

log = logging.getLogger(__name__)

DP, DPS, PSP = deployment_packages.c, deployment_package_sets.c, package_set_packages.c
MAX_ERROR = 4000


# -- which deployments are built ---------------------------------------------------------------
def builder(pms_name: str) -> PackageManager | None:
    """The package manager of ``pms_name`` if it builds repositories, else None."""
    pms = get_pms(pms_name)
    # The base class's build() only raises: a PMS builds when it overrides it.
    if pms is None or type(pms).build is PackageManager.build:
        return None
    return pms


def buildable(session, deployment_ids) -> list[int]:
    """Those of ``deployment_ids`` that are internal sources of a PMS that builds."""
    ids = sorted(set(deployment_ids))
    if not ids:
        return []
    rows = session.execute(
        select(Deployment.id, Project.pms)
        .join(Project, Deployment.project_id == Project.id)
        .where(Deployment.id.in_(ids), Deployment.source == SOURCE_INTERNAL)
    )
    return sorted(pk for pk, pms in rows if builder(pms) is not None)


# -- requesting --------------------------------------------------------------------------------
def mark_requested(session, deployment_ids) -> None:
    """Set the pending flag of each deployment (one statement; creates missing rows)."""
    ids = sorted(set(deployment_ids))
    if not ids:
        return
    now = utcnow()
    table = DeploymentBuild.__table__
    values = [
        {"deployment_id": pk, "state": QUEUED, "pending": True, "requested_at": now} for pk in ids
    ]
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert is None:  # pragma: no cover - PostgreSQL and SQLite are the supported databases
        for value in values:
            session.merge(DeploymentBuild(**value))
        return
    statement = insert(table).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.deployment_id],
        set_={
            "pending": True,
            "requested_at": statement.excluded.requested_at,
            # A running build keeps its state; the flag says that another one follows.
            "state": case((table.c.state == BUILDING, BUILDING), else_=QUEUED),
        },
    )
    session.execute(statement)


# -- one build ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """What a build needs, read from the database (no ORM object leaves the transaction)."""

    deployment_id: int
    name: str
    slug: str
    project_name: str
    project_slug: str
    pms_name: str
    architecture: str
    packages: tuple[tuple[str, str], ...]  # (fullname, store slug)


def claim(session, deployment_id: int) -> bool:
    """Clear the pending flag and mark the build started; False when nothing was pending."""
    result = session.execute(
        update(DeploymentBuild)
        .where(DeploymentBuild.deployment_id == deployment_id, DeploymentBuild.pending.is_(True))
        .values(pending=False, state=BUILDING, started_at=utcnow())
    )
    return result.rowcount == 1


def read_plan(session, deployment_id: int) -> Plan | None:
    """The deployment, its project and its packages that have a store file (two queries)."""
    row = session.execute(
        select(
            Deployment.name,
            Deployment.slug,
            Deployment.source,
            Project.name,
            Project.slug,
            Project.pms,
            Project.architecture,
        )
        .join(Project, Deployment.project_id == Project.id)
        .where(Deployment.id == deployment_id)
    ).first()
    if row is None or row[2] != SOURCE_INTERNAL or builder(row[5]) is None:
        return None
    direct = select(DP.package_id).where(DP.deployment_id == deployment_id)
    in_sets = (
        select(PSP.package_id)
        .join(deployment_package_sets, DPS.packageset_id == PSP.packageset_id)
        .where(DPS.deployment_id == deployment_id)
    )
    packages = session.execute(
        select(Package.fullname, Store.slug)
        .join(Store, Package.store_id == Store.id)
        .where(Package.id.in_(direct.union(in_sets)))
        .order_by(Package.fullname)
    ).all()
    name, slug, _, project_name, project_slug, pms, architecture = row
    return Plan(
        deployment_id,
        name,
        slug,
        project_name,
        project_slug,
        pms,
        architecture,
        tuple((fullname, store) for fullname, store in packages),
    )


def start(registry, deployment_id: int) -> Plan | None:
    """Claim a pending build and read its plan, in one transaction; None: nothing to build."""
    with task_request(registry) as request:
        session = request.dbsession
        while claim(session, deployment_id):
            plan = read_plan(session, deployment_id)
            if plan is not None:
                return plan
            # Gone external or to a PMS that does not build: nothing to publish.
            session.execute(
                update(DeploymentBuild)
                .where(DeploymentBuild.deployment_id == deployment_id)
                .values(state=IDLE, finished_at=utcnow())
            )
    return None


def describe(error: BaseException) -> str:
    if isinstance(error, BuildError):
        text = getattr(error, "message", None) or str(error)
    else:
        text = f"{type(error).__name__}: {error}"
    return text.replace("\r\n", "\n")[:MAX_ERROR]


def publish(settings, plan: Plan, lock: BuildLock) -> str | None:
    """Build ``plan`` in a stage and swap it in; the error message on failure, else None.

    On failure the stage is removed and the live repository is left as it was.
    """
    pms = builder(plan.pms_name)
    public = os.path.realpath(settings["migasfree.public_dir"])
    live = pms.live_path(public, plan.project_slug, plan.slug)
    stage = None
    try:
        # Stages of builds that were killed, under the lock we hold: nobody else uses them.
        layout.remove_leftovers(live, keep=layout.current_build(live))
        stage = layout.make_stage(live)
        stores = os.path.join(public, plan.project_slug, STORES_DIR)
        packages = layout.link_packages(
            stage,
            (
                # FIX Q1 (spec F.12): files live under the store's slug, not its name.
                (fullname, os.path.join(stores, store, fullname))
                for fullname, store in plan.packages
            ),
        )
        cache = os.path.join(settings["migasfree.var_dir"], "cache", "repositories")
        context = BuildContext(
            stage_dir=stage,
            live_name=plan.slug,
            repos_root=os.path.join(public, plan.project_slug, REPOS_PATH),
            architecture=plan.architecture,
            packages=tuple(packages),
            # Makes the key on first use: PMSs that do not sign never wait for RSA 4096.
            signer=Signer(settings["migasfree.keys_dir"]),
            cache_dir=os.path.join(cache, plan.project_slug),
        )
        os.makedirs(context.cache_dir, exist_ok=True)
        pms.build(context)
        if not lock.owned():
            # The lock expired under a build that outlived its renewals: another build may be
            # running, and the newer one must win.
            raise BuildError("the build took longer than repositories.build_timeout")
        previous = layout.swap(stage, live)
    except Exception as error:
        if not isinstance(error, BuildError):
            log.exception("repository build of deployment %s failed", plan.deployment_id)
        if stage is not None:
            layout.remove_path(stage)
        return describe(error)
    if previous and previous != os.path.basename(stage):
        layout.remove_path(os.path.join(os.path.dirname(live), previous))
    return None


def finish(registry, plan: Plan, error: str | None) -> None:
    """Record the outcome and tell the administrators (Notification)."""
    with task_request(registry) as request:
        session = request.dbsession
        row = session.get(DeploymentBuild, plan.deployment_id, with_for_update=True)
        if row is None:
            return  # the deployment was deleted meanwhile (its row cascaded away)
        now = utcnow()
        where = f"deployment [{plan.name}] in project [{plan.project_name}]"
        repeated = error is not None and row.last_error == error
        row.finished_at, row.build_count = now, row.build_count + 1
        if error is None:
            row.state, row.last_success_at, row.last_error = IDLE, now, None
            session.add(Notification(message=f"Repository metadata for {where} created"))
        else:
            row.state, row.last_error = FAILED, error
            # The same failure again (e.g. the periodic retry) is not notified again.
            if not repeated:
                message = f"Repository metadata for {where} failed: {error}"
                session.add(Notification(message=message))
        if row.pending:
            row.state = QUEUED


def still_pending(registry, deployment_id: int) -> bool:
    with task_request(registry) as request:
        return bool(
            request.dbsession.scalar(
                select(DeploymentBuild.pending).where(
                    DeploymentBuild.deployment_id == deployment_id
                )
            )
        )


def build_deployment(registry, deployment_id: int) -> int:
    """Run the pending builds of a deployment (see the module docstring); how many ran."""
    settings = registry.settings
    ran = 0
    while True:
        lock = build_lock(settings, deployment_id)
        if not lock.acquire():
            log.info("deployment %s is being built; its pending flag is left", deployment_id)
            return ran
        try:
            while (plan := start(registry, deployment_id)) is not None:
                finish(registry, plan, publish(settings, plan, lock))
                ran += 1
        finally:
            lock.release()
        if not still_pending(registry, deployment_id):
            return ran


def live_path(settings, project_slug: str, pms_name: str, slug: str) -> str | None:
    pms = get_pms(pms_name)
    if pms is None:
        return None
    return pms.live_path(os.path.realpath(settings["migasfree.public_dir"]), project_slug, slug)
