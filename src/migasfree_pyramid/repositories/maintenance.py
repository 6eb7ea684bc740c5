"""Periodic work on repositories and deployments (repositories.md 4), callable directly.

- ``check_builds``: builds that never ran (e.g. deployments imported from the original), that
  failed a while ago, or whose worker died (state "building" or a pending flag, lock free) are
  requested again. This also recovers a task lost with a queue that was flushed.
- ``clean_leftovers``: stages of killed builds and of deployments that no longer exist.
- ``restart_deployments``: ``auto_restart`` deployments whose rollout ended start again
  (``domain.matching.auto_restart_date``; the original's ``update_deployment_start_date``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections import defaultdict

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from ..domain.matching import DelayRule, auto_restart_date
from ..models import Deployment, DeploymentBuild, Project, Schedule
from ..models.builds import BUILDING, FAILED, QUEUED
from ..models.deployments import SOURCE_INTERNAL
from ..models.meta import utcnow
from ..services.clock import today as local_today
from ..tasks.runtime import task_request
from . import builds, layout
from .locks import build_lock
from .subscribers import request_builds

log = logging.getLogger(__name__)

INTERRUPTED = "The build was interrupted (its worker stopped)."
ORPHAN_AGE = 3600  # seconds: an unknown stage this old belongs to no running build


def check_builds(registry) -> list[int]:
    """Request the builds that should run and would not otherwise; returns their ids."""
    settings = registry.settings
    retry_after = dt.timedelta(minutes=int(settings.get("repositories.retry_failed_minutes", 60)))
    with task_request(registry) as request:
        session = request.dbsession
        rows = session.execute(
            select(
                Deployment.id,
                Project.pms,
                DeploymentBuild.state,
                DeploymentBuild.pending,
                DeploymentBuild.started_at,
                DeploymentBuild.finished_at,
            )
            .join(Project, Deployment.project_id == Project.id)
            .outerjoin(DeploymentBuild, DeploymentBuild.deployment_id == Deployment.id)
            .where(Deployment.source == SOURCE_INTERNAL)
        ).all()
        now = utcnow()
        wanted = []
        for pk, pms, state, pending, started, finished in rows:
            if builds.builder(pms) is None:
                continue
            if state is None:
                wanted.append(pk)  # never built
            elif state == FAILED and not pending:
                if finished is None or now - finished >= retry_after:
                    wanted.append(pk)
            elif (state in (BUILDING, QUEUED) or pending) and not build_lock(settings, pk).busy():
                if state == BUILDING:
                    # Only if it is still the build we saw: it may have just finished.
                    session.execute(
                        update(DeploymentBuild)
                        .where(
                            DeploymentBuild.deployment_id == pk,
                            DeploymentBuild.state == BUILDING,
                            DeploymentBuild.started_at == started,
                        )
                        .values(last_error=INTERRUPTED)
                    )
                wanted.append(pk)
        return request_builds(request, wanted)


def clean_leftovers(registry) -> int:
    """Remove stale stages; returns how many entries were removed."""
    settings = registry.settings
    public = os.path.realpath(settings["migasfree.public_dir"])
    with task_request(registry) as request:
        rows = request.dbsession.execute(
            select(Deployment.id, Deployment.slug, Project.slug, Project.pms)
            .join(Project, Deployment.project_id == Project.id)
            .where(Deployment.source == SOURCE_INTERNAL)
        ).all()
    removed = 0
    known: dict[str, set[str]] = defaultdict(set)  # parent directory -> live names
    for pk, slug, project_slug, pms_name in rows:
        live = builds.live_path(settings, project_slug, pms_name, slug)
        if live is None:
            continue
        known[os.path.dirname(live)].add(slug)
        lock = build_lock(settings, pk)
        if lock.acquire():
            try:
                removed += len(layout.remove_leftovers(live, keep=layout.current_build(live)))
            finally:
                lock.release()
    # Stages named after no internal deployment (deleted, renamed): only old ones, since a
    # deployment created a moment ago may be building its first stage.
    for parent, slugs in known.items():
        removed += remove_orphans(parent, slugs, public)
    return removed


def remove_orphans(parent: str, slugs: set[str], public: str) -> int:
    """Remove what builds left in ``parent`` for names that are no internal deployment's
    ``slugs`` (a removal task that never ran), when older than an hour: live symlinks to one
    of our build directories, then stages no remaining symlink serves. A real directory (a
    repository imported from the original) is never touched."""
    if not layout.inside(public, parent):
        return 0
    try:
        names = os.listdir(parent)
    except FileNotFoundError:
        return 0
    now = time.time()

    def old(path: str) -> bool:
        try:
            return now - os.lstat(path).st_mtime > ORPHAN_AGE
        except FileNotFoundError:
            return False

    removed = 0
    served = set()
    for name in names:
        path = os.path.join(parent, name)
        target = None if name.startswith(".") else layout.current_build(path)
        if target is None:
            continue
        if name not in slugs and layout.is_sibling(path, target) and old(path):
            layout.remove_path(path)
            removed += 1
        else:
            served.add(target)
    for name in names:
        owner = name[1:].split(".", 1)[0] if name.startswith(".") else None
        if not owner or owner in slugs or name in served:
            continue
        path = os.path.join(parent, name)
        if layout.is_sibling(os.path.join(parent, owner), name) and old(path):
            layout.remove_path(path)
            removed += 1
    return removed


def restart_deployments(registry, today: dt.date | None = None) -> list[int]:
    """Move the start date of ended ``auto_restart`` rollouts; returns the deployments moved."""
    today = today or local_today(registry.settings)
    moved = []
    with task_request(registry) as request:
        deployments = request.dbsession.scalars(
            select(Deployment)
            .where(Deployment.auto_restart.is_(True), Deployment.schedule_id.is_not(None))
            .options(selectinload(Deployment.schedule).selectinload(Schedule.delays))
            .order_by(Deployment.id)
        )
        for deployment in deployments:
            delays = [DelayRule(d.delay, d.duration) for d in deployment.schedule.delays]
            start = auto_restart_date(deployment.start_date, delays, today)
            if start is not None and start != deployment.start_date:
                log.info("deployment %s restarts on %s", deployment.id, start)
                deployment.start_date = start
                moved.append(deployment.id)
    return moved
