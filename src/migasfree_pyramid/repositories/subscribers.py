"""What starts builds and removals: the events of the packages and deployments modules.

The events are notified inside the request's transaction. Subscribers write the pending flags
in that same transaction (they commit or roll back with the change that caused them) and queue
the tasks with ``request.enqueue``, which waits for the commit.
"""

from __future__ import annotations

import zope.sqlalchemy
from sqlalchemy import select

from ..core_api.deployments import DeploymentRemoved, RepositoryRebuildRequested
from ..core_api.packages import PackagesChanged
from ..models import Deployment, Project
from . import builds

ENQUEUED_KEY = "migasfree.repositories.enqueued"


def request_builds(request, deployment_ids) -> list[int]:
    """Ask for the repositories of ``deployment_ids`` to be rebuilt (those that are built).

    One task per deployment and transaction, however many events name it.
    """
    from .tasks import build_repository

    ids = builds.buildable(request.dbsession, deployment_ids)
    if ids:
        builds.mark_requested(request.dbsession, ids)
        # A Core statement: without this mark a request that changed nothing else (the
        # ``metadata/`` action) would roll the flag back as a read-only transaction.
        zope.sqlalchemy.mark_changed(request.dbsession, transaction_manager=request.tm)
    queued = request.environ.setdefault(ENQUEUED_KEY, set())
    for pk in ids:
        key = (id(request.tm.get()), pk)
        if key not in queued:
            queued.add(key)
            request.enqueue(build_repository, pk)
    return ids


def request_removal(request, deployment_id, project_slug, slug, source, pms=None) -> None:
    """Remove a repository (or an external source's cache) once the transaction commits."""
    from .tasks import remove_repository

    if pms is None:
        pms = request.dbsession.scalar(select(Project.pms).where(Project.slug == project_slug))
    if pms is not None:
        request.enqueue(remove_repository, deployment_id, project_slug, pms, slug, source)


def on_packages_changed(event: PackagesChanged) -> None:
    request_builds(event.request, event.deployment_ids)


def on_rebuild_requested(event: RepositoryRebuildRequested) -> None:
    request = event.request
    request_builds(request, [event.deployment_id])
    if event.old_slug:
        deployment = request.dbsession.get(Deployment, event.deployment_id)
        if deployment is not None:
            project = deployment.project
            request_removal(
                request,
                deployment.id,
                project.slug,
                event.old_slug,
                deployment.source,
                pms=project.pms,
            )


def on_deployment_removed(event: DeploymentRemoved) -> None:
    request_removal(
        event.request, event.deployment_id, event.project_slug, event.slug, event.source
    )


def includeme(config) -> None:
    config.add_subscriber(on_packages_changed, PackagesChanged)
    config.add_subscriber(on_rebuild_requested, RepositoryRebuildRequested)
    config.add_subscriber(on_deployment_removed, DeploymentRemoved)
