"""The huey tasks of the repositories (imported by ``includeme``, so every worker has them).

Periodic tasks run in UTC (huey's default) and are idempotent, so that their hour does not need
to match the site's time zone: ``restart_deployments`` runs hourly and moves a date only once.
"""

from __future__ import annotations

import logging
import os

from huey import crontab
from sqlalchemy import select

from ..models import Deployment, Project
from ..models.deployments import SOURCE_INTERNAL
from ..pms.base import EXTERNAL_PATH
from ..tasks import huey
from ..tasks.runtime import bound_registry, task_request
from . import builds, layout, maintenance
from .locks import build_lock

log = logging.getLogger(__name__)


class RepositoryBusy(RuntimeError):
    """The deployment's build lock stayed taken; huey retries the task later."""


# Retries cover transient database errors; build failures are recorded, not raised.
@huey.task(retries=3, retry_delay=30)
def build_repository(deployment_id: int) -> None:
    """Run the pending builds of one deployment (``builds.build_deployment``)."""
    builds.build_deployment(bound_registry(), deployment_id)


# Waits for a running build of the deployment: retried for a while (see ``RepositoryBusy``);
# what is still left after that is removed by ``clean_repository_leftovers``.
@huey.task(retries=10, retry_delay=60)
def remove_repository(
    deployment_id: int, project_slug: str, pms_name: str, slug: str, source: str
) -> None:
    """Remove the repository published under ``slug`` (a rename or a deletion)."""
    remove_published(bound_registry(), deployment_id, project_slug, pms_name, slug, source)


def remove_published(registry, deployment_id, project_slug, pms_name, slug, source) -> bool:
    """The work of ``remove_repository``; False when there was nothing to remove.

    Waits for the deployment's build lock, so that a build still running under the old slug
    cannot publish it again after the removal.
    """
    settings = registry.settings
    public = os.path.realpath(settings["migasfree.public_dir"])
    if source != SOURCE_INTERNAL:
        cache = os.path.join(public, project_slug, EXTERNAL_PATH, slug)
        if not layout.inside(public, cache) or not os.path.lexists(cache):
            return False
        layout.remove_path(cache)
        return True
    live = builds.live_path(settings, project_slug, pms_name, slug)
    if live is None or not layout.inside(public, os.path.dirname(live)):
        return False
    lock = build_lock(settings, deployment_id)
    if not lock.acquire(timeout=30):
        raise RepositoryBusy(f"deployment {deployment_id} is being built")
    try:
        with task_request(registry) as request:
            # Renamed back, or the slug was taken by another internal deployment meanwhile.
            in_use = request.dbsession.scalar(
                select(Deployment.id)
                .join(Project, Deployment.project_id == Project.id)
                .where(
                    Project.slug == project_slug,
                    Deployment.slug == slug,
                    Deployment.source == SOURCE_INTERNAL,
                )
                .limit(1)
            )
        if in_use is not None:
            log.info("repository %s/%s is in use again; not removed", project_slug, slug)
            return False
        layout.remove_repository(live)
        return True
    finally:
        lock.release()


@huey.periodic_task(crontab(minute="*/5"))
def check_repositories() -> None:
    """Request the builds that never ran, failed a while ago or were interrupted."""
    maintenance.check_builds(bound_registry())


@huey.periodic_task(crontab(minute="40", hour="3"))
def clean_repository_leftovers() -> None:
    """Remove stages left by killed builds and by deployments that are gone."""
    maintenance.clean_leftovers(bound_registry())


@huey.periodic_task(crontab(minute="5"))
def restart_deployments() -> None:
    """Restart the rollouts of ``auto_restart`` deployments that ended."""
    maintenance.restart_deployments(bound_registry())
