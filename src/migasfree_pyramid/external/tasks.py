"""Weekly check of the external-source caches (spec B.12
``remove_orphan_files_from_external_deployments``).

For every non-frozen external deployment each cached file is asked for upstream with HEAD and
deleted when upstream answers 404 or a Content-Length different from the cached size. Other
answers (errors, timeouts, refusals) keep the file: an unreachable mirror must not empty the
cache. Frozen sources are left alone, as in the original. The same pass removes temporary files
left by crashed downloads and lock files nobody holds.

The original's beat entry is ``crontab(hour=1, minute=0, day_of_week=6)``: Saturday (its comment
says Sunday). Huey numbers days the same way (0 = Sunday), so 6 keeps Saturday.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field

from huey import crontab
from sqlalchemy import select

from ..models import Deployment, Project
from ..models.deployments import SOURCE_EXTERNAL
from ..tasks import huey
from ..tasks.runtime import task_request
from . import ProxySettings, Refused, UpstreamError, cache, open_url, upstream_url

log = logging.getLogger(__name__)


@dataclass
class OrphanReport:
    checked: int = 0
    deleted: list[str] = field(default_factory=list)
    kept_on_error: int = 0
    cleaned: int = 0


def is_orphan(url: str, size: int, cfg: ProxySettings) -> bool | None:
    """True when upstream no longer has the file as cached; None when upstream cannot tell."""
    try:
        upstream = open_url(url, "HEAD", cfg)
    except (Refused, UpstreamError) as error:
        log.info("orphan check of %s skipped: %s", url, error)
        return None
    upstream.close()
    if upstream.status == 404:
        return True
    if upstream.status != 200:
        return None
    length = upstream.header("Content-Length")
    try:
        return length is not None and int(length) != size
    except ValueError:
        return None


def load_sources(session) -> list[tuple[str, str, str | None]]:
    """``(project slug, deployment slug, base_url)`` of the non-frozen external deployments."""
    rows = session.execute(
        select(Project.slug, Deployment.slug, Deployment.base_url)
        .join(Project, Deployment.project_id == Project.id)
        .where(Deployment.source == SOURCE_EXTERNAL, Deployment.frozen.is_(False))
        .order_by(Deployment.id)
    ).all()
    return [tuple(row) for row in rows]


def remove_orphan_files(session, settings) -> OrphanReport:
    """Delete cached files of non-frozen external deployments that upstream no longer has."""
    return check_sources(load_sources(session), settings)


def check_sources(sources, settings) -> OrphanReport:
    """The network part of ``remove_orphan_files``, with no database transaction open."""
    cfg = ProxySettings.from_settings(settings)
    report = OrphanReport()
    for project_slug, slug, base_url in sources:
        root = cache.cache_root(cfg.public_dir, project_slug, slug)
        for resource, path, st in cache.iter_cached(root):
            report.checked += 1
            orphan = is_orphan(upstream_url(base_url, resource), st.st_size, cfg)
            if orphan is None:
                report.kept_on_error += 1
            elif orphan:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                report.deleted.append(path)
                log.info("removed %s: gone or changed upstream", path)
        report.cleaned += cache.clean_work_dir(root)
    return report


@huey.periodic_task(crontab(minute="0", hour="1", day_of_week="6"))
def remove_orphan_files_from_external_deployments() -> None:
    """The weekly run. The deployments are read in a short transaction of their own; the HEAD
    requests (possibly hours of them) run after it ended."""
    with task_request() as request:
        sources = load_sources(request.dbsession)
        settings = request.registry.settings
    report = check_sources(sources, settings)
    log.info(
        "external caches: %d files checked, %d deleted, %d kept on upstream errors",
        report.checked,
        len(report.deleted),
        report.kept_on_error,
    )
